/**
 * Every option of the Looking Glass B7 client and what glasspane does with it: the 86 that
 * `looking-glass-client --help` lists in 7 sections (client/src/config.c, app:shmFile from
 * common's ivshmem options, win:showFPS from the FPS overlay, and the EGL and OpenGL renderers'
 * tables) with their 22 short flags, then the 15 B7 registers only with a display server, an
 * audio module or as EGL filter presets. Facts from B7's sources; the words are ours.
 * docs/coming-from-looking-glass.md has one row per entry, and test/unit/b7-options.test.ts checks
 * the two agree.
 */
import { APP_ID } from './config.js';
import { KNOWN_KEY_NAMES, keyName, unknownKeyMessage } from '../input/key-names.js';
import { B7_SECTIONS, B7ValueError, type B7Fragment, type B7Option, type B7Section, type B7Type, type B7Value } from './b7-option-types.js';

interface Common {
  short?: string;
  type: B7Type;
  def: string;
  meaning: string;
  example: string;
}

const inHelp = (s: B7Section) => B7_SECTIONS.indexOf(s) < 7;

/** An option glasspane honours: `glasspane` names the flag or key, `apply` maps a value. */
function on(section: B7Section, name: string, c: Common & { glasspane: string; apply: (v: B7Value) => B7Fragment; refuses?: B7Option['refuses']; instead?: string; action?: B7Option['action'] }): B7Option {
  return { section, name, short: c.short, type: c.type, b7Default: c.def, inHelp: inHelp(section), meaning: c.meaning, example: c.example, status: 'honoured', glasspane: c.glasspane, apply: c.apply, refuses: c.refuses, instead: c.instead, action: c.action };
}

/** An option glasspane refuses: `why` it does not, what it offers `instead`, and values that are `fine` as they are. */
function off(section: B7Section, name: string, c: Common & { why: string; instead: string; fine?: B7Option['fine'] }): B7Option {
  return { section, name, short: c.short, type: c.type, b7Default: c.def, inHelp: inHelp(section), meaning: c.meaning, example: c.example, status: 'refused', glasspane: c.why, instead: c.instead, fine: c.fine };
}

const isFalse = { values: 'no', when: (v: B7Value) => v === false };
const isTrue = { values: 'yes', when: (v: B7Value) => v === true };
const bool = (def: boolean) => ({ type: 'bool' as const, def: def ? 'yes' : 'no' });
const str = (v: B7Value) => String(v);
function intIn(v: B7Value, min: number, max: number, what: string): number {
  const n = Number(v);
  if (n < min || n > max) throw new B7ValueError(`${what} must be from ${min} to ${max}, got ${n}`);
  return n;
}

const NO_SHADERS = 'glasspane has no shaders: the frame is drawn by SDL\'s renderer as it is';
const EGL_ONLY = 'a setting of B7\'s EGL renderer; glasspane presents through SDL\'s renderer, which decides this itself';
const HDR = 'glasspane does not map HDR to SDR: HDR frames (RGBA10, RGBA16F) are refused with an on-screen message';
const FILTER = 'an EGL post-processing filter (B7 keeps it as a preset option); ' + NO_SHADERS;
const NO_CURSOR_MODE = 'glasspane sends input only in capture mode, where the host pointer is hidden; outside it the desktop\'s own pointer shows';

