/**
 * Screenshots of an X display for window tests: runs `xwd -root` and parses its ZPixmap output
 * (24/32-bit TrueColor, what Xvfb gives), so tests can read pixels at window coordinates.
 */
import { execFileSync } from 'node:child_process';

export interface XImage {
  width: number;
  height: number;
  /** [r, g, b] at (x, y). */
  rgb(x: number, y: number): [number, number, number];
}

export function parseXwd(d: Buffer): XImage {
  const u32 = (i: number) => d.readUInt32BE(i * 4);
  const headerSize = u32(0);
  const format = u32(2);
  if (format !== 2) throw new Error(`xwd: only ZPixmap is supported (format ${format})`);
  const width = u32(4);
  const height = u32(5);
  const byteOrder = u32(7); // 0 LSBFirst
  const bitsPerPixel = u32(11);
  const bytesPerLine = u32(12);
  const redMask = u32(14);
  const ncolors = u32(19);
  if (bitsPerPixel !== 32 && bitsPerPixel !== 24) throw new Error(`xwd: ${bitsPerPixel} bits per pixel not supported`);
  const data = headerSize + ncolors * 12;
  const bpp = bitsPerPixel / 8;
  return {
    width,
    height,
    rgb(x, y) {
      const o = data + y * bytesPerLine + x * bpp;
      const v = byteOrder === 0 ? d.readUIntLE(o, 3) : d.readUIntBE(o + (bpp - 3), 3);
      const px = redMask === 0xff0000 ? [(v >> 16) & 255, (v >> 8) & 255, v & 255] : [v & 255, (v >> 8) & 255, (v >> 16) & 255];
      return px as [number, number, number];
    },
  };
}

export function screenshot(display: string): XImage {
  return parseXwd(execFileSync('xwd', ['-root', '-silent', '-display', display], { maxBuffer: 256 << 20 }));
}
