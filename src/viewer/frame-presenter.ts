/**
 * Puts the newest guest frame on a FrameSurface: takes it from the FrameSource when it is about
 * to draw (latest wins; the relay thread never waits for us), uploads only what changed (damage
 * rectangles, or the whole frame after a gap or a new format), places the cursor, OSD and help
 * overlays, and presents. Without a frame it shows the waiting screen.
 *
 * The fault barrier of the frame path: whatever goes wrong while presenting (a geometry the
 * surface refuses, a renderer error) becomes a message — the caller shows it on the OSD and
 * stderr — the frame is dropped, and the window stays.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { TakenFrame } from '../relay/frame-mailbox.js';
import type { FrameSource } from '../relay/frame-source.js';
import type { CursorEvent } from '../relay/frame-relay.js';
import { DamageTracker } from './damage.js';
import { placeFrame, windowToFrame, type Rect } from './geometry.js';
import type { OsdFigures, UiFont } from './osd.js';
import { OverlayScene } from './overlay-scene.js';
import { presentableFormat, type Presentable } from './pixel-format.js';
import { framePng } from './screenshot.js';
import { ViewerStats } from './viewer-stats.js';
import type { FrameSurface } from './window-backend.js';

/**
 * What the viewer adds to a present: the OSD (null: off), the help overlay, the waiting screen's
 * lines, and `paused` (video off: these lines instead of the guest, whose frames stay untaken).
 */
export interface PresentView {
  osd: Omit<OsdFigures, 'fps' | 'ups' | 'latencyMs' | 'resolution' | 'format'> | null;
  help: boolean;
  waiting: string[];
  paused?: string[];
}

/**
 * What a FramePresenter draws on and takes frames from: the window's surface (with its drawable
 * size in pixels), the frame source (only takeLatest() is used), integer scaling, the escape key's
 * name for the help panel, and where problems are told.
 */
export interface FramePresenterOptions {
  surface: FrameSurface & { readonly pixelWidth: number; readonly pixelHeight: number };
  source: Pick<FrameSource, 'takeLatest'>;
  integerScale?: boolean;
  /** Keep the frame's aspect ratio (default true), never scale it up, filtering (auto: linear, nearest with integerScale). */
  keepAspect?: boolean;
  dontUpscale?: boolean;
  scaling?: 'auto' | 'nearest' | 'linear';
  /** The rotation at start: 0, 90, 180 or 270 degrees clockwise. */
  rotate?: number;
  /** The font of the OSD and the help (window pixels). */
  uiFont?: UiFont;
  escapeKey?: string;
  /** A problem to tell the user (OSD and stderr). */
  message: (text: string) => void;
}

/**
 * The frame path's last step and fault barrier (see the module comment). Main thread only; called
 * by the viewer once per coalesced present. It holds the frame last taken from the source until it
 * takes the next one (the mailbox keeps that slot for it), and the surface keeps a reference to the
 * same pixels (setFrame's contract). Guest pixels are shown as they are; their geometry comes from
 * the validated FrameInfo.
 */
export class FramePresenter {
  private current: TakenFrame | null = null;
  private format: Presentable | null = null;
  private formatVer = -1;
  private readonly damage = new DamageTracker();
  private readonly overlays: OverlayScene;
  private turns: number;
  readonly stats = new ViewerStats();

  constructor(private readonly o: FramePresenterOptions) {
    this.overlays = new OverlayScene(o.escapeKey ?? 'ScrollLock', o.uiFont);
    this.turns = Math.round((o.rotate ?? 0) / 90) & 3;
  }

  /** Clockwise quarter turns the frame is shown at (0..3). */
  get quarterTurns(): number {
    return this.turns;
  }

  /** Turns the frame a quarter further clockwise (escape+R); returns the rotation in degrees. */
  rotate(): number {
    this.turns = (this.turns + 1) & 3;
    return this.turns * 90;
  }

  /** The guest frame's size, once one can be shown. */
  get frameSize(): { width: number; height: number } | null {
    return this.format?.ok ? { width: this.format.width, height: this.format.height } : null;
  }

  /** The shown frame's format name (BGRA, …), '' before the first. */
  get formatName(): string {
    return this.current?.info.format.name ?? '';
  }

  /** A new producer session: its formats and damage say nothing about the last one's frames. */
  newSession(): void {
    this.formatVer = -1;
    this.damage.reset();
  }

  /**
   * Takes a cursor event from the source: a new shape (its pixels are kept until the next shape),
   * position (frame pixels, unclamped: the overlay is cut at the frame's edge) and visibility;
   * shown
   * with the next present.
   */
  cursor(c: CursorEvent): void {
    const cursor = this.overlays.cursor;
    if (c.shape) this.overlays.setCursorShape(c.shape);
    if (c.position) {
      cursor.x = c.position.x;
      cursor.y = c.position.y;
    }
    cursor.visible = c.visible;
  }

