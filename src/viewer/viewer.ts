/**
 * The viewer window: a FrameRelay's frames presented with SDL (aspect kept, resizable,
 * fullscreen), the guest cursor and the OSD as overlays over the frame (so they move without a
 * new frame and never touch it), and keyboard/mouse forwarded to an InputSink in capture mode.
 *
 * Frame path: relay copy → presenter uploads the damaged rectangles into its frame texture →
 * present (frame + overlays) → release the previous frame. No JS copy of the frame. The newest
 * frame wins: a frame arriving before the previous one was presented replaces it (its damage is
 * carried over, see damage.ts).
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { debuglog } from 'node:util';
import { FrameRelay, type LentFrame, type RelayState } from '../relay/frame-relay.js';
import type { InputSink, MouseButton } from '../input/sink.js';
import { DamageTracker } from './damage.js';
import { fitRect, windowToFrame } from './geometry.js';
import { KeyRouter, hidForCode, type EscapeAction } from './key-router.js';
import { NativePresenter, isSoftwareGl } from './native-presenter.js';
import { messageScreen } from './osd.js';
import { OverlayScene } from './overlay-scene.js';
import { presentableFormat, type Presentable } from './pixel-format.js';
import { framePng } from './screenshot.js';
import { grabWindow, hostLockState, loadSdl, type Sdl, type SdlWindow } from './sdl.js';
import { windowTitle } from './window-title.js';
import { displayUnder, FullscreenSwitch } from './fullscreen.js';
import { ViewerStats, type ViewerFigures } from './viewer-stats.js';
import { GlasspaneError } from '../errors.js';
import type { ClipboardBridge } from './clipboard-bridge.js';
import { uuidMismatchWarning } from '../spice/main-channel.js';
import type { AudioBridge, AudioFigures } from './audio-bridge.js'; // [hook: audio]
import { RelativeMouse } from './relative-mouse.js'; // [hook: relative mouse]
import { LockSync } from './lock-sync.js'; // [hook: lock keys]

const log = debuglog('glasspane:viewer');

export interface ViewerOptions {
  shm: string;
  /** Initial window size (default 1280x720). */
  size?: { width: number; height: number };
  fullscreen?: boolean;
  vsync?: boolean;
  integerScale?: boolean;
  osd?: boolean;
  /** KeyboardEvent.code name of the escape key (default ScrollLock). */
  escapeKey?: string;
  sink: InputSink;
  /** Shown on the OSD ("stub ws://…", "spice 127.0.0.1:5900", "none"). */
  inputName: string;
  title?: string;
  screenshotDir?: string;
  copyTimeoutMs?: number;
  /** Called once a second with the OSD's figures. */
  onFigures?: (f: ViewerFigures & FrameSourceFigures & { capture: boolean; width: number; height: number; format: string; audio?: AudioFigures }) => void;
  onMessage?: (m: string) => void;
  /** Shares clipboard text with the guest (the SPICE agent); the viewer lends it SDL's clipboard. */
  clipboard?: ClipboardBridge;
  /** Guest audio both ways (SPICE playback/record through SDL audio); the viewer lends it SDL. */
  audio?: AudioBridge;
}

/** The frame source's side of --stats: what the relay is doing and the last problem it met. */
export interface FrameSourceFigures {
  state: RelayState;
  lastProblemCode: string | null;
  /** Guest frames the relay acknowledged without showing them (buffers held, copy failed). */
  skipped: number;
}

const BUTTONS: Record<number, MouseButton> = { 1: 'left', 2: 'middle', 3: 'right', 4: 'side', 5: 'extra' };

export class Viewer {
  private relay: FrameRelay;
  private window!: SdlWindow;
  private sdl!: Sdl;
  private presenter: NativePresenter | null = null;
  private readonly damage = new DamageTracker();
  private readonly overlays: OverlayScene;
  private readonly stats = new ViewerStats();
  private readonly router: KeyRouter;
  private current: LentFrame | null = null;
  private pending: LentFrame | null = null;
  private format: Presentable | null = null;
  private formatVer = -1;
  private scheduled = false;
  private dirty = true;
  private capture = false;
  private inputEnabled = true;
  private osdOn: boolean;
  private help = false;
  private messages: Array<{ text: string; until: number }> = [];
  private status = 'waiting for the guest…';
  private title: string;
  private ticker: NodeJS.Timeout | null = null;
  private done!: () => void;
  private readonly finished: Promise<void>;
  private closed = false;
  private inputName: string;
  private inputVmUuid = '';
  private warnedUuid = false;
  private readonly locks: LockSync; // [hook: lock keys]
  private relMouse?: RelativeMouse; // [hook: relative mouse]
  private warnedGrab = false;
  private unwireClipboard: () => void = () => {};
  private fullscreen!: FullscreenSwitch;

