/** Converting small RGBA images (OSD panels, test-scene overlays) into a frame's pixel layout. */
export interface PixelLayout {
  bytesPerPixel: 3 | 4;
  /** Byte offsets of R, G and B inside a pixel. */
  r: number;
  g: number;
  b: number;
}

/** The layout of KVMFR BGRA (and the viewer's default texture): B, G, R, A bytes. */
export const BGRA: PixelLayout = { bytesPerPixel: 4, r: 2, g: 1, b: 0 };
/** The layout of KVMFR RGBA: R, G, B, A bytes. */
export const RGBA: PixelLayout = { bytesPerPixel: 4, r: 0, g: 1, b: 2 };

/**
 * RGBA pixels (e.g. a canvas' ImageData) → `layout`, alpha set opaque. Reads the first `pixels`
 * × 4 bytes of `rgba` (the caller makes sure they exist; missing ones read as 0) and returns a
 * new, tightly packed buffer of `pixels` × bytesPerPixel bytes that the caller owns.
 */
export function convertRgba(rgba: Uint8ClampedArray | Uint8Array, pixels: number, layout: PixelLayout): Buffer {
  const bpp = layout.bytesPerPixel;
  const out = Buffer.alloc(pixels * bpp);
  for (let i = 0, o = 0; i < pixels * 4; i += 4, o += bpp) {
    out[o + layout.r] = rgba[i]!;
    out[o + layout.g] = rgba[i + 1]!;
    out[o + layout.b] = rgba[i + 2]!;
    if (bpp === 4) out[o + 3] = 255;
  }
  return out;
}
