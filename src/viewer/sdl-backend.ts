/**
 * The real WindowBackend: an @kmamal/sdl window with our addon's presenter (persistent textures,
 * damage uploads, overlays), capture through the addon's grabs and SDL relative mouse mode, and
 * fullscreen that also works without a window manager. Everything SDL-specific stays here.
 */
import { EventEmitter } from 'node:events';
import { debuglog } from 'node:util';
import type { LockState } from '../input/sink.js';
import type { Rect } from './geometry.js';
import { NativePresenter, isSoftwareGl, type FrameGeometry, type OverlayPlacement, type Scaling } from './native-presenter.js';
import { messageScreen } from './osd.js';
import { displayName, grabWindow, hostLockState, loadSdl, type Sdl, type SdlHints, type SdlWindow } from './sdl.js';
import { GlasspaneError } from '../errors.js';
import { displayUnder, FullscreenSwitch } from './fullscreen.js';
import { RelativeMouse } from './relative-mouse.js';
import { SdlEventPump } from './sdl-events.js';
import type { WindowBackend, WindowEvents } from './window-backend.js';

const log = debuglog('glasspane:viewer');

/**
 * How SdlWindowBackend.open() makes the window: title, size in window units, fullscreen at start,
 * vsync, and the Looking Glass window options (position, decorations, resizing, maximized, the
 * host pointer outside capture, the application id and screensaver hints SDL takes at load).
 */
export interface SdlWindowOptions extends SdlHints {
  title: string;
  width: number;
  height: number;
  fullscreen: boolean;
  vsync: boolean;
  /** Top-left corner on the screen; centred when absent. */
  position?: { x: number; y: number };
  borderless?: boolean;
  /** False: the user cannot resize the window (default true). */
  resizable?: boolean;
  maximize?: boolean;
  /** Hide the host pointer over the window outside capture too (it is hidden in capture always). */
  hideCursor?: boolean;
  /** Told once about what works less well here (no relative mode, …). */
  warn: (message: string) => void;
}

/**
 * The SDL WindowBackend (see the module comment). Main thread only; made by open(), which throws
 * loadSdl()'s GlasspaneErrors (ERR_NO_DISPLAY, ERR_NO_SDL, ERR_DISPLAY_UNREACHABLE), ERR_PRESENTER
 * when SDL refuses the window, and NativePresenter.attach()'s ERR_PRESENTER (the window is
 * destroyed again then).
 */
export class SdlWindowBackend extends EventEmitter<WindowEvents> implements WindowBackend {
  private readonly presenter: NativePresenter;
  private readonly relative: RelativeMouse;
  private readonly fullscreen: FullscreenSwitch;
  private readonly events: SdlEventPump | null;
  private capturing = false;

  private constructor(
    private readonly sdl: Sdl,
    private readonly window: SdlWindow,
    warn: (message: string) => void,
    private readonly hideCursor: boolean,
  ) {
    super();
    this.presenter = NativePresenter.attach(window);
    this.chooseRenderer();
    this.relative = new RelativeMouse(sdl, window, warn);
    this.fullscreen = new FullscreenSwitch(window, () => displayUnder(window, sdl.video.displays), undefined, () => this.emit('geometry'));
    this.wire();
    this.events = SdlEventPump.attach(window.id);
  }

  /** Loads SDL (a display is needed) and opens the window. */
  static async open(o: SdlWindowOptions): Promise<SdlWindowBackend> {
    const sdl = await loadSdl({ appId: o.appId, inhibitScreensaver: o.inhibitScreensaver });
    let window: SdlWindow;
    try {
      window = sdl.video.createWindow({
        title: o.title,
        width: o.width,
        height: o.height,
        ...o.position,
        resizable: o.resizable ?? true,
        borderless: o.borderless ?? false,
        fullscreen: o.fullscreen,
        vsync: o.vsync,
      });
    } catch (err) {
      // The display answered when SDL started, but this window was refused (size, GL, the server went away).
      throw new GlasspaneError('ERR_PRESENTER', `cannot open a window on ${displayName()}: ${(err as Error).message}`, 'try a smaller --size or SDL_RENDER_DRIVER=software, or use --headless', { cause: err });
    }
    try {
      if (o.maximize && !o.fullscreen) window.maximize();
      if (o.hideCursor) sdl.mouse.hideCursor();
      return new SdlWindowBackend(sdl, window, o.warn, o.hideCursor ?? false);
    } catch (err) {
      window.destroy();
      throw err;
    }
  }

