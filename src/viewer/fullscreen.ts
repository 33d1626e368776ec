/**
 * Fullscreen on and off for the viewer window, also on an X server without a window manager.
 *
 * SDL asks the window manager for fullscreen (_NET_WM_STATE) and at once believes the window
 * covers the screen. With no window manager nobody grants the request: X keeps the window as it
 * was, SDL draws for a screen-sized window (a cropped picture), and on the way back SDL keeps the
 * screen size (still cropped). So: leaving fullscreen restores the windowed size SDL should
 * report, and a request that nothing granted within `grantMs` (the window neither moved nor
 * reached the screen origin) is done by hand, by moving and sizing the window over the screen,
 * which without a window manager is what fullscreen is (no decorations, nothing on top).
 *
 * While a request is pending (not yet granted, not yet done by hand) SDL reports the screen's size
 * for a window X still keeps at its old one, so a present then draws a crop: `pending` tells the
 * backend to keep the last picture instead, and `onSettled` says when to draw again.
 */
import type { Rect } from './geometry.js';

/** What this needs of an SDL window (@kmamal/sdl's Window has all of it). */
export interface FullscreenWindow extends Rect {
  readonly fullscreen: boolean;
  readonly destroyed: boolean;
  setFullscreen(on: boolean): void;
  setPosition(x: number, y: number): void;
  setSize(width: number, height: number): void;
}

/**
 * Fullscreen for one SDL window (see the module comment). Main thread only; `screen()` gives the
 * geometry of the display the window is on, `grantMs` how long a window manager may take.
 */
export class FullscreenSwitch {
  private windowed: Rect | null = null;
  private byHand = false;
  private timer: NodeJS.Timeout | null = null;
  /** Where the window was when fullscreen was asked for, while the request is pending. */
  private requested: Rect | null = null;

  constructor(
    private readonly w: FullscreenWindow,
    /** The screen the window is on. */
    private readonly screen: () => Rect,
    private readonly grantMs = 1000,
    /** Called when a pending request is settled (granted, or done by hand): the window may be drawn again. */
    private readonly onSettled: () => void = () => {},
  ) {}

  /** True from a fullscreen request until it is granted or done by hand: SDL's idea of the window's size is not X's. */
  get pending(): boolean {
    return this.requested !== null;
  }

  /**
   * Looks again whether a pending request was granted (the window manager moved the window): call
   * on each move or resize of the window. Ends `pending` (and calls onSettled) when it was.
   */
  settle(): void {
    if (this.requested && this.granted(this.requested)) this.finish();
  }

  /** True while fullscreen, by the window manager or by hand. */
  get active(): boolean {
    return this.byHand || this.w.fullscreen;
  }

  /** Enters fullscreen on the window's display, or leaves it (restoring the windowed position and size). */
  toggle(): void {
    if (this.active) this.leave();
    else this.enter();
  }

  /** Stops the pending check (window closing). */
  dispose(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.requested = null;
  }

  /** Whether the window manager granted the request made with the window at `before`. */
  private granted(before: Rect): boolean {
    const w = this.w;
    const s = this.screen();
    return w.x !== before.x || w.y !== before.y || (w.x === s.x && w.y === s.y && before.width >= s.width);
  }

  /** The request is settled: draw again. */
  private finish(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.requested = null;
    this.onSettled();
  }

  private enter(): void {
    const w = this.w;
    const before: Rect = { x: w.x, y: w.y, width: w.width, height: w.height };
    this.windowed = before;
    this.dispose();
    this.requested = before;
    w.setFullscreen(true);
    this.timer = setTimeout(() => {
      this.timer = null;
      if (w.destroyed || !w.fullscreen || this.granted(before)) return this.finish();
      // Nobody granted it: no window manager. Cover the screen by hand.
      const s = this.screen();
      w.setFullscreen(false);
      w.setPosition(s.x, s.y);
      w.setSize(s.width, s.height);
      this.byHand = true;
      this.finish();
    }, this.grantMs);
  }

  private leave(): void {
    const w = this.w;
    this.dispose();
    if (this.byHand) this.byHand = false;
    else w.setFullscreen(false);
    const back = this.windowed;
    this.windowed = null;
    if (!back) return;
    if (w.x !== back.x || w.y !== back.y) w.setPosition(back.x, back.y);
    // SDL may still report the screen's size (nothing told it the window shrank): say it again.
    if (w.width !== back.width || w.height !== back.height) w.setSize(back.width, back.height);
  }
}

/** The geometry of the display under the window's centre (the first display if none is). */
export function displayUnder(w: Rect, displays: ReadonlyArray<{ geometry: Rect }>): Rect {
  const cx = w.x + w.width / 2;
  const cy = w.y + w.height / 2;
  const on = displays.find(({ geometry: g }) => cx >= g.x && cx < g.x + g.width && cy >= g.y && cy < g.y + g.height);
  return (on ?? displays[0]!).geometry;
}
