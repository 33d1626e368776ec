/**
 * What the viewer needs of a window, as a small interface (after Looking Glass's
 * LG_DisplayServerOps): events in, a surface to present frames and overlays on, capture (grabs and
 * relative motion), title and fullscreen. SdlWindowBackend (sdl-backend.ts) is the real one; tests
 * drive the viewer in process through a fake (test/support/fake-backend.ts), so capture, key
 * routing, OSD messages and the fault barrier are tested without a child process per case.
 */
import type { EventEmitter } from 'node:events';
import type { LockState } from '../input/sink.js';
import type { Rect } from './geometry.js';
import type { FrameGeometry, OverlayPlacement, Scaling } from './native-presenter.js';
import type { HostClipboard } from './clipboard-bridge.js';
import type { AudioHost } from './audio-device.js';

/** A key event: the SDL scancode (= USB HID usage) and the lock state it carries. */
export interface WindowKey {
  scancode: number;
  repeat: boolean;
  capslock?: boolean;
  numlock?: boolean;
}

/**
 * The events a WindowBackend emits, on the main thread (SDL's event loop). Coordinates are window
 * pixels of the drawable (HiDPI aware).
 */
export interface WindowEvents {
  close: [];
  /** The window moved or changed size (a resize, fullscreen on or off). */
  geometry: [];
  expose: [];
  focus: [];
  blur: [];
  keyDown: [WindowKey];
  keyUp: [WindowKey];
  /**
   * The pointer moved to (x, y) in window pixels; `motion` is the relative motion to send while
   * relative mode is on (the device's own deltas, or the warp fallback's), null when none.
   */
  mouseMove: [{ x: number; y: number; motion: { dx: number; dy: number } | null }];
  /** 1 left, 2 middle, 3 right, 4 side, 5 extra. */
  mouseButton: [{ button: number; down: boolean }];
  /** Wheel notches as the guest takes them: negative = up (away from the user). */
  mouseWheel: [number];
}

/** Where frames and overlays are drawn (NativePresenter behind the SDL backend). */
export interface FrameSurface {
  /** Shows `data` from the next present() on; uploads `rects` of it (undefined = all). `data` stays valid until the next setFrame(). */
  setFrame(data: Uint8Array, geometry: FrameGeometry, rects: readonly Rect[] | undefined): void;
  /** Sets, moves, shows or hides overlay `slot` (see NativePresenter.setOverlay). */
  setOverlay(slot: number, placement: OverlayPlacement): void;
  /** Draws the frame into `dst` (window pixels), turned clockwise by quarterTurns × 90°, with the visible overlays, and presents. */
  present(dst: Rect, scaling: Scaling, quarterTurns?: number): void;
  /** Shows text instead of a frame (waiting, a format it cannot show). */
  showMessage(lines: string[]): void;
}

/**
 * A window the viewer draws in and takes input from (see the module comment). Main thread only;
 * calls block only for texture uploads (setFrame, setOverlay) and a present's vsync wait.
 */
export interface WindowBackend extends FrameSurface, Pick<EventEmitter<WindowEvents>, 'on' | 'off' | 'once'> {
  /** Drawable size in pixels (HiDPI aware). */
  readonly pixelWidth: number;
  /** Drawable height in pixels. */
  readonly pixelHeight: number;
  /** True once the window is gone (destroy() or closed by SDL); calls then do nothing or return false. */
  readonly destroyed: boolean;
  /** Sets the window title (ignored once destroyed). */
  setTitle(title: string): void;
  /** Switches fullscreen on the display under the window, or back to the window it was. */
  toggleFullscreen(): void;
  /** Minimizes (iconifies) the window. */
  minimize(): void;
  /** Gives the window this size in window units (not while fullscreen or maximized). */
  setSize(width: number, height: number): void;
  /**
   * Capture on: pointer hidden and confined, keyboard grabbed (unless `keyboard` is false), and
   * with `relative` the pointer's own deltas reported in mouseMove. Off gives everything back.
   * Returns false when the keyboard grab did not hold (desktop shortcuts still reach the desktop).
   */
  setCapture(on: boolean, relative: boolean, keyboard?: boolean): boolean;
  /** The host's lock keys now, or null when unknown. */
  hostLocks(): Required<LockState> | null;
  /** The desktop clipboard (for the clipboard bridge), or null when the backend has none. */
  readonly clipboard: (HostClipboard & { on(event: 'update', fn: () => void): unknown; off?(event: 'update', fn: () => void): unknown }) | null;
  /** The host's audio devices, or null without audio support. */
  readonly audio: AudioHost | null;
  /** Frees the presenter's textures and closes the window. Call once; the backend is unusable after. */
  destroy(): void;
}
