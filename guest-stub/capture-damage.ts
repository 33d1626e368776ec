/**
 * Damage bookkeeping of the X11 capture: which rectangles of the screen changed (XDamage), which of
 * them each frame buffer still lacks, and what a frame tells its consumers.
 *
 * The producer has two frame buffers and writes them in turn, so the buffer about to be written
 * was last brought up to date two frames ago: it must get this frame's damage and the previous
 * frame's (docs/protocol.md#frames). BufferDamage keeps, per buffer, the rectangles changed since
 * that buffer was last written; the frame's KVMFR damage is only what changed since the previous
 * frame. Rectangles are in screen pixels and always clipped to the frame.
 */
import { boundingBox, type Rect } from '../src/kvmfr/frame.js';
import { KVMFR } from '../src/kvmfr/layout.js';

/** Beyond this many rectangles a buffer's list becomes its bounding box (one copy instead of many). */
export const MAX_PENDING_RECTS = 256;

/** x, y, w, h quadruples (the X server's damage) as rectangles clipped to `width` x `height`; empty ones dropped. */
export function clipRects(quads: ArrayLike<number>, width: number, height: number): Rect[] {
  const out: Rect[] = [];
  for (let i = 0; i + 3 < quads.length; i += 4) {
    const x0 = Math.max(0, quads[i]!);
    const y0 = Math.max(0, quads[i + 1]!);
    const x1 = Math.min(width, quads[i]! + quads[i + 2]!);
    const y1 = Math.min(height, quads[i + 1]! + quads[i + 3]!);
    if (x1 > x0 && y1 > y0) out.push({ x: x0, y: y0, width: x1 - x0, height: y1 - y0 });
  }
  return out;
}

/** Pixels covered by `rects`, counting overlaps twice (what copying them costs). */
export function pixelsIn(rects: readonly Rect[]): number {
  return rects.reduce((n, r) => n + r.width * r.height, 0);
}

/** `rects` as the x, y, w, h quadruples the addon's copyAsync takes. */
export function toQuads(rects: readonly Rect[]): Int32Array {
  const q = new Int32Array(rects.length * 4);
  rects.forEach((r, i) => q.set([r.x, r.y, r.width, r.height], i * 4));
  return q;
}

/**
 * The KVMFR damage of a frame whose changes since the previous frame are `changed`: the
 * rectangles themselves, their bounding box beyond KVMFR's 64, or none (= the whole frame) when
 * `whole`.
 */
export function frameDamage(changed: readonly Rect[], whole: boolean): Rect[] {
  if (whole) return [];
  if (changed.length > KVMFR.MAX_DAMAGE_RECTS) return [boundingBox(changed)];
  return [...changed];
}

/** Per frame buffer, what it lacks (see the module comment). Starts with every buffer lacking everything. */
export class BufferDamage {
  /** null = the whole frame. */
  private readonly stale: Array<Rect[] | null>;

  constructor(buffers = 2) {
    this.stale = Array.from({ length: buffers }, () => null);
  }

  /** Every buffer lacks everything (a new session, a new screen size). */
  full(): void {
    this.stale.fill(null);
  }

  /** The screen changed in `rects`: every buffer lacks them. */
  add(rects: readonly Rect[]): void {
    if (rects.length === 0) return;
    for (let i = 0; i < this.stale.length; i++) {
      const s = this.stale[i];
      if (!s) continue;
      s.push(...rects);
      if (s.length > MAX_PENDING_RECTS) this.stale[i] = [boundingBox(s)];
    }
  }

  /** Whether buffer `i` lacks the whole frame. */
  isFull(i: number): boolean {
    return this.stale[i] === null;
  }

  /** What buffer `i` lacks ('full' or rectangles, maybe none), and forgets it: the caller brings the buffer up to date now. */
  take(i: number): Rect[] | 'full' {
    const s = this.stale[i];
    this.stale[i] = [];
    return s ?? 'full';
  }
}
