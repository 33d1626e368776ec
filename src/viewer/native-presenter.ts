/**
 * Presents guest frames in an SDL window with textures that persist between frames (the addon's
 * Presenter, native/sdl_present.h), instead of @kmamal/sdl's window.render(), which makes, fills
 * and destroys a texture for every call:
 *  - the frame lives in one streaming texture; setFrame() uploads only the rectangles it is told
 *    changed (a full upload when the texture is new: first frame, new size or format, or a
 *    renderer the binding recreated);
 *  - overlays (cursor, OSD, help) are small textures blended over the frame by present(), so they
 *    move without a new frame and never touch it: the guest cursor placed in frame pixels and
 *    scaled (and turned) with the frame, the OSD, help and messages in window pixels at 1:1, so
 *    they are as readable over a 4K guest in a small window as over a small guest fullscreen.
 *
 * Damage contract: setFrame(buffer, geometry, rects) must be given every rectangle that differs
 * between `buffer` and the last buffer given to setFrame. A caller that skips frames (a
 * latest-wins mailbox) must pass the union of the skipped frames' damage and the new one's, or
 * no rects (= all). `buffer` must stay valid and unchanged until the next setFrame() or close():
 * when the window's renderer is recreated the presenter uploads it again on its own.
 *
 * Every size, stride and rectangle is checked here against the buffer before the native call
 * (ERR_PRESENT_GEOMETRY, naming the values); the addon re-checks what could crash.
 */
import { isMainThread } from 'node:worker_threads';
import { native, type NativePresenterHandle } from '../native.js';
import { GlasspaneError } from '../errors.js';
import type { Rect } from './geometry.js';
import type { SdlFormat } from './pixel-format.js';

/**
 * A frame buffer's layout: `width` × `height` pixels, `stride` bytes per row, pixel format.
 * Checked by checkFrame() before every native call.
 */
export interface FrameGeometry {
  width: number;
  height: number;
  /** Bytes from one row to the next. */
  stride: number;
  format: SdlFormat;
}

/**
 * An overlay's pixels: `width` × `height` (each 1..4096) 4-byte pixels, `stride` bytes per row.
 * The presenter keeps a reference to `pixels` (it re-uploads them when the renderer is recreated),
 * so the caller must not change them while the slot shows them; give a new image instead.
 */
export interface OverlayImage {
  pixels: Uint8Array;
  width: number;
  height: number;
  /** Bytes per row (default width * 4). */
  stride?: number;
  /** Byte order of a pixel; alpha is straight (not premultiplied). */
  order: 'bgra' | 'rgba';
}

/** Where and whether overlay slot content is drawn (see NativePresenter.setOverlay). */
export interface OverlayPlacement {
  /**
   * Top-left corner: in frame pixels (may be partly outside the frame: it is cut at the edges),
   * or in window pixels with `space: 'window'` (cut at the window's edges).
   */
  x: number;
  y: number;
  visible: boolean;
  /** frame (default): scaled and turned with the frame; window: 1:1 in the window's pixels. */
  space?: 'frame' | 'window';
  /** New pixels; omitted = keep the image this slot has. */
  image?: OverlayImage;
}

/** How the frame is scaled to its destination: nearest neighbour (sharp, for integer scales) or linear. */
export type Scaling = 'nearest' | 'linear';

/** What the presenter learned about the window's renderer, for the OSD and the choice of renderer. */
export interface PresenterInfo {
  /** SDL's name for the renderer: software, opengl, opengles2, … */
  renderer: string;
  software: boolean;
  /** The frame texture's SDL format (chosen so that drawing it needs no conversion). */
  textureFormat: string;
  /** GL_RENDERER of an OpenGL renderer (e.g. "llvmpipe (LLVM 15…)"), else null. */
  glRenderer: string | null;
  /** Counts the renderers the presenter has worked on: it moves when the binding recreated the renderer. */
  generation: number;
}

/** Frame layouts and their code in the addon (native/sdl_present.h SrcFormat). */
const FRAME_FORMATS: Record<SdlFormat, { code: number; bpp: 3 | 4 }> = {
  bgra32: { code: 0, bpp: 4 },
  rgba32: { code: 1, bpp: 4 },
  bgr24: { code: 2, bpp: 3 },
  rgb24: { code: 3, bpp: 3 },
};
/** Largest frame width or height the presenter takes, in pixels (readFrame's bound too). */
export const MAX_FRAME_DIMENSION = 16384;
/** Largest overlay width or height, in pixels. */
export const MAX_OVERLAY_DIMENSION = 4096;
/** Overlay slots; drawn in slot order (higher on top). */
export const OVERLAY_SLOTS = 8;
/** More damage rectangles than this are uploaded as one whole frame. */
export const MAX_RECTS = 1024;

/** OpenGL implementations that rasterize on the CPU: SDL's own software renderer is cheaper. */
export function isSoftwareGl(glRenderer: string | null): boolean {
  return glRenderer !== null && /llvmpipe|softpipe|software rasterizer|swrast/i.test(glRenderer);
}

function bad(message: string): GlasspaneError {
  return new GlasspaneError('ERR_PRESENT_GEOMETRY', message, 'this is a bug in the caller of the presenter: report it with the message');
}