/** The table (see the module comment), in B7's --help order, then the module-dependent options. */
export const B7_OPTIONS: readonly B7Option[] = Object.freeze([
  // ---- app ----
  on('app', 'configFile', { short: 'C', type: 'string', def: 'NULL', meaning: 'read one more INI file', example: '~/vm/lg.ini', glasspane: 'read after the standard files (see "Precedence"); `--config FILE.ini` is the same', apply: () => ({}), action: 'configFile' }),
  off('app', 'renderer', {
    short: 'g', type: 'custom', def: 'auto', meaning: 'choose EGL or OpenGL', example: 'EGL',
    why: 'glasspane draws through SDL\'s renderer with persistent textures and picks it itself (OpenGL, or SDL\'s software renderer where OpenGL would be a software rasterizer)',
    instead: 'set SDL_RENDER_DRIVER=opengl (or opengles2, software) in the environment', fine: { values: 'auto', when: (v) => String(v).toLowerCase() === 'auto' },
  }),
  on('app', 'license', { short: 'l', ...bool(false), meaning: 'print the licence and exit', example: 'yes', glasspane: 'prints glasspane\'s licence (MIT) and exits', apply: () => ({}), action: 'license' }),
  off('app', 'cursorPollInterval', { type: 'int', def: '1000', meaning: 'cursor poll interval (µs)', example: '500', why: 'glasspane\'s relay thread waits on the region for cursor updates; there is no interval to poll at', instead: 'nothing to set: cursor updates are shown as they arrive' }),
  off('app', 'framePollInterval', { type: 'int', def: '1000', meaning: 'frame poll interval (µs)', example: '500', why: 'glasspane\'s relay thread waits on the region for frames; there is no interval to poll at', instead: 'nothing to set: `--copy-timeout MS` bounds a stalled frame copy' }),
  off('app', 'allowDMA', { ...bool(true), meaning: 'import /dev/kvmfrN frames as DMA-BUF', example: 'yes', why: 'DMA-BUF import into the GPU is not implemented: glasspane maps the region (/dev/kvmfrN too) and uploads each frame\'s damaged rectangles', instead: '/dev/kvmfrN works as a mapped region', fine: isFalse }),
  on('app', 'shmFile', { short: 'f', type: 'string', def: '/dev/kvmfr0 if it exists, else /dev/shm/looking-glass', meaning: 'the region file, or a kvmfr device name', example: 'kvmfr0', glasspane: '`--shm PATH` / `shm` (kvmfrN means /dev/kvmfrN)', apply: (v) => ({ shm: str(v) }) }),
  // ---- win ----
  on('win', 'title', { type: 'string', def: 'Looking Glass (client)', meaning: 'window title', example: 'Windows 11', glasspane: '`--title TEXT` / `title`', apply: (v) => ({ title: str(v) }) }),
  on('win', 'appId', {
    type: 'string', def: 'looking-glass-client', meaning: 'application id', example: 'lg-win11', glasspane: '`appId`: X11 WM_CLASS and Wayland app_id (default `glasspane`)',
    apply: (v) => {
      if (!APP_ID.test(str(v))) throw new B7ValueError(`"${str(v)}" is not an application id: use letters, digits, ".", "_" and "-"`);
      return { appId: str(v) };
    },
  }),
  on('win', 'position', {
    type: 'custom', def: 'center', meaning: 'initial window position', example: '100x100', glasspane: '`position` ("center" or LEFTxTOP)',
    apply: (v) => {
      if (!/^(center|-?\d+x-?\d+)$/.test(str(v))) throw new B7ValueError(`"${str(v)}" is not a position: write center or LEFTxTOP, e.g. 100x100`);
      return { position: str(v) };
    },
  }),
  on('win', 'size', {
    type: 'custom', def: '1024x768', meaning: 'initial window size', example: '1920x1080', glasspane: '`--size WxH` / `size`',
    apply: (v) => {
      const m = /^(\d{1,5})x(\d{1,5})$/.exec(str(v));
      if (!m || Number(m[1]) < 1 || Number(m[2]) < 1) throw new B7ValueError(`"${str(v)}" is not a size: write WIDTHxHEIGHT, e.g. 1920x1080`);
      return { size: `${Number(m[1])}x${Number(m[2])}` };
    },
  }),
  on('win', 'autoResize', { short: 'a', ...bool(false), meaning: 'resize the window to the guest', example: 'yes', glasspane: '`autoResize`: the window takes each new guest resolution', apply: (v) => ({ autoResize: v === true }) }),
  on('win', 'allowResize', { short: 'n', ...bool(true), meaning: 'the user may resize the window', example: 'no', glasspane: '`resizable`', apply: (v) => ({ resizable: v === true }) }),
  on('win', 'keepAspect', { short: 'r', ...bool(true), meaning: 'keep the guest\'s aspect ratio', example: 'no', glasspane: '`keepAspect` (no: the frame fills the window)', apply: (v) => ({ keepAspect: v === true }) }),
  off('win', 'forceAspect', { ...bool(true), meaning: 'resize the window to the guest\'s aspect ratio', example: 'yes', why: 'glasspane keeps the frame\'s aspect inside any window size (black bars) and never reshapes the window while the user resizes it', instead: '`win:keepAspect` (on by default); `win:autoResize` sizes the window to the guest', fine: isFalse }),
  on('win', 'dontUpscale', { ...bool(false), meaning: 'never scale the guest up', example: 'yes', glasspane: '`dontUpscale`: at most 1:1, centred', apply: (v) => ({ dontUpscale: v === true }) }),
  on('win', 'intUpscale', { ...bool(false), meaning: 'scale up by whole numbers only', example: 'yes', glasspane: '`--integer-scale` / `integerScale`', apply: (v) => ({ integerScale: v === true }) }),
  on('win', 'shrinkOnUpscale', { ...bool(false), meaning: 'with dontUpscale, shrink the window to the guest', example: 'yes', glasspane: '`shrinkOnUpscale`', apply: (v) => ({ shrinkOnUpscale: v === true }) }),
  on('win', 'borderless', { short: 'd', ...bool(false), meaning: 'no window decorations', example: 'yes', glasspane: '`borderless`', apply: (v) => ({ borderless: v === true }) }),
  on('win', 'fullScreen', { short: 'F', ...bool(false), meaning: 'start fullscreen', example: 'yes', glasspane: '`--fullscreen` / `fullscreen`', apply: (v) => ({ fullscreen: v === true }) }),
  on('win', 'maximize', { short: 'T', ...bool(false), meaning: 'start maximized', example: 'yes', glasspane: '`maximize`', apply: (v) => ({ maximize: v === true }) }),
  on('win', 'minimizeOnFocusLoss', { ...bool(false), meaning: 'minimize when focus goes (fullscreen)', example: 'yes', glasspane: '`minimizeOnFocusLoss` (SDL_VIDEO_MINIMIZE_ON_FOCUS_LOSS)', apply: (v) => ({ minimizeOnFocusLoss: v === true }) }),
  off('win', 'fpsMin', { short: 'K', type: 'int', def: '-1', meaning: 'minimum render rate', example: '60', why: 'glasspane presents when a frame or the cursor changes, never on a timer, so there is no minimum rate to keep', instead: 'nothing to set', fine: { values: '-1 (auto), 0 (off)', when: (v) => v === -1 || v === 0 } }),
  on('win', 'ignoreQuit', { short: 'Q', ...bool(false), meaning: 'ignore the window\'s close (Alt+F4)', example: 'yes', glasspane: '`ignoreQuit` (escape+Q still quits)', apply: (v) => ({ ignoreQuit: v === true }) }),
  on('win', 'noScreensaver', { short: 'S', ...bool(false), meaning: 'keep the screensaver off', example: 'yes', glasspane: '`inhibitScreensaver` (glasspane\'s default: on, as SDL does)', apply: (v) => ({ inhibitScreensaver: v === true }) }),
  off('win', 'autoScreensaver', { ...bool(false), meaning: 'keep the screensaver off while the guest asks', example: 'yes', why: 'the guest\'s "block the screensaver" frame flag is not followed', instead: '`win:noScreensaver=yes` (glasspane\'s default) keeps it off while the window is open', fine: isFalse }),
  on('win', 'alerts', { short: 'q', ...bool(true), meaning: 'show alerts on screen', example: 'no', glasspane: '`alerts` (no: messages go to stderr only)', apply: (v) => ({ alerts: v === true }) }),
  off('win', 'quickSplash', { ...bool(false), meaning: 'skip the splash fade', example: 'no', why: 'glasspane has no splash screen to fade: its waiting screen goes with the first frame', instead: 'nothing to set', fine: isTrue }),
  off('win', 'overlayDimsDesktop', { ...bool(true), meaning: 'dim the desktop in overlay mode', example: 'no', why: 'glasspane has no interactive overlay mode (B7\'s ImGui overlay)', instead: 'hold the escape key for the help; escape+D shows or hides the OSD' }),
  on('win', 'rotate', {
    type: 'int', def: '0', meaning: 'rotate the image', example: '90', glasspane: '`rotate` (escape+R turns it further)',
    apply: (v) => {
      if (![0, 90, 180, 270].includes(Number(v))) throw new B7ValueError(`the rotation must be 0, 90, 180 or 270, got ${String(v)}`);
      return { rotate: Number(v) as 0 | 90 | 180 | 270 };
    },
  }),
  on('win', 'uiFont', { type: 'string', def: 'DejaVu Sans Mono', meaning: 'font of the on-screen text', example: 'Noto Sans Mono', glasspane: '`uiFont` (OSD, help, messages)', apply: (v) => ({ uiFont: str(v) }) }),
  on('win', 'uiSize', { type: 'int', def: '14', meaning: 'size of the on-screen text', example: '18', glasspane: '`uiSize` (px, at window resolution)', apply: (v) => ({ uiSize: intIn(v, 6, 96, 'win:uiSize') }) }),
  off('win', 'jitRender', { ...bool(false), meaning: 'render just before the display refresh', example: 'yes', why: 'glasspane presents each frame as it arrives (vsync-paced unless --no-vsync); it does not defer rendering', instead: '`--no-vsync` for the lowest latency', fine: isFalse }),
  off('win', 'requestActivation', { ...bool(true), meaning: 'ask for attention when the guest requests it', example: 'yes', why: 'the guest\'s "request activation" frame flag is not followed: the window never asks the desktop for attention', instead: 'nothing to set', fine: isFalse }),
  on('win', 'showFPS', { short: 'k', ...bool(false), meaning: 'FPS and UPS display', example: 'yes', glasspane: '`--no-osd` / `osd` (the OSD shows FPS and UPS, and more)', apply: (v) => ({ osd: v === true }) }),
  // ---- input ----
  on('input', 'captureOnFocus', { ...bool(false), meaning: 'capture when the window gets focus', example: 'yes', glasspane: '`captureOnFocus`', apply: (v) => ({ captureOnFocus: v === true }) }),
  on('input', 'grabKeyboard', { short: 'G', ...bool(true), meaning: 'grab the keyboard in capture mode', example: 'no', glasspane: '`grabKeyboard`', apply: (v) => ({ grabKeyboard: v === true }) }),
  off('input', 'grabKeyboardOnFocus', { ...bool(false), meaning: 'grab the keyboard whenever focused', example: 'yes', why: 'glasspane grabs the keyboard only in capture mode (it sends keys to the guest only then)', instead: '`input:captureOnFocus=yes` captures, and grabs the keyboard, whenever the window gets focus', fine: isFalse }),
  off('input', 'releaseKeysOnFocusLoss', { ...bool(true), meaning: 'release held keys on focus loss', example: 'no', why: 'glasspane always releases every key held in the guest when the window loses focus, so none sticks', instead: 'nothing to set', fine: isTrue }),
  on('input', 'escapeKey', {
    short: 'm', type: 'custom', def: '70 = KEY_SCROLLLOCK', meaning: 'the escape (menu) key', example: 'KEY_RIGHTCTRL', glasspane: '`--escape-key NAME` / `escapeKey` (KEY_* names, numbers and KeyboardEvent.code names)',
    apply: (v) => {
      // B7 answers "help" with the valid names; so does glasspane (as the refusal's text).
      if (str(v).toLowerCase() === 'help') throw new B7ValueError(`the key names: ${KNOWN_KEY_NAMES.filter((n) => n.startsWith('KEY_')).join(' ')} (and KeyboardEvent.code names such as ScrollLock)`);
      const code = keyName(str(v));
      if (!code) throw new B7ValueError(unknownKeyMessage(str(v)));
      return { escapeKey: code };
    },
  }),
  on('input', 'ignoreWindowsKeys', { ...bool(false), meaning: 'do not send the Windows keys', example: 'yes', glasspane: '`ignoreWindowsKeys` (escape+LWin/RWin still send them)', apply: (v) => ({ ignoreWindowsKeys: v === true }) }),
  on('input', 'hideCursor', { short: 'M', ...bool(true), meaning: 'hide the host pointer over the window', example: 'yes', glasspane: '`hideCursor` (glasspane hides it in capture always; yes hides it outside capture too)', apply: (v) => ({ hideCursor: v === true }) }),
  on('input', 'mouseSens', { type: 'int', def: '0', meaning: 'mouse sensitivity, -9..9', example: '3', glasspane: '`mouseSens` (escape+Insert/Delete change it; the OSD shows it)', apply: (v) => ({ mouseSens: Math.max(-9, Math.min(9, Number(v))) }) }),
  off('input', 'mouseSmoothing', { ...bool(true), meaning: 'smooth non-raw motion', example: 'yes', why: 'glasspane sends the mouse\'s own deltas in capture mode; there is no non-raw motion to smooth', instead: '`input:mouseSens`', fine: isFalse }),
  on('input', 'rawMouse', {
    ...bool(false), meaning: 'raw mouse input in capture mode', example: 'yes', glasspane: 'what glasspane always does (SDL relative mode: XInput2 raw motion)', apply: () => ({}),
    refuses: { values: 'no', when: (v) => v === false, why: 'in capture glasspane always sends the mouse\'s raw deltas; there is no accelerated path' }, instead: '`input:mouseSens` scales the raw deltas',
  }),
  off('input', 'mouseRedraw', { ...bool(true), meaning: 'mouse movement triggers a redraw', example: 'no', why: 'every guest cursor move is presented as it arrives; there is no separate redraw to turn off', instead: 'nothing to set', fine: isTrue }),
  on('input', 'autoCapture', { ...bool(false), meaning: 'keep the mouse captured when needed', example: 'yes', glasspane: '`autoCapture`: capture while the guest hides its cursor (a game), release when it shows it again', apply: (v) => ({ autoCapture: v === true }) }),
  on('input', 'captureOnly', {
    ...bool(false), meaning: 'send input only in capture mode', example: 'yes', glasspane: 'what glasspane always does', apply: () => ({}),
    refuses: { values: 'no', when: (v) => v === false, why: 'glasspane sends keyboard and mouse to the guest only in capture mode' }, instead: '`spice:captureOnStart=yes` or `input:captureOnFocus=yes` to be in capture mode at once',
  }),
  on('input', 'helpMenuDelay', { type: 'int', def: '200', meaning: 'hold time before the help shows (ms)', example: '300', glasspane: '`helpDelayMs` (a shorter press is a tap: capture on/off)', apply: (v) => ({ helpDelayMs: intIn(v, 0, 10000, 'input:helpMenuDelay') }) }),
  // ---- spice ----
  on('spice', 'enable', { short: 's', ...bool(true), meaning: 'use SPICE', example: 'no', glasspane: '`--spice ADDR` / `spice` (yes: connect to spice:host and spice:port; no: no SPICE)', apply: (v) => ({ spiceEnable: v === true }) }),
  on('spice', 'host', { short: 'c', type: 'string', def: '127.0.0.1', meaning: 'SPICE host, or socket path when port is 0', example: '/run/win11/spice.sock', glasspane: '`--spice HOST:PORT` or `unix:PATH` (a host that is a path is a unix socket, whatever the port)', apply: (v) => ({ spiceHost: str(v) }) }),
  on('spice', 'port', { short: 'p', type: 'int', def: '5900', meaning: 'SPICE port (0: unix socket)', example: '5901', glasspane: '`--spice HOST:PORT` or `unix:PATH`', apply: (v) => ({ spicePort: intIn(v, 0, 65535, 'spice:port') }) }),
  on('spice', 'input', { ...bool(true), meaning: 'send keyboard and mouse over SPICE', example: 'no', glasspane: '`spiceInput` (no: starts with input off; escape+I turns it on)', apply: (v) => ({ spiceInput: v === true }) }),
  on('spice', 'clipboard', { ...bool(true), meaning: 'share the clipboard', example: 'no', glasspane: '`--no-clipboard` / `clipboard`', apply: (v) => ({ clipboard: v === true }) }),
  on('spice', 'clipboardToVM', { ...bool(true), meaning: 'host clipboard to the guest', example: 'no', glasspane: '`clipboardToGuest`', apply: (v) => ({ clipboardToGuest: v === true }) }),
  on('spice', 'clipboardToLocal', { ...bool(true), meaning: 'guest clipboard to the host', example: 'no', glasspane: '`clipboardToHost`', apply: (v) => ({ clipboardToHost: v === true }) }),
  on('spice', 'audio', { ...bool(true), meaning: 'guest audio over SPICE', example: 'no', glasspane: '`--no-audio` / `audio`', apply: (v) => ({ audio: v === true }) }),
  off('spice', 'scaleCursor', { short: 'j', ...bool(true), meaning: 'scale pointer motion outside capture', example: 'no', why: 'glasspane sends no motion outside capture mode; in capture it is raw, and SPICE client-mode positions are always mapped through the scaled frame', instead: '`input:mouseSens`; `--spice-mouse client` for absolute positions', fine: isTrue }),
  on('spice', 'captureOnStart', { ...bool(false), meaning: 'capture at start', example: 'yes', glasspane: '`captureOnStart` (capture as soon as the window has focus)', apply: (v) => ({ captureOnStart: v === true }) }),
  off('spice', 'alwaysShowCursor', { ...bool(false), meaning: 'always show the host pointer', example: 'yes', why: NO_CURSOR_MODE, instead: '`input:hideCursor=no` (glasspane\'s default) shows it outside capture', fine: isFalse }),
  off('spice', 'showCursorDot', { ...bool(true), meaning: 'a dot cursor while unfocused', example: 'yes', why: NO_CURSOR_MODE + ' (no dot cursor)', instead: '`input:hideCursor`', fine: isFalse }),
  off('spice', 'largeCursorDot', { ...bool(false), meaning: 'a larger dot cursor', example: 'yes', why: NO_CURSOR_MODE + ' (no dot cursor)', instead: '`input:hideCursor`', fine: isFalse }),
  // ---- audio ----
  on('audio', 'periodSize', { type: 'int', def: '2048', meaning: 'audio device period (samples)', example: '512', glasspane: '`audioPeriodFrames` (SDL\'s device buffer, default 512)', apply: (v) => ({ audioPeriodFrames: intIn(v, 64, 16384, 'audio:periodSize') }) }),
  on('audio', 'bufferLatency', { type: 'int', def: '13', meaning: 'extra buffering (ms)', example: '20', glasspane: '`audioBufferMs` (the jitter buffer\'s least margin, default 20)', apply: (v) => ({ audioBufferMs: intIn(v, 0, 1000, 'audio:bufferLatency') }) }),
  on('audio', 'micDefault', {
    type: 'custom', def: 'prompt', meaning: 'when the guest opens the microphone: prompt, allow or deny', example: 'allow', glasspane: '`micDefault` (`--microphone` = allow; glasspane\'s default: deny; escape+C cycles it)',
    apply: (v) => {
      const s = str(v).toLowerCase();
      if (s !== 'prompt' && s !== 'allow' && s !== 'deny') throw new B7ValueError(`"${str(v)}" is not prompt, allow or deny`);
      return { micDefault: s };
    },
  }),
  on('audio', 'micShowIndicator', { ...bool(true), meaning: 'show when the microphone is live', example: 'no', glasspane: '`micIndicator` (MIC LIVE on the OSD)', apply: (v) => ({ micIndicator: v === true }) }),
  on('audio', 'syncVolume', { ...bool(true), meaning: 'follow the guest\'s volume', example: 'no', glasspane: '`syncVolume` (no: the guest\'s volume and mute are not applied)', apply: (v) => ({ syncVolume: v === true }) }),
  // ---- egl ----
  on('egl', 'vsync', { ...bool(false), meaning: 'vsync', example: 'yes', glasspane: '`--no-vsync` / `vsync` (glasspane\'s default: on)', apply: (v) => ({ vsync: v === true }) }),
  off('egl', 'doubleBuffer', { ...bool(false), meaning: 'double buffering', example: 'yes', why: EGL_ONLY, instead: '`egl:vsync` / `--no-vsync`' }),
  off('egl', 'multisample', { ...bool(true), meaning: 'multisampling', example: 'no', why: 'B7\'s EGL multisampling of its own drawing; glasspane draws no geometry that needs it', instead: 'nothing to set' }),
  off('egl', 'nvGainMax', { type: 'int', def: '1', meaning: 'night vision maximum gain', example: '4', why: 'night vision is a B7 EGL shader; ' + NO_SHADERS, instead: 'the guest\'s own brightness or gamma settings' }),
  off('egl', 'nvGain', { type: 'int', def: '0', meaning: 'night vision gain at start', example: '1', why: 'night vision is a B7 EGL shader; ' + NO_SHADERS, instead: 'the guest\'s own brightness or gamma settings', fine: { values: '0', when: (v) => v === 0 } }),
  off('egl', 'cbMode', { type: 'int', def: '0', meaning: 'colour-blind filter', example: '1', why: 'colour-blind filters are B7 EGL shaders; ' + NO_SHADERS, instead: 'the desktop\'s or the guest\'s colour filters', fine: { values: '0', when: (v) => v === 0 } }),
  on('egl', 'scale', {
    type: 'int', def: '0', meaning: 'scaling: 0 auto, 1 nearest, 2 linear', example: '1', glasspane: '`scaling` (auto: linear, nearest with --integer-scale)',
    apply: (v) => {
      const mode = (['auto', 'nearest', 'linear'] as const)[Number(v)];
      if (!mode) throw new B7ValueError(`egl:scale must be 0 (auto), 1 (nearest) or 2 (linear), got ${String(v)}`);
      return { scaling: mode };
    },
  }),
  off('egl', 'debug', { ...bool(false), meaning: 'EGL debug output', example: 'yes', why: 'there is no EGL to debug', instead: 'NODE_DEBUG=glasspane:viewer names the renderer SDL uses', fine: isFalse }),
  off('egl', 'noBufferAge', { ...bool(false), meaning: 'no partial redraws by buffer age', example: 'yes', why: EGL_ONLY + ' (glasspane uploads only damaged rectangles and redraws the window whole)', instead: 'nothing to set', fine: isFalse }),
  off('egl', 'noSwapDamage', { ...bool(false), meaning: 'no swap with damage', example: 'yes', why: EGL_ONLY, instead: 'nothing to set', fine: isFalse }),
  off('egl', 'scalePointer', { ...bool(true), meaning: 'keep the pointer 1:1 when downscaling', example: 'yes', why: 'the guest cursor is drawn in guest pixels and scales with the frame', instead: 'nothing to set', fine: isFalse }),
  off('egl', 'mapHDRtoSDR', { ...bool(true), meaning: 'map HDR to SDR', example: 'yes', why: HDR, instead: 'turn HDR off in the guest', fine: isFalse }),
  off('egl', 'peakLuminance', { type: 'int', def: '250', meaning: 'HDR to SDR peak luminance (nits)', example: '400', why: HDR, instead: 'turn HDR off in the guest' }),
  off('egl', 'maxCLL', { type: 'int', def: '10000', meaning: 'HDR to SDR content light level (nits)', example: '1000', why: HDR, instead: 'turn HDR off in the guest' }),
  off('egl', 'preset', { type: 'string', def: 'NULL', meaning: 'filter preset to load', example: 'fsr', why: 'filter presets (FSR, CAS, downscale) are B7 EGL shaders; ' + NO_SHADERS, instead: '`--integer-scale` or `egl:scale=1` for sharp pixels' }),
  // ---- opengl ----
  off('opengl', 'mipmap', { ...bool(true), meaning: 'mipmaps when downscaling', example: 'yes', why: 'SDL\'s renderer scales with linear or nearest filtering, without mipmaps', instead: '`egl:scale` / `scaling`', fine: isFalse }),
  on('opengl', 'vsync', { ...bool(false), meaning: 'vsync', example: 'yes', glasspane: '`--no-vsync` / `vsync` (glasspane\'s default: on)', apply: (v) => ({ vsync: v === true }) }),
  off('opengl', 'preventBuffer', { ...bool(true), meaning: 'keep the driver from buffering frames', example: 'yes', why: 'a setting of B7\'s OpenGL renderer; SDL\'s renderer manages its own swap', instead: '`--no-vsync` for the lowest latency' }),
  off('opengl', 'amdPinnedMem', { ...bool(true), meaning: 'GL_AMD_pinned_memory uploads', example: 'yes', why: 'uploads go through SDL streaming textures, not B7\'s OpenGL renderer', instead: 'nothing to set', fine: isFalse }),
  // ---- registered only with some modules (not in the 86 of --help) ----
  off('eglFilter', 'downscale', { ...bool(false), meaning: 'downscale filter', example: 'yes', why: FILTER, instead: 'the guest\'s own resolution', fine: isFalse }),
  off('eglFilter', 'downscalePixelSize', { type: 'float', def: '2.0', meaning: 'downscale pixel size', example: '2.0', why: FILTER, instead: 'the guest\'s own resolution' }),
  off('eglFilter', 'downscaleHOffset', { type: 'float', def: '0.0', meaning: 'downscale horizontal offset', example: '0.5', why: FILTER, instead: 'nothing to set' }),
  off('eglFilter', 'downscaleVOffset', { type: 'float', def: '0.0', meaning: 'downscale vertical offset', example: '0.5', why: FILTER, instead: 'nothing to set' }),
  off('eglFilter', 'downscaleFilter', { type: 'int', def: '0', meaning: 'downscale filter type', example: '1', why: FILTER, instead: 'nothing to set' }),
  off('eglFilter', 'ffxCAS', { ...bool(false), meaning: 'AMD FidelityFX CAS', example: 'yes', why: FILTER, instead: 'sharpening in the guest (the GPU driver\'s image sharpening)', fine: isFalse }),
  off('eglFilter', 'ffxCASSharpness', { type: 'float', def: '0.0', meaning: 'CAS sharpness', example: '0.5', why: FILTER, instead: 'sharpening in the guest' }),
  off('eglFilter', 'ffxFSR', { ...bool(false), meaning: 'AMD FidelityFX FSR', example: 'yes', why: FILTER, instead: '`--integer-scale` for a lower guest resolution shown sharp', fine: isFalse }),
  off('eglFilter', 'ffxFSRSharpness', { type: 'float', def: '1.0', meaning: 'FSR sharpness', example: '0.8', why: FILTER, instead: 'nothing to set' }),
  off('eglFilter', 'order', { type: 'string', def: '', meaning: 'order of the filters', example: 'ffxFSR;ffxCAS', why: FILTER, instead: 'nothing to set', fine: { values: 'empty', when: (v) => v === '' } }),
  off('wayland', 'warpSupport', { ...bool(true), meaning: 'pointer warping on Wayland', example: 'no', why: 'glasspane uses SDL\'s relative mode (pointer constraints on Wayland) and warps only when that is refused, which SDL decides', instead: 'nothing to set' }),
  off('wayland', 'fractionScale', { ...bool(true), meaning: 'fractional scaling on Wayland', example: 'no', why: 'SDL handles the output scale; glasspane draws in the window\'s pixels', instead: 'nothing to set' }),
  off('i3', 'globalFullScreen', { ...bool(false), meaning: 'i3 fullscreen across all monitors', example: 'yes', why: 'glasspane\'s fullscreen covers the display under the window; it does not ask i3 for its global mode', instead: '`--fullscreen`', fine: isFalse }),
  on('pipewire', 'outDevice', { type: 'string', def: '(the default sink)', meaning: 'playback device', example: 'alsa_output.pci-0000_00_1f.3.analog-stereo', glasspane: '`--audio-device NAME` / `audioDevice` (an SDL device name; an unknown one is an error listing them)', apply: (v) => ({ audioDevice: str(v) }) }),
  on('pipewire', 'recDevice', { type: 'string', def: '(the default source)', meaning: 'recording device', example: 'alsa_input.usb-mic', glasspane: '`--microphone-device NAME` / `microphoneDevice`', apply: (v) => ({ microphoneDevice: str(v) }) }),
]);

/** A bare boolean flips; this is what B7 flips from when nothing set the option yet. */
export const b7DefaultBool = (o: B7Option): boolean => o.b7Default === 'yes';
