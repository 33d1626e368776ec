/**
 * Draws the guest cursor and the on-screen display into the frame buffer the relay lent us,
 * keeping what was underneath (save-under) so they can move without a new guest frame: restore(),
 * then draw again. Only the few thousand pixels under the cursor and the OSD are touched; the
 * frame itself is never copied.
 */
import type { SdlFormat } from './pixel-format.js';
import type { CursorShape } from '../kvmfr/cursor.js';
import { channelOrder } from './pixel-format.js';

/** A cursor shape as KVMFR sends it (colour, masked colour, or 1-bpp AND+XOR masks), with its pixels. */
export type CursorImage = Omit<CursorShape, 'dataOffset' | 'dataBytes'> & { pixels: Buffer };

/** An opaque panel in the frame's own pixel format (e.g. the OSD, converted once per change). */
export interface Panel {
  width: number;
  height: number;
  /** width * bpp bytes per row, already in the frame's byte order. */
  pixels: Buffer;
}

interface Saved {
  x: number;
  y: number;
  w: number;
  h: number;
  data: Buffer;
}

export class FrameCompositor {
  private buf: Buffer | null = null;
  private width = 0;
  private height = 0;
  private stride = 0;
  private bpp = 4;
  private order = channelOrder('bgra32');
  private saved: Saved[] = [];
  private readonly pool: Buffer[] = [];

  /** A new frame: nothing of it has been drawn over yet. */
  attach(buf: Buffer, width: number, height: number, stride: number, format: SdlFormat): void {
    this.recycle();
    const bpp = format === 'bgr24' || format === 'rgb24' ? 3 : 4;
    if (buf.length < stride * height || stride < width * bpp) {
      throw new RangeError(`frame buffer of ${buf.length} bytes does not hold ${width}x${height} pixels with stride ${stride}`);
    }
    this.buf = buf;
    this.width = width;
    this.height = height;
    this.stride = stride;
    this.bpp = bpp;
    this.order = channelOrder(format);
  }

  detach(): void {
    this.recycle();
    this.buf = null;
  }

  /** Puts back every pixel drawn over since attach() or the last restore(). */
  restore(): void {
    const buf = this.buf;
    if (!buf) return;
    for (let i = this.saved.length - 1; i >= 0; i--) {
      const s = this.saved[i]!;
      const row = s.w * this.bpp;
      for (let y = 0; y < s.h; y++) s.data.copy(buf, (s.y + y) * this.stride + s.x * this.bpp, y * row, (y + 1) * row);
    }
    this.recycle();
  }

  private recycle(): void {
    for (const s of this.saved) this.pool.push(s.data);
    this.saved = [];
  }

  /** Clips a rectangle to the frame and saves what is under it; null when nothing is visible. */
  private save(x: number, y: number, w: number, h: number): { x0: number; y0: number; x1: number; y1: number } | null {
    const buf = this.buf;
    if (!buf) return null;
    const x0 = Math.max(0, x);
    const y0 = Math.max(0, y);
    const x1 = Math.min(this.width, x + w);
    const y1 = Math.min(this.height, y + h);
    if (x1 <= x0 || y1 <= y0) return null;
    const row = (x1 - x0) * this.bpp;
    const need = row * (y1 - y0);
    let data = this.pool.pop();
    if (!data || data.length < need) data = Buffer.allocUnsafe(Math.max(need, 64 * 64 * 4));
    for (let yy = y0; yy < y1; yy++) buf.copy(data, (yy - y0) * row, yy * this.stride + x0 * this.bpp, yy * this.stride + x1 * this.bpp);
    this.saved.push({ x: x0, y: y0, w: x1 - x0, h: y1 - y0, data });
    return { x0, y0, x1, y1 };
  }

  /** Copies an opaque panel to (x, y). */
  drawPanel(p: Panel, x: number, y: number): void {
    const c = this.save(x, y, p.width, p.height);
    if (!c) return;
    const buf = this.buf!;
    const row = p.width * this.bpp;
    for (let yy = c.y0; yy < c.y1; yy++) {
      const src = (yy - y) * row + (c.x0 - x) * this.bpp;
      p.pixels.copy(buf, yy * this.stride + c.x0 * this.bpp, src, src + (c.x1 - c.x0) * this.bpp);
    }
  }

  /** Draws the cursor with its hotspot at guest position (x, y). */
  drawCursor(img: CursorImage, x: number, y: number): void {
    const visibleH = img.type === 'monochrome' ? img.height >> 1 : img.height;
    const left = x - img.hotX;
    const top = y - img.hotY;
    const c = this.save(left, top, img.width, visibleH);
    if (!c) return;
    const buf = this.buf!;
    const { r: R, g: G, b: B } = this.order;
    const bpp = this.bpp;
    const src = img.pixels;
    for (let yy = c.y0; yy < c.y1; yy++) {
      const sy = yy - top;
      for (let xx = c.x0; xx < c.x1; xx++) {
        const sx = xx - left;
        const d = yy * this.stride + xx * bpp;
        if (img.type === 'monochrome') {
          const bit = 0x80 >> (sx & 7);
          const and = src[sy * img.pitch + (sx >> 3)]! & bit;
          const xor = src[(sy + visibleH) * img.pitch + (sx >> 3)]! & bit;
          if (and && !xor) continue; // transparent
          for (const ch of [R, G, B]) buf[d + ch] = and ? 255 - buf[d + ch]! : xor ? 255 : 0;
          continue;
        }
        const s = sy * img.pitch + sx * 4; // BGRA
        const sb = src[s]!;
        const sg = src[s + 1]!;
        const sr = src[s + 2]!;
        const a = src[s + 3]!;
        if (img.type === 'masked-color') {
          // Alpha is a mask: 0 replaces the screen pixel, 0xff XORs it.
          buf[d + R] = a ? buf[d + R]! ^ sr : sr;
          buf[d + G] = a ? buf[d + G]! ^ sg : sg;
          buf[d + B] = a ? buf[d + B]! ^ sb : sb;
        } else if (a === 255) {
          buf[d + R] = sr;
          buf[d + G] = sg;
          buf[d + B] = sb;
        } else if (a) {
          buf[d + R] = (sr * a + buf[d + R]! * (255 - a)) / 255;
          buf[d + G] = (sg * a + buf[d + G]! * (255 - a)) / 255;
          buf[d + B] = (sb * a + buf[d + B]! * (255 - a)) / 255;
        }
      }
    }
  }
}
