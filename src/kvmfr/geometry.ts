/**
 * The pixel geometry of a frame: how many pixels wide and high it is, how many bytes each pixel
 * takes and how far apart rows are. One function for the validator (readFrame) and for everyone
 * who reads the pixels (viewer, screenshots), so that a frame that passes validation can never
 * make a reader step outside its buffer.
 *
 * The 32-bit formats have one pixel per texel: `dataWidth` pixels. The 24-bit layouts of B7
 * (BGR_32: 3-byte pixels packed into 32-bit texels; RGB_24: 3-byte texels) carry `frameWidth`
 * pixels of 3 bytes in each row.
 */
import type { FormatInfo } from './formats.js';

/**
 * The layout of a frame's pixel rows (see the module comment). `bytes` ≤ `stride` × `height`, so
 * a buffer of pitch × dataHeight bytes (what readFrame bounds) always holds every row.
 */
export interface PixelGeometry {
  /** Pixels per row and rows. */
  width: number;
  height: number;
  /** Bytes per pixel as the rows hold them. */
  bytesPerPixel: 3 | 4 | 8;
  /** Bytes from one row to the next (the frame's pitch). */
  stride: number;
  /** Bytes the pixel rows need: stride * (height - 1) + width * bytesPerPixel, at most stride * height. */
  bytes: number;
}

/** The KVMFRFrame fields pixelGeometry() needs: sizes in texels/pixels, `pitch` in bytes per row. */
export interface GeometryFields {
  dataWidth: number;
  dataHeight: number;
  frameWidth: number;
  pitch: number;
}

/** The geometry of `f`'s pixels, or why it is impossible (a row that does not fit its pitch). */
export function pixelGeometry(format: FormatInfo, f: GeometryFields): PixelGeometry | string {
  const packed24 = format.name === 'BGR_32' || format.name === 'RGB_24';
  const width = packed24 ? f.frameWidth : f.dataWidth;
  const bytesPerPixel = packed24 ? 3 : format.texelBytes === 8 ? 8 : 4;
  const texelRow = f.dataWidth * format.texelBytes;
  if (f.pitch < texelRow) return `pitch ${f.pitch} bytes for ${f.dataWidth} ${format.name} texels (at least ${texelRow})`;
  if (f.pitch < width * bytesPerPixel) return `pitch ${f.pitch} bytes for ${width} ${format.name} pixels of ${bytesPerPixel} bytes (at least ${width * bytesPerPixel})`;
  if (packed24 && format.name === 'BGR_32' && width * 3 > texelRow) {
    return `${width} BGR_32 pixels do not fit in ${f.dataWidth} 32-bit texels`;
  }
  return { width, height: f.dataHeight, bytesPerPixel, stride: f.pitch, bytes: f.pitch * (f.dataHeight - 1) + width * bytesPerPixel };
}
