/**
 * The viewer's window and input behaviour beyond the basics — mostly what Looking Glass B7 users
 * set in their client.ini (the option each comes from is named; docs/coming-from-looking-glass.md
 * has the whole table). Every field is optional; absent means glasspane's default.
 */
import type { ViewerConfig } from './config.js';

/** The behaviours above, each optional (see the module comment). */
export interface ViewerLook {
  /** X11 WM_CLASS and Wayland app_id (win:appId; default "glasspane"). */
  appId?: string;
  /** The application id was asked for (config or flag): it overrides SDL_VIDEO_X11_WMCLASS in the environment. */
  appIdExplicit?: boolean;
  /** Top-left corner on the screen; centred when absent (win:position). */
  position?: { x: number; y: number };
  borderless?: boolean;
  maximize?: boolean;
  /** False: the window cannot be resized by the user (win:allowResize). */
  resizable?: boolean;
  /** Hide the host pointer over the window outside capture too (input:hideCursor). */
  hideCursor?: boolean;
  /** Keep the screensaver off while the window is open (win:noScreensaver; SDL's default: yes). */
  inhibitScreensaver?: boolean;
  /** Keep the frame's aspect ratio (win:keepAspect; default true). */
  keepAspect?: boolean;
  /** Never scale the frame above 1:1 (win:dontUpscale). */
  dontUpscale?: boolean;
  /** Filtering (egl:scale): auto = linear, nearest with integerScale. */
  scaling?: 'auto' | 'nearest' | 'linear';
  /** Clockwise rotation of the shown frame, degrees (win:rotate); escape+R turns it further. */
  rotate?: 0 | 90 | 180 | 270;
  /** Resize the window to each new guest resolution (win:autoResize). */
  autoResize?: boolean;
  /** With dontUpscale, shrink a window larger than the guest to the guest's size (win:shrinkOnUpscale). */
  shrinkOnUpscale?: boolean;
  /** Minimize the window when it loses focus (win:minimizeOnFocusLoss). */
  minimizeOnFocusLoss?: boolean;
  /** Ignore the window manager's close (Alt+F4); escape+Q still quits (win:ignoreQuit). */
  ignoreQuit?: boolean;
  /** Show messages on the OSD (win:alerts; default true); they go to stderr either way. */
  alerts?: boolean;
  /** Font family and size (px) of the OSD and help (win:uiFont, win:uiSize). */
  uiFont?: string;
  uiSize?: number;
  /** Capture whenever the window gets focus (input:captureOnFocus). */
  captureOnFocus?: boolean;
  /** Capture when the window first gets focus (spice:captureOnStart). */
  captureOnStart?: boolean;
  /** Capture while the guest hides its cursor (input:autoCapture). */
  autoCapture?: boolean;
  /** Grab the keyboard in capture (input:grabKeyboard; default true). */
  grabKeyboard?: boolean;
  /** Never send the Windows keys, except through escape+LWin/RWin (input:ignoreWindowsKeys). */
  ignoreWindowsKeys?: boolean;
  /** Mouse sensitivity, -9..9 (input:mouseSens). */
  mouseSens?: number;
  /** Hold time of the escape key before the help shows, ms (input:helpMenuDelay; default 300). */
  helpDelayMs?: number;
  /** Start with input to the guest off (spice:input=no). */
  inputOff?: boolean;
}

/** The ViewerLook a resolved config gives (keys not set stay absent: glasspane's defaults apply). */
export function lookFromConfig(c: ViewerConfig): ViewerLook {
  const pos = c.position && c.position !== 'center' ? /^(-?\d+)x(-?\d+)$/.exec(c.position) : null;
  return {
    appId: c.appId,
    appIdExplicit: c.appId !== undefined,
    position: pos ? { x: Number(pos[1]), y: Number(pos[2]) } : undefined,
    borderless: c.borderless,
    maximize: c.maximize,
    resizable: c.resizable,
    hideCursor: c.hideCursor,
    inhibitScreensaver: c.inhibitScreensaver,
    keepAspect: c.keepAspect,
    dontUpscale: c.dontUpscale,
    scaling: c.scaling,
    rotate: c.rotate,
    autoResize: c.autoResize,
    shrinkOnUpscale: c.shrinkOnUpscale,
    minimizeOnFocusLoss: c.minimizeOnFocusLoss,
    ignoreQuit: c.ignoreQuit,
    alerts: c.alerts,
    uiFont: c.uiFont,
    uiSize: c.uiSize,
    captureOnFocus: c.captureOnFocus,
    captureOnStart: c.captureOnStart,
    autoCapture: c.autoCapture,
    grabKeyboard: c.grabKeyboard,
    ignoreWindowsKeys: c.ignoreWindowsKeys,
    mouseSens: c.mouseSens,
    helpDelayMs: c.helpDelayMs,
    inputOff: c.spiceInput === false ? true : undefined,
  };
}
