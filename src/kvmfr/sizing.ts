/**
 * The Looking Glass B7 region sizing rule: W*H*bpp*2 bytes (two frame buffers) in MiB, plus 10 MiB
 * for the header, cursor buffers and slack, rounded up to a power of two.
 * 1920x1080 → 32 MiB, 2560x1440 → 64 MiB, 3840x2160 → 128 MiB. See docs/protocol.md#sizing.
 */
export function regionSizeMiB(width: number, height: number, hdr = false): number {
  const bpp = hdr ? 8 : 4;
  const mib = (width * height * bpp * 2) / (1024 * 1024) + 10;
  let size = 1;
  while (size < mib) size *= 2;
  return size;
}
