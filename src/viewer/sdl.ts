/**
 * The only module that loads @kmamal/sdl. Loading it needs a display; without one (no DISPLAY or
 * WAYLAND_DISPLAY) the caller gets a clear message suggesting --headless instead of an SDL error.
 */
import { GlasspaneError } from '../errors.js';

export type Sdl = typeof import('@kmamal/sdl');
export type SdlWindow = ReturnType<Sdl['video']['createWindow']>;

export async function loadSdl(): Promise<Sdl> {
  if (!process.env.DISPLAY && !process.env.WAYLAND_DISPLAY) {
    throw new GlasspaneError('ERR_NO_DISPLAY', 'no display to open a window on (DISPLAY and WAYLAND_DISPLAY are unset)', 'run inside a desktop session, or add --headless to consume frames without a window');
  }
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