  constructor(private readonly o: ViewerOptions) {
    this.relay = new FrameRelay({ path: o.shm, copyTimeoutMs: o.copyTimeoutMs });
    this.osdOn = o.osd ?? true;
    this.inputName = o.inputName;
    this.title = o.title ?? '';
    const escapeHid = hidForCode(o.escapeKey ?? 'ScrollLock');
    if (escapeHid === undefined) {
      throw new GlasspaneError('ERR_CONFIG', `unknown escape key "${o.escapeKey}"`, 'use a KeyboardEvent.code name such as ScrollLock, Pause or ControlRight');
    }
    this.router = new KeyRouter(escapeHid, () => this.capture && this.inputEnabled, { onHelp: (on) => this.setHelp(on) });
    this.overlays = new OverlayScene(o.escapeKey ?? 'ScrollLock');
    // [hook: lock keys] ScrollLock is synced only when it is not the escape key (its taps toggle it).
    this.locks = new LockSync({ sink: o.sink, host: hostLockState, scroll: (o.escapeKey ?? 'ScrollLock') !== 'ScrollLock', warn: (m) => this.message(m) });
    this.finished = new Promise((resolve) => (this.done = resolve));
  }

  /** Opens the window and starts showing frames; resolves when the user quits or close() is called. */
  async run(): Promise<void> {
    this.sdl = await loadSdl();
    this.o.audio?.attachHost(this.sdl.audio, () => this.touch()); // [hook: audio] throws for an unknown device name
    const size = this.o.size ?? { width: 1280, height: 720 };
    this.window = this.sdl.video.createWindow({
      title: this.windowTitle(),
      width: size.width,
      height: size.height,
      resizable: true,
      fullscreen: this.o.fullscreen ?? false,
      vsync: this.o.vsync ?? true,
    });
    this.presenter = NativePresenter.attach(this.window);
    this.chooseRenderer();
    this.relMouse = new RelativeMouse(this.sdl, this.window, (m) => this.message(m)); // [hook: relative mouse]
    this.fullscreen = new FullscreenSwitch(this.window, () => displayUnder(this.window, this.sdl.video.displays));
    this.wireWindow();
    this.wireRelay();
    this.wireClipboard();
    this.ticker = setInterval(() => this.tick(), 1000);
    void this.relay.start();
    this.schedule();
    await this.finished;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.ticker) clearInterval(this.ticker);
    this.fullscreen?.dispose();
    this.setCapture(false);
    this.locks.close(); // [hook: lock keys]
    this.o.audio?.close(); // [hook: audio]
    await this.relay.close();
    this.pending?.release();
    this.current?.release();
    this.pending = this.current = null;
    this.unwireClipboard();
    this.presenter?.close();
    if (this.window && !this.window.destroyed) this.window.destroy();
    this.done();
  }

  /**
   * Without GPU acceleration (a VM, Xvfb, a missing driver) SDL's OpenGL renderer runs on a
   * software rasterizer such as llvmpipe, which costs several times more per frame than SDL's
   * own software renderer: switch to that one. SDL_RENDER_DRIVER, when the user sets it, wins.
   */
  private chooseRenderer(): void {
    const info = this.presenter!.info();
    log('renderer %s (%s), texture %s', info.renderer, info.glRenderer ?? 'no GL', info.textureFormat);
    if (process.env.SDL_RENDER_DRIVER || !isSoftwareGl(info.glRenderer)) return;
    this.window.setAccelerated(false);
    log('OpenGL is %s (software): using SDL\'s software renderer (%s)', info.glRenderer, this.presenter!.info().renderer);
  }

  /** The input target's state for the OSD (e.g. "SPICE: connected to win11"); `vmUuid` checks it is the VM we show. */
  setInputStatus(text: string, vmUuid?: string): void {
    this.inputName = text;
    if (vmUuid) this.inputVmUuid = vmUuid;
    this.checkSameVm();
    this.touch();
  }

  /** Warns once per session when SPICE and the frames come from different VMs (SPICE uuid vs KVMFR VMINFO uuid). */
  private checkSameVm(): void {
    const frames = this.relay.session?.vmInfo?.uuid;
    if (!frames || this.warnedUuid) return;
    const warning = uuidMismatchWarning(this.inputVmUuid || undefined, Buffer.from(frames, 'hex'));
    if (!warning) return;
    this.warnedUuid = true;
    this.message(warning);
  }

  private windowTitle(): string {
    return windowTitle({ title: this.title, capture: this.capture, escapeKey: this.o.escapeKey ?? 'ScrollLock' });
  }

  private message(text: string): void {
    this.messages.push({ text, until: performance.now() + 10_000 });
    if (this.messages.length > 5) this.messages.shift();
    this.o.onMessage?.(text);
    this.touch();
  }

  private wireRelay(): void {
    const r = this.relay;
    r.on('frame', (f) => {
      if (this.pending) {
        this.damage.skipped(this.pending.info);
        this.pending.release();
      }
      this.pending = f;
      this.schedule();
    });
    r.on('format', (info) => log('format %d: %dx%d %s', info.formatVer, info.frameWidth, info.frameHeight, info.format.name));
    r.on('cursor', (c) => {
      const cursor = this.overlays.cursor;
      if (c.shape) this.overlays.setCursorShape(c.shape);
      if (c.position) {
        cursor.x = c.position.x;
        cursor.y = c.position.y;
      }
      cursor.visible = c.visible;
      this.touch();
    });
    r.on('session', (s) => {
      this.formatVer = -1;
      this.damage.reset(); // a new producer's damage says nothing about the last one's frames
      this.warnedUuid = false;
      this.checkSameVm();
      if (!this.o.title) {
        this.title = `${s.info.producerVersion || 'guest'}${s.info.osInfo ? ` on ${s.info.osInfo.name}` : ''}`;
        this.window.setTitle(this.windowTitle());
      }
      this.status = '';
    });
    r.on('status', (s) => {
      if (s.state !== 'connected') this.status = s.message;
      this.touch();
    });
    r.on('problem', (p) => this.message(p.fix ? `${p.message} — ${p.fix}` : p.message));
  }

  private wireClipboard(): void {
    const bridge = this.o.clipboard;
    if (!bridge) return;
    const host = this.sdl.clipboard;
    bridge.attachHost(host);
    const onUpdate = () => bridge.hostMaybeChanged();
    host.on('update', onUpdate);
    // A listener keeps SDL's event polling (and so the process) alive: it goes when the window does.
    this.unwireClipboard = () => {
      // The module is an EventEmitter at run time; its typings only declare on().
      (host as unknown as NodeJS.EventEmitter).off('update', onUpdate);
      bridge.detachHost();
    };
    // On X11, SDL hears of another application's copy only if it owned the clipboard before:
    // coming back to the window is when the user is about to paste, so look again then.
    this.window.on('focus', () => bridge.hostMaybeChanged());
  }

  private wireWindow(): void {
    const w = this.window;
    w.on('close', () => void this.close());
    w.on('resize', () => this.geometryChanged());
    w.on('move', () => this.geometryChanged());
    w.on('expose', () => this.touch());
    w.on('blur', () => {
      // Focus loss: nothing may stay pressed in the guest, and the mouse is the user's again.
      this.setCapture(false);
      this.o.sink.releaseAll();
      this.router.reset();
    });
    w.on('keyDown', (e) => {
      this.locks.keyEvent(e); // [hook: lock keys] fallback when SDL's lock state was unknown at capture start
      const r = this.router.keyDown(e.scancode, e.repeat > 0);
      if (r.help !== undefined) this.setHelp(r.help);
      if (r.action) this.act(r.action);
      if (r.forward) this.o.sink.keyDown(e.scancode);
    });
    w.on('keyUp', (e) => {
      const r = this.router.keyUp(e.scancode);
      if (r.help !== undefined) this.setHelp(r.help);
      if (r.action) this.act(r.action);
      if (r.forward) this.o.sink.keyUp(e.scancode);
    });
    w.on('mouseMove', (e) => {
      // [hook: relative mouse] true deltas in capture; always drained so nothing stale is sent later.
      this.relMouse?.set(this.capture && !this.o.sink.absolute);
      const rel = this.relMouse?.take(e);
      if (!this.capture || !this.inputEnabled) return;
      if (this.o.sink.absolute) {
        const f = this.frameSize();
        if (!f) return;
        const p = windowToFrame(e.x, e.y, this.dstRect(f.width, f.height), f.width, f.height);
        this.o.sink.mousePosition(p.x, p.y, f.width, f.height);
        return;
      }
      if (rel) this.o.sink.mouseMotion(rel.dx, rel.dy);
    });
    const button = (down: boolean) => (e: { button: number }) => {
      if (!this.capture || !this.inputEnabled) return;
      const b = BUTTONS[e.button];
      if (b) this.o.sink.mouseButton(b, down);
    };
    w.on('mouseButtonDown', button(true));
    w.on('mouseButtonUp', button(false));
    w.on('mouseWheel', (e) => {
      if (!this.capture || !this.inputEnabled || e.dy === 0) return;
      this.o.sink.mouseWheel(e.flipped ? e.dy : -e.dy);
    });
  }

  /** The window moved or changed size (fullscreen, resize): redraw; the relative-mouse fallback re-centres. */
  private geometryChanged(): void {
    this.touch();
    if (this.capture) this.relMouse?.windowMoved();
  }

  private setHelp(on: boolean): void {
    if (this.help !== on) {
      this.help = on;
      this.touch();
    }
  }

  private setCapture(on: boolean): void {
    if (this.capture === on || !this.window || this.window.destroyed) return;
    this.capture = on;
    if (on) {
      this.sdl.mouse.hideCursor();
      this.sdl.mouse.capture();
      if (!grabWindow(this.window, true) && !this.warnedGrab) {
        this.warnedGrab = true;
        this.message('keyboard not grabbed: desktop shortcuts (Alt+Tab, Super) still go to the desktop');
      }
      this.relMouse?.set(!this.o.sink.absolute); // [hook: relative mouse]
    } else {
      this.relMouse?.set(false); // [hook: relative mouse]
      grabWindow(this.window, false);
      this.sdl.mouse.uncapture();
      this.sdl.mouse.showCursor();
      this.o.sink.releaseAll();
      this.router.reset();
    }
    this.locks.setCapture(on); // [hook: lock keys]
    this.window.setTitle(this.windowTitle());
    this.touch();
  }

  private act(a: EscapeAction): void {
    switch (a) {
      case 'toggle-capture':
        this.setCapture(!this.capture);
        break;
      case 'fullscreen':
        this.fullscreen.toggle();
        break;
      case 'quit':
        void this.close();
        break;
      case 'osd':
        this.osdOn = !this.osdOn;
        this.touch();
        break;
      case 'input':
        this.inputEnabled = !this.inputEnabled;
        if (!this.inputEnabled) this.o.sink.releaseAll();
        this.message(`input to the guest ${this.inputEnabled ? 'on' : 'off'}`);
        break;
      case 'screenshot':
        void this.screenshot().then(
          (file) => this.message(`screenshot saved: ${file}`),
          (err: Error) => this.message(`screenshot failed: ${err.message}`),
        );
        break;
    }
  }

  /** Writes the current guest frame (without cursor or OSD) as a PNG; returns the file name. */
  async screenshot(): Promise<string> {
    const f = this.current;
    if (!f) throw new Error('no guest frame yet');
    // The frame itself: the cursor and the OSD are overlays, never in it. framePng reads the
    // pixels before its first await, while the frame is still lent to us.
    const png = await framePng(f.info, f.data);
    const file = join(this.o.screenshotDir ?? process.cwd(), `glasspane-${new Date().toISOString().replace(/[:.]/g, '-')}.png`);
    await writeFile(file, png);
    return file;
  }

  private tick(): void {
    const now = performance.now();
    const before = this.messages.length;
    this.messages = this.messages.filter((m) => m.until > now);
    const f = this.stats.tick(now);
    const size = this.frameSize();
    this.o.onFigures?.({
      ...f,
      state: this.relay.state,
      lastProblemCode: this.relay.counters.lastProblemCode,
      skipped: this.relay.counters.framesSkipped,
      capture: this.capture,
      width: size?.width ?? 0,
      height: size?.height ?? 0,
      format: this.current?.info.format.name ?? '',
      audio: this.o.audio?.figures(), // [hook: audio]
    });
    if (this.osdOn || this.messages.length !== before) this.touch();
  }

  private touch(): void {
    this.dirty = true;
    this.schedule();
  }

  /** Queues one present on the next turn. Before run() has made the window there is nothing to draw on:
   *  state changes (e.g. SPICE connecting while SDL loads) only mark the view dirty; run() presents once ready. */
  private schedule(): void {
    if (this.scheduled || this.closed || !this.window) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.present();
    });
  }

  private frameSize(): { width: number; height: number } | null {
    return this.format?.ok ? { width: this.format.width, height: this.format.height } : null;
  }

  private dstRect(fw: number, fh: number) {
    return fitRect(fw, fh, this.window.pixelWidth, this.window.pixelHeight, this.o.integerScale);
  }

  /**
   * The fault barrier of the frame path: whatever goes wrong while presenting (a frame whose
   * geometry the renderer refuses, an SDL error) becomes a message on the OSD and stderr, the
   * frame is dropped, and the window stays.
   */
  private present(): void {
    try {
      this.presentNow();
    } catch (err) {
      this.current?.release();
      this.current = null;
      this.format = null;
      this.formatVer = -1;
      this.damage.reset();
      const text = `could not show the guest frame: ${err instanceof Error ? err.message : String(err)}`;
      if (this.messages.at(-1)?.text !== text) this.message(text);
      try {
        this.renderMessage([text]);
      } catch {
        // the window itself is gone or broken: the next event (or close) decides
      }
    }
  }

  private presentNow(): void {
    if (this.closed || !this.window || this.window.destroyed || !this.presenter) return;
    const fresh = this.pending;
    if (fresh) {
      this.pending = null;
      this.current?.release();
      this.current = fresh;
      // formatVer numbers a producer session's formats: a new session (or a buffer that does not
      // match the cached format) means look again.
      let fmt = this.format;
      if (fresh.info.formatVer !== this.formatVer || !fmt || !fmt.ok || fresh.data.length < fmt.stride * fmt.height) {
        this.formatVer = fresh.info.formatVer;
        fmt = this.format = presentableFormat(fresh.info);
        if (!fmt.ok) this.message(fmt.message);
      }
    } else if (!this.dirty) {
      return;
    }
    this.dirty = false;

    const cur = this.current;
    const fmt = this.format;
    const t0 = performance.now();
    if (fresh && fmt?.ok) {
      const geometry = { width: fmt.width, height: fmt.height, stride: fmt.stride, format: fmt.sdlFormat };
      this.presenter.setFrame(fresh.data, geometry, this.damage.take(fresh.info, fmt.width, fmt.height));
    }
    if (fresh && !fmt?.ok) this.damage.reset();
    if (!cur || !fmt || !fmt.ok) {
      this.renderMessage(fmt && !fmt.ok ? [fmt.message] : [this.status || 'waiting for the guest…', ...this.messages.map((m) => m.text)]);
      return;
    }
    this.placeOverlays(fmt, cur.data);
    this.presenter.present(this.dstRect(fmt.width, fmt.height), this.o.integerScale ? 'nearest' : 'linear');
    const t1 = performance.now();
    this.stats.render(t1 - t0);
    if (fresh) this.stats.frame(Number(process.hrtime.bigint() - fresh.copiedAtNs) / 1e6);
  }

  private placeOverlays(fmt: Extract<Presentable, { ok: true }>, frame: Buffer): void {
    const f = this.stats.figures;
    const osd = this.osdOn
      ? {
          fps: f.fps,
          ups: f.ups,
          latencyMs: f.latencyMs,
          resolution: `${fmt.width}x${fmt.height}`,
          format: this.current?.info.format.name ?? '',
          capture: this.capture,
          input: this.inputEnabled ? this.inputName : 'off',
          audio: this.o.audio?.osdLine(), // [hook: audio]
          messages: this.messages.map((m) => m.text),
        }
      : null;
    this.overlays.place(this.presenter!, { data: frame, width: fmt.width, height: fmt.height, stride: fmt.stride, format: fmt.sdlFormat }, osd, this.help);
  }

  private renderMessage(lines: string[]): void {
    const w = Math.max(1, this.window.pixelWidth);
    const h = Math.max(1, this.window.pixelHeight);
    const img = messageScreen(lines, w, h);
    this.window.render(w, h, w * 4, 'rgba32', img);
  }
}
