/**
 * The only module that loads @kmamal/sdl. Loading it needs a display; without one (no DISPLAY or
 * WAYLAND_DISPLAY) the caller gets a clear message suggesting --headless instead of an SDL error.
 *
 * A display that is named but does not answer (a stale DISPLAY from an old session or tmux, a
 * typo) is an error too: left to itself, SDL falls back to its "offscreen" driver and draws into
 * nothing, so the viewer would run without a window and report success. SDL is therefore offered
 * only the desktop drivers the environment names (x11 for DISPLAY, wayland for WAYLAND_DISPLAY)
 * unless the user chose drivers with SDL_VIDEODRIVER, and a video subsystem that did not start is
 * ERR_DISPLAY_UNREACHABLE. Not at the first refusal: an X server whose listen queue is full (many
 * clients connecting at once) or a session still starting refuses for a moment, so video is
 * tried again for about 1.5 s (VIDEO_RETRY_DELAYS_MS) before the display is called unreachable.
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { debuglog } from 'node:util';
import { GlasspaneError } from '../errors.js';
import { native } from '../native.js';

const log = debuglog('glasspane:viewer');

/** The @kmamal/sdl module as loadSdl() returns it. */
export type Sdl = typeof import('@kmamal/sdl');
/** A window of @kmamal/sdl. */
export type SdlWindow = ReturnType<Sdl['video']['createWindow']>;

/** The displays the environment names, for messages: ":0", "wayland-0", or both. */
export function displayName(env: NodeJS.ProcessEnv = process.env): string {
  return [env.DISPLAY, env.WAYLAND_DISPLAY].filter(Boolean).join(' or ');
}

/**
 * The SDL_VIDEODRIVER list for the displays the environment names, in SDL's own order of
 * preference (x11 before wayland); null when it names none.
 */
export function desktopVideoDrivers(env: NodeJS.ProcessEnv = process.env): string | null {
  const drivers = [env.DISPLAY ? 'x11' : '', env.WAYLAND_DISPLAY ? 'wayland' : ''].filter(Boolean);
  return drivers.length ? drivers.join(',') : null;
}

/**
 * Makes the binding take SDL's pending error right after it lists the displays. SDL 2.26 leaves
 * "Couldn't get DPI" pending for a display without a physical size (Xvfb, many projectors), and
 * the binding prints a pending error as "SDL silent error: ..." at its next call that looks (when
 * it lists the audio devices, at load): noise on every window start. The error goes to the debug
 * log instead. The binding's native module is shared through Node's require cache, so this
 * wraps the function its own code calls; done once, before the binding's index loads.
 */
function quietDisplayErrors(require: NodeJS.Require): void {
  const bindings = require(join(dirname(require.resolve('@kmamal/sdl')), 'bindings.js')) as Record<string, unknown>;
  const list = bindings.video_getDisplays;
  if (typeof list !== 'function' || (list as { quiet?: true }).quiet) return;
  const quiet = (...args: unknown[]): unknown => {
    try {
      return list(...args);
    } finally {
      const pending = native.sdlTakeError();
      if (pending) log('SDL (listing displays): %s', pending);
    }
  };
  bindings.video_getDisplays = Object.assign(quiet, { quiet: true as const });
}

/** The waits before each new try to start SDL's video when the first did not (see the module comment). */
export const VIDEO_RETRY_DELAYS_MS = [100, 200, 400, 800] as const;

/**
 * `first`, or the first non-null answer of `tryAgain` after each of `delaysMs`; null when every
 * try failed.
 */
export async function retryVideo(first: string | null, tryAgain: () => string | null, delaysMs: readonly number[] = VIDEO_RETRY_DELAYS_MS): Promise<string | null> {
  if (first) return first;
  for (const ms of delaysMs) {
    await new Promise((r) => setTimeout(r, ms));
    const video = tryAgain();
    if (video) return video;
  }
  return null;
}

/**
 * Loads @kmamal/sdl (once; Node caches the import). Main thread only: SDL's video calls belong
 * to the thread that loaded it. Throws GlasspaneError ERR_NO_DISPLAY when neither DISPLAY nor
 * WAYLAND_DISPLAY is set, ERR_NO_SDL when the binding does not load (the fix says how to build
 * it), ERR_DISPLAY_UNREACHABLE when SDL could not open the display they name.
 */
export async function loadSdl(hints: SdlHints = {}): Promise<Sdl> {
  const drivers = desktopVideoDrivers();
  if (!drivers) {
    throw new GlasspaneError('ERR_NO_DISPLAY', 'no display to open a window on (DISPLAY and WAYLAND_DISPLAY are unset)', 'run inside a desktop session, or add --headless to consume frames without a window');
  }
  setSdlHints(hints);
  const chosen = process.env.SDL_VIDEODRIVER;
  let sdl: Sdl;
  try {
    const require = createRequire(import.meta.url);
    quietDisplayErrors(require);
    // SDL reads its driver list once, when the binding loads; children must not inherit ours.
    if (!chosen) process.env.SDL_VIDEODRIVER = drivers;
    try {
      const mod = require('@kmamal/sdl') as Sdl & { default?: Sdl };
      sdl = mod.default ?? mod;
    } finally {
      if (!chosen) delete process.env.SDL_VIDEODRIVER;
    }
  } catch (err) {
    throw new GlasspaneError(
      'ERR_NO_SDL',
      `the SDL window library could not be loaded: ${(err as Error).message}`,
      'install libsdl2-dev and run `npm run build:sdl` in the glasspane folder, or use --headless',
      { cause: err },
    );
  }
  const video = await retryVideo(sdl.info.drivers.video.current, () => {
    if (!chosen) process.env.SDL_VIDEODRIVER = drivers;
    try {
      return native.sdlStartVideo();
    } finally {
      if (!chosen) delete process.env.SDL_VIDEODRIVER;
    }
  });
  if (video && !sdl.info.drivers.video.current) {
    log('SDL video started on a later try');
    (sdl.info.drivers.video as { current: string | null }).current = video;
  }
  log('SDL video driver %s (offered %s)', video, chosen ?? drivers);
  if (!video) {
    const what = [process.env.DISPLAY ? 'no X server' : '', process.env.WAYLAND_DISPLAY ? 'no Wayland compositor' : ''].filter(Boolean).join(' and ');
    throw new GlasspaneError(
      'ERR_DISPLAY_UNREACHABLE',
      `cannot open a window on ${displayName()}: ${chosen ? `SDL_VIDEODRIVER=${chosen} did not start` : `${what} answers there`}`,
      'check DISPLAY / WAYLAND_DISPLAY (a terminal left over from another session, tmux or ssh keeps a stale one), run in a terminal of your desktop session, or add --headless',
    );
  }
  return sdl;
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
