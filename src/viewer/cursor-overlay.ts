/**
 * The guest cursor as an overlay image for the presenter (BGRA, straight alpha), drawn over the
 * frame at present time instead of into it.
 *
 * KVMFR cursors come in three kinds. Colour cursors are BGRA with alpha already: the shape's own
 * pixels are the overlay, no copy. Monochrome (AND/XOR masks) and masked-colour cursors mostly
 * map to opaque or transparent texels too, but some of their pixels invert or XOR the screen
 * under them, which no blend mode of SDL's software renderer can do: for those shapes the
 * overlay is recomputed from the frame pixels under the cursor whenever the frame or the cursor
 * position changes (at most 256x256 pixels).
 */
import type { CursorShape } from '../kvmfr/cursor.js';
import type { OverlayImage } from './native-presenter.js';
import { channelOrder, type SdlFormat } from './pixel-format.js';

/** A cursor shape as KVMFR sends it (colour, masked colour, or 1-bpp AND+XOR masks), with its pixels. */
export type CursorImage = Omit<CursorShape, 'dataOffset' | 'dataBytes'> & { pixels: Buffer };

/** The frame the cursor is over, for shapes whose pixels depend on it. */
export interface FramePixels {
  data: Uint8Array;
  width: number;
  height: number;
  stride: number;
  format: SdlFormat;
}

/** How one texel of a shape is made: a fixed BGRA value, or from the screen pixel under it. */
const enum Op {
  Fixed = 0,
  /** Monochrome AND=1, XOR=1: 255 - screen. */
  Invert = 1,
  /** Masked colour with mask 0xff: screen XOR the shape's colour. */
  Xor = 2,
}

/**
 * Turns the guest's cursor shape into an overlay image (see the module comment). Main thread only.
 * The shape comes from readCursor (size ≤ 512x512, pixels bounded by its pitch); a colour
 * shape's pixels are used without a copy, so the caller must not change them after setShape().
 * The image returned by `current` is the overlay's own: valid until the next setShape() or
 * update().
 */
export class CursorOverlay {
  private shape: CursorImage | null = null;
  private image: OverlayImage | null = null;
  /** Per texel: Op, for shapes with screen-dependent texels; null when every texel is fixed. */
  private ops: Uint8Array | null = null;
  /** The shape's colours (BGRA) for the XOR texels. */
  private xorColours: Uint8Array | null = null;

  /** A new shape (or null: none); `current` is then a new image object. */
  setShape(shape: CursorImage | null): void {
    this.shape = shape;
    this.ops = null;
    this.xorColours = null;
    if (!shape || shape.width < 1) {
      this.image = null;
      return;
    }
    const w = shape.width;
    const h = shape.type === 'monochrome' ? shape.height >> 1 : shape.height;
    if (h < 1) {
      this.image = null;
      return;
    }
    if (shape.type === 'color') {
      this.image = { pixels: shape.pixels, width: w, height: h, stride: shape.pitch, order: 'bgra' };
      return;
    }
    const out = Buffer.alloc(w * h * 4);
    const ops = new Uint8Array(w * h);
    const xor = new Uint8Array(w * h * 4);
    let dependent = false;
    const src = shape.pixels;
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const o = (y * w + x) * 4;
        if (shape.type === 'monochrome') {
          const bit = 0x80 >> (x & 7);
          const and = src[y * shape.pitch + (x >> 3)]! & bit;
          const xr = src[(y + h) * shape.pitch + (x >> 3)]! & bit;
          if (and && xr) {
            ops[y * w + x] = Op.Invert;
            dependent = true;
          } else if (!and) {
            const v = xr ? 255 : 0;
            out.set([v, v, v, 255], o);
          } // and && !xor: transparent (zeros)
          continue;
        }
        const s = y * shape.pitch + x * 4;
        const [b, g, r, mask] = [src[s]!, src[s + 1]!, src[s + 2]!, src[s + 3]!];
        if (!mask) out.set([b, g, r, 255], o); // replaces the screen pixel
        else if (b | g | r) {
          ops[y * w + x] = Op.Xor; // XOR with 0 leaves the screen as it is: transparent
          xor.set([b, g, r, 0], o);
          dependent = true;
        }
      }
    }
    this.image = { pixels: out, width: w, height: h, order: 'bgra' };
    if (dependent) {
      this.ops = ops;
      this.xorColours = xor;
    }
  }

  /** The overlay image for the current shape; null without one. */
  get current(): OverlayImage | null {
    return this.image;
  }

  /** True when the overlay depends on the frame under it (recompute with update() on a new frame or position). */
  get dependsOnFrame(): boolean {
    return this.ops !== null;
  }

  /**
   * Top-left corner of the overlay for a cursor message's position (x, y). KVMFR's position is the
   * shape's top-left corner already, not its hotspot: B7's Windows host sends DXGI's pointer
   * position (the shape's corner), its XCB host the pointer less the hotspot, and B7's client
   * draws the shape at the position and takes position + hotspot as where the pointer points.
   */
  origin(x: number, y: number): { x: number; y: number } {
    return { x, y };
  }

  /**
   * Recomputes the screen-dependent texels from `frame` with the cursor message's position at (x, y);
   * texels outside the frame are left transparent. No-op for shapes without such texels.
   */
  update(frame: FramePixels, x: number, y: number): void {
    const ops = this.ops;
    const img = this.image;
    const xor = this.xorColours;
    if (!ops || !img || !xor) return;
    const { x: left, y: top } = this.origin(x, y);
    const bpp = frame.format === 'bgr24' || frame.format === 'rgb24' ? 3 : 4;
    const { r: R, g: G, b: B } = channelOrder(frame.format);
    const out = img.pixels;
    for (let ty = 0; ty < img.height; ty++) {
      const fy = top + ty;
      for (let tx = 0; tx < img.width; tx++) {
        const op = ops[ty * img.width + tx]!;
        if (op === Op.Fixed) continue;
        const o = (ty * img.width + tx) * 4;
        const fx = left + tx;
        if (fx < 0 || fy < 0 || fx >= frame.width || fy >= frame.height) {
          out[o + 3] = 0;
          continue;
        }
        const d = fy * frame.stride + fx * bpp;
        const [sb, sg, sr] = [frame.data[d + B]!, frame.data[d + G]!, frame.data[d + R]!];
        if (op === Op.Invert) out.set([255 - sb, 255 - sg, 255 - sr, 255], o);
        else out.set([sb ^ xor[o]!, sg ^ xor[o + 1]!, sr ^ xor[o + 2]!, 255], o);
      }
    }
  }
}
