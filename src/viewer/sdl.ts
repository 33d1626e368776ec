/**
 * The only module that loads @kmamal/sdl. Loading it needs a display; without one (no DISPLAY or
 * WAYLAND_DISPLAY) the caller gets a clear message suggesting --headless instead of an SDL error.
 */
import { GlasspaneError } from '../errors.js';
import { native } from '../native.js';

/** The @kmamal/sdl module as loadSdl() returns it. */
export type Sdl = typeof import('@kmamal/sdl');
/** A window of @kmamal/sdl. */
export type SdlWindow = ReturnType<Sdl['video']['createWindow']>;

/**
 * Loads @kmamal/sdl (once; Node caches the import). Main thread only: SDL's video calls belong
 * to the thread that loaded it. Throws GlasspaneError ERR_NO_DISPLAY when neither DISPLAY nor
 * WAYLAND_DISPLAY is set, ERR_NO_SDL when the binding does not load (the fix says how to build it).
 */
export async function loadSdl(hints: SdlHints = {}): Promise<Sdl> {
  if (!process.env.DISPLAY && !process.env.WAYLAND_DISPLAY) {
    throw new GlasspaneError('ERR_NO_DISPLAY', 'no display to open a window on (DISPLAY and WAYLAND_DISPLAY are unset)', 'run inside a desktop session, or add --headless to consume frames without a window');
  }
  setSdlHints(hints);
  try {
    const mod = (await import('@kmamal/sdl')) as Sdl & { default?: Sdl };
    return mod.default ?? mod;
  } catch (err) {
    throw new GlasspaneError(
      'ERR_NO_SDL',
      `the SDL window library could not be loaded: ${(err as Error).message}`,
      'install libsdl2-dev and run `npm run build:sdl` in the glasspane folder, or use --headless',
      { cause: err },
    );
  }
}

/**
 * What SDL reads from its environment when its video starts (the binding starts it on import), so
 * these must be set before loadSdl(): the application id — X11 WM_CLASS (SDL 2.26 reads
 * SDL_VIDEO_X11_WMCLASS) and Wayland app_id (SDL_VIDEO_WAYLAND_WMCLASS), without which window
 * managers see "node" — and whether the screensaver may run (SDL_VIDEO_ALLOW_SCREENSAVER; SDL's
 * default keeps it off while a window is open).
 */
export interface SdlHints {
  /** The application id; `explicit` overrides the variables even when the user's environment set them. */
  appId?: { id: string; explicit: boolean };
  /** False lets the screensaver run. */
  inhibitScreensaver?: boolean;
}

/** Sets the SDL environment variables for `hints` (see SdlHints); only effective before SDL loads. */
export function setSdlHints(hints: SdlHints, env: NodeJS.ProcessEnv = process.env): void {
  if (hints.appId) {
    for (const k of ['SDL_VIDEO_X11_WMCLASS', 'SDL_VIDEO_WAYLAND_WMCLASS']) if (hints.appId.explicit || !env[k]) env[k] = hints.appId.id;
  }
  if (hints.inhibitScreensaver !== undefined) env.SDL_VIDEO_ALLOW_SCREENSAVER = hints.inhibitScreensaver ? '0' : '1';
}

/**
 * Capture-mode grabs for a window: the keyboard (so Alt+Tab and the like go to the guest; not
 * with `keyboard` false) and the mouse (confined to the window). The binding has no grab API, so this goes through our
 * addon to the same SDL library (see native/sdl_grab.h). Returns false when SDL could not grab
 * the keyboard (an old SDL, no input focus, or a desktop that refuses).
 */
export function grabWindow(window: SdlWindow, on: boolean, keyboard = true): boolean {
  const r = native.sdlWindowGrab(window.id, on && keyboard, on);
  return r?.keyboard === (on && keyboard);
}

/**
 * The host's lock keys as SDL tracks them (through our addon, see native/sdl_input.h); null when
 * SDL is not loaded. SDL reads the real state when the window gains focus and follows the
 * lock-key presses it sees after that.
 */
export function hostLockState(): { capsLock: boolean; numLock: boolean; scrollLock: boolean } | null {
  const s = native.sdlLockState();
  return s && { capsLock: s.caps, numLock: s.num, scrollLock: s.scroll };
}