  /** Window pixels → guest surface pixels (SPICE client mouse mode); null without a frame. */
  toGuest(x: number, y: number): { x: number; y: number; width: number; height: number } | null {
    const f = this.frameSize;
    if (!f) return null;
    return { ...windowToFrame(x, y, this.dst(f.width, f.height), f.width, f.height, this.turns), ...f };
  }

  private dst(fw: number, fh: number): Rect {
    const o = this.o;
    return placeFrame(fw, fh, o.surface.pixelWidth, o.surface.pixelHeight, { integer: o.integerScale, keepAspect: o.keepAspect, dontUpscale: o.dontUpscale, quarterTurns: this.turns });
  }

  private get filtering(): 'nearest' | 'linear' {
    const s = this.o.scaling ?? 'auto';
    return s === 'nearest' || (s === 'auto' && this.o.integerScale) ? 'nearest' : 'linear';
  }

  /** Takes the newest frame (if any) and presents it with the overlays; never throws. */
  present(view: PresentView): void {
    try {
      this.presentNow(view);
    } catch (err) {
      this.current = null; // the source gets it back with the next take
      this.format = null;
      this.formatVer = -1;
      this.damage.reset();
      const text = `could not show the guest frame: ${err instanceof Error ? err.message : String(err)}`;
      this.o.message(text);
      try {
        this.o.surface.showMessage([text]);
      } catch {
        // the window itself is gone or broken: the next event (or close) decides
      }
    }
  }

  private presentNow(view: PresentView): void {
    if (view.paused) {
      // Video off: the guest's frames wait in the mailbox (the newest wins) until it is on again.
      this.o.surface.showMessage(view.paused);
      return;
    }
    const fresh = this.o.source.takeLatest();
    if (fresh) {
      this.current = fresh;
      if (fresh.fullDamage) this.damage.reset();
      // formatVer numbers a producer session's formats: a new one (or a frame that does not
      // match the cached format) means look again.
      let fmt = this.format;
      if (fresh.info.formatVer !== this.formatVer || !fmt || !fmt.ok || fresh.data.length < fmt.stride * (fmt.height - 1) + fmt.width * fmt.bytesPerPixel) {
        this.formatVer = fresh.info.formatVer;
        fmt = this.format = presentableFormat(fresh.info);
        if (!fmt.ok) this.o.message(fmt.message);
      }
    }
    const cur = this.current;
    const fmt = this.format;
    const t0 = performance.now();
    if (fresh && fmt?.ok) {
      const geometry = { width: fmt.width, height: fmt.height, stride: fmt.stride, format: fmt.sdlFormat };
      this.o.surface.setFrame(fresh.data, geometry, this.damage.take(fresh.info, fmt.width, fmt.height));
    }
    if (fresh && !fmt?.ok) this.damage.reset();
    if (!cur || !fmt || !fmt.ok) {
      this.o.surface.showMessage(fmt && !fmt.ok ? [fmt.message] : view.waiting);
      return;
    }
    const f = this.stats.figures;
    const osd: OsdFigures | null = view.osd && { ...view.osd, fps: f.fps, ups: f.ups, latencyMs: f.latencyMs, resolution: `${fmt.width}x${fmt.height}`, format: cur.info.format.name };
    const win = { width: this.o.surface.pixelWidth, height: this.o.surface.pixelHeight };
    this.overlays.place(this.o.surface, { data: cur.data, width: fmt.width, height: fmt.height, stride: fmt.stride, format: fmt.sdlFormat }, osd, view.help, win);
    this.o.surface.present(this.dst(fmt.width, fmt.height), this.filtering, this.turns);
    this.stats.render(performance.now() - t0);
    if (fresh) this.stats.frame(Number(process.hrtime.bigint() - fresh.copiedAtNs) / 1e6);
  }

  /**
   * Writes the shown guest frame (without cursor or OSD: those are overlays) as a PNG in `dir`;
   * returns the file. Rejects with Error before the first frame, GlasspaneError ERR_FORMAT for a
   * format it cannot show (HDR), and the errno error of the write (a missing or read-only `dir`).
   */
  async screenshot(dir: string): Promise<string> {
    const f = this.current;
    if (!f) throw new Error('no guest frame yet');
    // framePng reads the pixels before its first await, while the frame is still ours.
    const png = await framePng(f.info, f.data);
    const file = join(dir, `glasspane-${new Date().toISOString().replace(/[:.]/g, '-')}.png`);
    await writeFile(file, png);
    return file;
  }
}