  /**
   * Without GPU acceleration (a VM, Xvfb, a missing driver) SDL's OpenGL renderer runs on a
   * software rasterizer such as llvmpipe, which costs several times more per frame than SDL's
   * own software renderer: switch to that one. SDL_RENDER_DRIVER, when the user sets it, wins.
   */
  private chooseRenderer(): void {
    const info = this.presenter.info();
    log('renderer %s (%s), texture %s', info.renderer, info.glRenderer ?? 'no GL', info.textureFormat);
    if (process.env.SDL_RENDER_DRIVER || !isSoftwareGl(info.glRenderer)) return;
    this.window.setAccelerated(false);
    log("OpenGL is %s (software): using SDL's software renderer (%s)", info.glRenderer, this.presenter.info().renderer);
  }

  private wire(): void {
    const w = this.window;
    w.on('close', () => this.emit('close'));
    const geometry = () => {
      if (this.capturing) this.relative.windowMoved(); // the warp fallback must not send the jump
      this.fullscreen.settle();
      this.emit('geometry');
    };
    w.on('resize', geometry);
    w.on('move', geometry);
    w.on('expose', () => this.emit('expose'));
    w.on('focus', () => this.emit('focus'));
    w.on('blur', () => this.emit('blur'));
    w.on('keyDown', (e) => this.emit('keyDown', { scancode: e.scancode, repeat: e.repeat > 0, capslock: Boolean(e.capslock), numlock: Boolean(e.numlock) }));
    w.on('keyUp', (e) => this.emit('keyUp', { scancode: e.scancode, repeat: false, capslock: Boolean(e.capslock), numlock: Boolean(e.numlock) }));
    // Relative motion is always drained, also when it is not sent: nothing stale reaches the guest later.
    w.on('mouseMove', (e) => this.emit('mouseMove', { x: e.x, y: e.y, motion: this.relative.take(e) }));
    w.on('mouseButtonDown', (e) => this.emit('mouseButton', { button: e.button, down: true }));
    w.on('mouseButtonUp', (e) => this.emit('mouseButton', { button: e.button, down: false }));
    w.on('mouseWheel', (e) => {
      if (e.dy !== 0) this.emit('mouseWheel', e.flipped ? e.dy : -e.dy);
    });
  }

  get pixelWidth(): number {
    return this.window.pixelWidth;
  }

  get pixelHeight(): number {
    return this.window.pixelHeight;
  }

  get destroyed(): boolean {
    return this.window.destroyed;
  }

  get clipboard(): WindowBackend['clipboard'] {
    return this.sdl.clipboard as unknown as WindowBackend['clipboard'];
  }

  get audio(): WindowBackend['audio'] {
    return this.sdl.audio;
  }

  setTitle(title: string): void {
    if (!this.window.destroyed) this.window.setTitle(title);
  }

  toggleFullscreen(): void {
    this.fullscreen.toggle();
  }

  minimize(): void {
    if (!this.window.destroyed) this.window.minimize();
  }

  setSize(width: number, height: number): void {
    if (this.window.destroyed || this.fullscreen.active || this.window.maximized) return;
    this.window.setSize(Math.max(1, Math.round(width)), Math.max(1, Math.round(height)));
  }

  setCapture(on: boolean, relative: boolean, keyboard = true): boolean {
    if (this.window.destroyed) return false;
    this.capturing = on;
    const mouse = this.sdl.mouse;
    if (on) {
      mouse.hideCursor();
      mouse.capture();
      const grabbed = grabWindow(this.window, true, keyboard);
      this.relative.set(relative);
      return grabbed;
    }
    this.relative.set(false);
    grabWindow(this.window, false);
    mouse.uncapture();
    if (!this.hideCursor) mouse.showCursor();
    return true;
  }

  hostLocks(): Required<LockState> | null {
    return hostLockState();
  }

  setFrame(data: Uint8Array, geometry: FrameGeometry, rects: readonly Rect[] | undefined): void {
    this.presenter.setFrame(data, geometry, rects);
  }

  setOverlay(slot: number, placement: OverlayPlacement): void {
    this.presenter.setOverlay(slot, placement);
  }

  present(dst: Rect, scaling: Scaling, quarterTurns = 0): void {
    // SDL's size is not the window's while fullscreen is pending: the last picture stays instead of a crop.
    if (this.fullscreen.pending) return;
    this.presenter.present(dst, scaling, quarterTurns);
    this.events?.afterDraw();
  }

  showMessage(lines: string[]): void {
    if (this.fullscreen.pending) return;
    const w = Math.max(1, this.window.pixelWidth);
    const h = Math.max(1, this.window.pixelHeight);
    this.window.render(w, h, w * 4, 'rgba32', messageScreen(lines, w, h));
    this.events?.afterDraw();
  }

  destroy(): void {
    this.events?.close();
    this.fullscreen.dispose();
    this.presenter.close();
    if (!this.window.destroyed) this.window.destroy();
  }
}