const isInt = (v: number, min: number, max: number) => Number.isInteger(v) && v >= min && v <= max;

/** Checks a frame buffer against its geometry; returns the format's code and bytes per pixel. */
export function checkFrame(buf: Uint8Array, g: FrameGeometry): { code: number; bpp: 3 | 4 } {
  const f = FRAME_FORMATS[g.format];
  if (!f) throw bad(`frame format "${String(g.format)}" (expected ${Object.keys(FRAME_FORMATS).join(', ')})`);
  if (!isInt(g.width, 1, MAX_FRAME_DIMENSION) || !isInt(g.height, 1, MAX_FRAME_DIMENSION)) {
    throw bad(`frame size ${g.width}x${g.height} (expected 1x1..${MAX_FRAME_DIMENSION}x${MAX_FRAME_DIMENSION})`);
  }
  if (!isInt(g.stride, g.width * f.bpp, MAX_FRAME_DIMENSION * 8)) throw bad(`stride ${g.stride} for ${g.width} ${g.format} pixels (at least ${g.width * f.bpp})`);
  const need = g.stride * (g.height - 1) + g.width * f.bpp;
  if (buf.length < need) throw bad(`a ${g.width}x${g.height} ${g.format} frame with stride ${g.stride} needs ${need} bytes; the buffer has ${buf.length}`);
  return f;
}

/** Damage rectangles as the addon takes them, after checking each lies inside the frame. null = all. */
export function packRects(rects: readonly Rect[] | undefined, width: number, height: number): Int32Array | null {
  if (!rects || rects.length > MAX_RECTS) return null;
  const out = new Int32Array(rects.length * 4);
  rects.forEach((r, i) => {
    if (!isInt(r.x, 0, width - 1) || !isInt(r.y, 0, height - 1) || !isInt(r.width, 1, width - r.x) || !isInt(r.height, 1, height - r.y)) {
      throw bad(`damage rectangle ${i} (${r.x},${r.y} ${r.width}x${r.height}) is not inside the ${width}x${height} frame`);
    }
    out.set([r.x, r.y, r.width, r.height], i * 4);
  });
  return out;
}

function checkOverlay(img: OverlayImage): number {
  const stride = img.stride ?? img.width * 4;
  if (!isInt(img.width, 1, MAX_OVERLAY_DIMENSION) || !isInt(img.height, 1, MAX_OVERLAY_DIMENSION)) {
    throw bad(`overlay size ${img.width}x${img.height} (expected 1x1..${MAX_OVERLAY_DIMENSION}x${MAX_OVERLAY_DIMENSION})`);
  }
  if (!isInt(stride, img.width * 4, MAX_OVERLAY_DIMENSION * 16)) throw bad(`overlay stride ${stride} for width ${img.width} (at least ${img.width * 4})`);
  if (img.pixels.length < stride * (img.height - 1) + img.width * 4) throw bad(`a ${img.width}x${img.height} overlay with stride ${stride} needs more than the ${img.pixels.length} bytes given`);
  if (img.order !== 'bgra' && img.order !== 'rgba') throw bad(`overlay byte order "${String(img.order)}" (expected bgra or rgba)`);
  return stride;
}

/** One presenter per window: two would each take the other's renderer marker for their own. */
const attached = new Set<number>();

/**
 * The presenter (see the module comment) of one SDL window, made by attach(). Main thread only.
 * Every argument is checked before the native call: a bad one throws GlasspaneError
 * ERR_PRESENT_GEOMETRY (a bug in the caller); a call after close() throws ERR_PRESENTER; SDL
 * failures inside the addon (the window destroyed, a texture that cannot be made) throw a plain
 * Error with SDL's message. Calls block only for the upload (setFrame) and the vsync wait (present).
 */
export class NativePresenter {
  private generation: number;
  private frame: { buf: Uint8Array; g: FrameGeometry } | null = null;
  private readonly overlays = new Map<number, { image: OverlayImage | null; x: number; y: number; visible: boolean; window: boolean }>();
  private closed = false;

  private constructor(
    private readonly handle: NativePresenterHandle,
    private readonly windowId: number,
  ) {
    this.generation = handle.check();
  }

  /**
   * Attaches to an SDL window of @kmamal/sdl (by its id). Throws GlasspaneError ERR_PRESENTER off
   * the main thread, when the window already has a presenter, or when the addon cannot use the
   * window's SDL (not loaded, too old, the window gone, no usable renderer).
   */
  static attach(window: { id: number }): NativePresenter {
    if (!isMainThread) throw new GlasspaneError('ERR_PRESENTER', 'the presenter works on the JS main thread only', 'present from the thread that opened the SDL window (SDL\'s video calls belong to it)');
    if (attached.has(window.id)) throw new GlasspaneError('ERR_PRESENTER', `window ${window.id} already has a presenter`, 'close the first presenter before attaching another');
    let handle: NativePresenterHandle;
    try {
      handle = new native.Presenter(window.id);
    } catch (err) {
      throw new GlasspaneError(
        'ERR_PRESENTER',
        `glasspane cannot present frames in this window: ${(err as Error).message}`,
        'rebuild the window addon against the system SDL 2 (libsdl2-dev >= 2.0.12) with `npm run build:sdl`, or use --headless',
        { cause: err },
      );
    }
    attached.add(window.id);
    return new NativePresenter(handle, window.id);
  }

