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

  constructor(
    private readonly w: FullscreenWindow,
    /** The screen the window is on. */
    private readonly screen: () => Rect,
    private readonly grantMs = 1000,
  ) {}

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
  }

  private enter(): void {
    const w = this.w;
    const before: Rect = { x: w.x, y: w.y, width: w.width, height: w.height };
    this.windowed = before;
    w.setFullscreen(true);
    this.dispose();
    this.timer = setTimeout(() => {
      this.timer = null;
      if (w.destroyed || !w.fullscreen) return;
      const s = this.screen();
      const granted = w.x !== before.x || w.y !== before.y || (w.x === s.x && w.y === s.y && before.width >= s.width);
      if (granted) return;
      // Nobody granted it: no window manager. Cover the screen by hand.
      w.setFullscreen(false);
      w.setPosition(s.x, s.y);
      w.setSize(s.width, s.height);
      this.byHand = true;
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
