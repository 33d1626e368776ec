/**
 * The X cursor as a KVMFR colour cursor. XFixes gives the displayed cursor as ARGB words with the
 * colour premultiplied by alpha; KVMFR's colour cursor (as Windows' DXGI gives it to B7) is BGRA
 * with straight alpha. The position a KVMFR cursor message carries is the shape's top-left corner
 * on the screen (B7: the DXGI pointer position; its XCB capture subtracts the hotspot the same
 * way), and the hotspot (`hx`, `hy`, an int8 each) is where the click lands within the shape.
 */
import type { Region } from '../src/region.js';
import type { Allocation } from '../src/lgmp/producer.js';
import type { X11CursorImage } from '../src/native.js';
import { writeCursor } from '../src/kvmfr/cursor.js';
import { CURSOR, CursorType, KVMFR } from '../src/kvmfr/layout.js';

/** A cursor shape ready for a shape buffer: `pixels` BGRA, straight alpha, `width` × 4 bytes a row. */
export interface CursorShapeImage {
  width: number;
  height: number;
  /** Hotspot inside the shape, clamped to the int8 KVMFR carries. */
  hotX: number;
  hotY: number;
  pixels: Buffer;
}

const clampI8 = (v: number) => Math.max(-128, Math.min(127, v));

/**
 * `img` as a KVMFR colour shape: cut to 512 x 512 (KVMFR's largest), un-premultiplied. The image's
 * word count is trusted only up to width × height (missing words read as transparent).
 */
export function cursorShape(img: X11CursorImage): CursorShapeImage {
  const width = Math.min(img.width, KVMFR.MAX_CURSOR_DIM);
  const height = Math.min(img.height, KVMFR.MAX_CURSOR_DIM);
  const pixels = Buffer.alloc(width * height * 4);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const argb = img.pixels[y * img.width + x] ?? 0;
      const a = argb >>> 24;
      if (a === 0) continue;
      const un = (c: number) => Math.min(255, Math.round((c * 255) / a));
      const o = (y * width + x) * 4;
      pixels[o] = un(argb & 0xff);
      pixels[o + 1] = un((argb >>> 8) & 0xff);
      pixels[o + 2] = un((argb >>> 16) & 0xff);
      pixels[o + 3] = a;
    }
  }
  return { width, height, hotX: clampI8(img.hotX), hotY: clampI8(img.hotY), pixels };
}

/**
 * The X pointer as the capture last told consumers about it: its shape (null until the first
 * image), XFixes' serial of that shape, where its hotspot is on the screen and whether it is on
 * this screen at all.
 */
export class PointerState {
  shape: CursorShapeImage | null = null;
  serial = -1;
  hot = { x: 0, y: 0 };
  visible = true;

  /** The KVMFR position: the shape's top-left corner. */
  topLeft(): { x: number; y: number } {
    return cursorTopLeft(this.hot.x, this.hot.y, this.shape);
  }

  /** A cursor image from XFixes: takes its position, and its shape when that is new (then true). */
  takeImage(img: X11CursorImage): boolean {
    this.hot = { x: img.x, y: img.y };
    if (img.serial === this.serial && this.shape) return false;
    this.serial = img.serial;
    this.shape = cursorShape(img);
    return true;
  }

  /** The pointer was found at `p`: true when that is news (it moved, or left or entered the screen). */
  moveTo(p: { x: number; y: number; onScreen: boolean }): boolean {
    if (p.x === this.hot.x && p.y === this.hot.y && p.onScreen === this.visible) return false;
    this.hot = { x: p.x, y: p.y };
    this.visible = p.onScreen;
    return true;
  }

  /** Draws the shape (struct and pixels, at the current position) into shape buffer `slot`; nothing without a shape. */
  writeShape(region: Region, slot: Allocation): void {
    if (this.shape) writeCursorShape(region, slot, this.shape, this.topLeft());
  }
}

/** The KVMFR position of a cursor whose hotspot is at screen (`x`, `y`): the shape's top-left corner. */
export function cursorTopLeft(x: number, y: number, shape: Pick<CursorShapeImage, 'hotX' | 'hotY'> | null): { x: number; y: number } {
  return { x: x - (shape?.hotX ?? 0), y: y - (shape?.hotY ?? 0) };
}

/**
 * Writes `shape` (struct and pixels) at `pos` into the shape buffer `slot` of `region`. The slot
 * must hold CURSOR.SIZE + 512 × 512 × 4 bytes (b7-session.ts allocates them so).
 */
export function writeCursorShape(region: Region, slot: Allocation, shape: CursorShapeImage, pos: { x: number; y: number }): void {
  const pitch = shape.width * 4;
  writeCursor(new DataView(region.buffer), slot.offset, pos, { type: CursorType.COLOR, width: shape.width, height: shape.height, pitch, hotX: shape.hotX, hotY: shape.hotY });
  new Uint8Array(region.buffer, slot.offset + CURSOR.SIZE, shape.pixels.length).set(shape.pixels);
}