  /**
   * What the presenter knows of the renderer now (see PresenterInfo). Throws Error when the window is gone.
   */
  info(): PresenterInfo {
    const i = this.handle.info();
    return { renderer: i.renderer, software: i.software, textureFormat: i.textureFormat, glRenderer: i.glRenderer, generation: i.generation };
  }

  /**
   * How long the last present() took, in ms: drawing into the window's back buffer (frame,
   * letterbox, overlays) and putting it on the display (SDL_RenderPresent). The bench's floor.
   */
  lastPresentTimings(): { drawMs: number; presentMs: number } {
    const [drawUs, presentUs] = this.handle.timings();
    return { drawMs: drawUs / 1000, presentMs: presentUs / 1000 };
  }

  /**
   * Shows `buf` from the next present() on; uploads `rects` of it (undefined, or more than
   * MAX_RECTS, = all). Returns the bytes uploaded. `buf` stays the caller's, but the presenter
   * keeps a reference and may upload it again until the next setFrame() or close() (see the
   * damage contract above), so it must stay valid and unchanged until then.
   */
  setFrame(buf: Uint8Array, g: FrameGeometry, rects?: readonly Rect[]): number {
    const f = checkFrame(buf, g);
    const packed = packRects(rects, g.width, g.height);
    this.sync(false);
    const bytes = this.handle.setFrame(buf, g.width, g.height, g.stride, f.code, packed);
    this.frame = { buf, g };
    return bytes;
  }

  /** Sets, moves, shows or hides overlay `slot`. */
  setOverlay(slot: number, p: OverlayPlacement): void {
    if (!isInt(slot, 0, OVERLAY_SLOTS - 1)) throw bad(`overlay slot ${slot} (expected 0..${OVERLAY_SLOTS - 1})`);
    if (!Number.isFinite(p.x) || !Number.isFinite(p.y)) throw bad(`overlay position ${p.x},${p.y}`);
    const cur = this.overlays.get(slot) ?? { image: null, x: 0, y: 0, visible: false, window: false };
    if (p.image) {
      const stride = checkOverlay(p.image);
      this.sync(true);
      this.handle.setOverlay(slot, p.image.pixels, p.image.width, p.image.height, stride, p.image.order === 'rgba');
      cur.image = p.image;
    }
    cur.x = Math.round(p.x);
    cur.y = Math.round(p.y);
    cur.visible = p.visible;
    cur.window = p.space === 'window';
    this.overlays.set(slot, cur);
  }

  /**
   * Draws the frame into `dst` (window pixels; black around it), turned clockwise by
   * `quarterTurns` × 90° (`dst` is where it lands after turning), with the visible overlays, and
   * presents. False before any frame.
   */
  present(dst: Rect, scaling: Scaling, quarterTurns = 0): boolean {
    for (const k of ['x', 'y', 'width', 'height'] as const) {
      if (!isInt(dst[k], k === 'x' || k === 'y' ? -MAX_FRAME_DIMENSION * 4 : 0, MAX_FRAME_DIMENSION * 4)) throw bad(`destination ${k} ${dst[k]}`);
    }
    if (scaling !== 'nearest' && scaling !== 'linear') throw bad(`scaling "${String(scaling)}" (expected nearest or linear)`);
    if (!isInt(quarterTurns, 0, 3)) throw bad(`rotation of ${quarterTurns} quarter turns (expected 0..3)`);
    this.sync(true);
    const list: number[] = [];
    for (const slot of [...this.overlays.keys()].sort((a, b) => a - b)) {
      const o = this.overlays.get(slot)!;
      if (o.visible && o.image) list.push(slot, o.x, o.y, o.window ? 1 : 0);
    }
    return this.handle.present(dst.x, dst.y, dst.width, dst.height, scaling === 'linear', Float64Array.from(list), quarterTurns);
  }

  /** Destroys the textures (if their renderer still exists). Safe to call twice; call before destroying the window. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    attached.delete(this.windowId);
    this.frame = null;
    this.overlays.clear();
    this.handle.close();
  }

  /** After the binding recreated the renderer (vsync or acceleration changed), send everything again. */
  private sync(resendFrame: boolean): void {
    if (this.closed) throw new GlasspaneError('ERR_PRESENTER', 'the presenter is closed', 'attach a new presenter to the window');
    const g = this.handle.check();
    if (g === this.generation) return;
    this.generation = g;
    if (resendFrame && this.frame) {
      const { buf, g: geo } = this.frame;
      this.handle.setFrame(buf, geo.width, geo.height, geo.stride, FRAME_FORMATS[geo.format].code, null);
    }
    for (const [slot, o] of this.overlays) {
      if (o.image) this.handle.setOverlay(slot, o.image.pixels, o.image.width, o.image.height, o.image.stride ?? o.image.width * 4, o.image.order === 'rgba');
    }
  }
}
