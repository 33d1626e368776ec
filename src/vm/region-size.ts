/**
 * Size of the IVSHMEM region for a resolution, by the Looking Glass B7 rule: two frames of
 * width × height × 4 bytes (× 2 again for HDR), plus 10 MiB for the LGMP queues and the cursor,
 * rounded up to a power of two MiB (IVSHMEM BAR sizes must be powers of two).
 * 1920×1080 → 32 MiB, 2560×1440 → 64 MiB, 3840×2160 → 128 MiB.
 */
import { regionSizeMiB } from '../kvmfr/sizing.js';

/** Bytes in a MiB. */
export const MiB = 1024 * 1024;

/** The rule itself lives with the KVMFR format (src/kvmfr/sizing.ts); this gives bytes. */
export function regionBytesFor(width: number, height: number, hdr = false): number {
  return regionSizeMiB(width, height, hdr) * MiB;
}

/** "64M", "1G", "512MiB", "16GB" → bytes (binary units). Null when the text is not a size. */
export function parseSize(text: string): number | null {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([KMGT]?)(?:i?B)?\s*$/i.exec(text);
  if (!m) return null;
  const mult = { '': 1, K: 1024, M: MiB, G: 1024 * MiB, T: 1024 * 1024 * MiB }[m[2].toUpperCase() as '' | 'K' | 'M' | 'G' | 'T'];
  const v = Number(m[1]) * mult;
  return Number.isInteger(v) ? v : null;
}

/** Bytes → QEMU's compact size ("64M", "16G"), the largest unit that divides exactly. */
export function formatSize(bytes: number): string {
  for (const [unit, mult] of [['T', 1024 ** 4], ['G', 1024 ** 3], ['M', MiB], ['K', 1024]] as const) {
    if (bytes % mult === 0) return `${bytes / mult}${unit}`;
  }
  return String(bytes);
}
