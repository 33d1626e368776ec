/**
 * Which part of the frame texture must be uploaded for the frame about to be presented.
 *
 * A KVMFR frame's damage rectangles say what changed since the producer's previous frame (none =
 * everything). The relay copies every frame whole, so the newest buffer is always complete, but
 * the presenter's texture holds the last frame *presented*: when frames are skipped (the newest
 * replaces one not yet presented), their damage is carried over and uploaded with the next one.
 * A gap in frame serials (a frame the relay dropped, a new session) or a new format means the
 * texture's content is unknown relative to this frame: everything is uploaded.
 */
import { boundingBox, type FrameInfo } from '../kvmfr/frame.js';
import type { Rect } from './geometry.js';

/** Beyond this many rectangles, their bounding box is uploaded instead. */
export const MAX_CARRIED_RECTS = 64;

/**
 * The damage bookkeeping above, for one texture (one presenter). The rectangles come from
 * readFrame (inside the frame); take() clips them to the texture anyway.
 */
export class DamageTracker {
  /** Damage not yet uploaded; null = everything. */
  private carried: Rect[] | null = null;
  private lastSerial: number | null = null;
  private lastFormatVer: number | null = null;

  /** Forget what the texture holds (new texture, new session): the next frame goes up whole. */
  reset(): void {
    this.carried = null;
    this.lastSerial = null;
    this.lastFormatVer = null;
  }

  /** A frame that will not be presented: its damage must reach the texture with a later frame. */
  skipped(info: FrameInfo): void {
    this.note(info);
  }

  /**
   * The rectangles to upload for `info`, clipped to the `width` x `height` texture; undefined =
   * the whole frame. Clears the carried damage: the caller uploads what this returns.
   */
  take(info: FrameInfo, width: number, height: number): Rect[] | undefined {
    this.note(info);
    const all = this.carried;
    this.carried = [];
    if (!all) return undefined;
    const out: Rect[] = [];
    for (const r of all) {
      const x1 = Math.min(width, r.x + r.width);
      const y1 = Math.min(height, r.y + r.height);
      if (x1 > r.x && y1 > r.y) out.push({ x: r.x, y: r.y, width: x1 - r.x, height: y1 - r.y });
    }
    return out;
  }

  private note(info: FrameInfo): void {
    const continuous =
      this.lastSerial !== null && info.formatVer === this.lastFormatVer && info.frameSerial === ((this.lastSerial + 1) >>> 0);
    this.lastSerial = info.frameSerial;
    this.lastFormatVer = info.formatVer;
    if (!continuous || info.damageRects.length === 0 || this.carried === null) {
      this.carried = null;
      return;
    }
    this.carried.push(...info.damageRects);
    if (this.carried.length > MAX_CARRIED_RECTS) this.carried = [boundingBox(this.carried)];
  }
}
