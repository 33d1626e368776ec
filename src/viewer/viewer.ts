/**
 * The viewer: a window that shows the guest and takes the user's keyboard and mouse to it.
 * Composition only — the parts are:
 *   - a FrameSource: the relay on its own thread (ThreadedRelay), so consuming frames never waits
 *     for presenting them; the newest frame wins, the rest are counted as skipped;
 *   - a WindowBackend: the SDL window (SdlWindowBackend) or a fake in tests;
 *   - FramePresenter: frame + cursor/OSD/help overlays onto the window, the fault barrier;
 *   - InputController: capture mode, the escape key, keys and mouse to the InputSink;
 *   - the clipboard and audio bridges, lent the window's clipboard and audio devices.
 * Presents are coalesced: any number of changes in one turn of the event loop make one present.
 */
import { debuglog } from 'node:util';
import type { InputSink } from '../input/sink.js';
import type { RelayState } from '../relay/frame-relay.js';
import type { FrameSource } from '../relay/frame-source.js';
import { ThreadedRelay } from '../relay/threaded-relay.js';
import { FramePresenter } from './frame-presenter.js';
import { InputController } from './input-controller.js';
import { SdlWindowBackend, type SdlWindowOptions } from './sdl-backend.js';
import type { ViewerLook } from './viewer-look.js';
import { ViewerActions } from './viewer-actions.js';
import type { WindowBackend } from './window-backend.js';
import { windowTitle } from './window-title.js';
import { turnedSize } from './geometry.js';
import { AUDIO_WITHOUT_SPICE, captureWithoutInput, inputLine, titleNote } from './input-reach.js';
import type { ViewerFigures } from './viewer-stats.js';
import type { ClipboardBridge } from './clipboard-bridge.js';
import type { AudioBridge, AudioFigures } from './audio-bridge.js';
import { uuidMismatchWarning } from '../spice/main-channel.js';

const log = debuglog('glasspane:viewer');

/**
 * What a Viewer shows and where input goes. Sizes in window units, times in ms. The sink, the
 * clipboard and audio bridges are the caller's: the viewer uses them while it runs, closes the
 * audio bridge when it closes, and leaves the sink and the clipboard bridge to the caller.
 */
export interface ViewerOptions extends ViewerLook {
  shm: string;
  /** Initial window size (default 1280x720). */
  size?: { width: number; height: number };
  fullscreen?: boolean;
  vsync?: boolean;
  integerScale?: boolean;
  osd?: boolean;
  /** Name of the escape key (default ScrollLock): a KeyboardEvent.code or KEY_* name. */
  escapeKey?: string;
  sink: InputSink;
  /** Shown on the OSD ("stub ws://…", "spice 127.0.0.1:5900", "none"). */
  inputName: string;
  /** Whether the sink delivers now (default true); a SPICE sink starts false and follows setInputStatus(). */
  inputReachable?: boolean;
  title?: string;
  screenshotDir?: string;
  copyTimeoutMs?: number;
  /** Called once a second with the OSD's figures. */
  onFigures?: (f: ViewerFigures & FrameSourceFigures & { capture: boolean; mouseSens: number; width: number; height: number; format: string; audio?: AudioFigures }) => void;
  onMessage?: (m: string) => void;
  /** Shares clipboard text with the guest (the SPICE agent); the viewer lends it the window's clipboard. */
  clipboard?: ClipboardBridge;
  /** Guest audio both ways (SPICE playback/record); the viewer lends it the window's audio devices. */
  audio?: AudioBridge;
  /** Opens the window (default: an SDL window); tests pass a fake. */
  openWindow?: (o: SdlWindowOptions) => Promise<WindowBackend>;
  /** Where frames come from (default: the relay on its own thread, reading `shm`). */
  source?: FrameSource;
}

/** The frame source's side of --stats: what the relay is doing and the last problem it met. */
export interface FrameSourceFigures {
  state: RelayState;
  lastProblemCode: string | null;
  /** Guest frames consumed but not shown: superseded by a newer one, or skipped by the relay. */
  skipped: number;
}

/**
 * One viewer window (see the module comment). Main thread only (SDL). Guest data reaches it
 * validated by the relay thread; whatever goes wrong presenting is shown as a message, never
 * thrown. Frames the relay copied stay in its mailbox slots; the viewer holds one at a time.
 */
export class Viewer {
  private readonly source: FrameSource;
  private backend: WindowBackend | null = null;
  private presenter: FramePresenter | null = null;
  private input: InputController | null = null;
  private scheduled = false;
  private osdOn: boolean;
  private help = false;
  private messages: Array<{ text: string; until: number }> = [];
  private status = 'waiting for the guest…';
  private title: string;
  private ticker: NodeJS.Timeout | null = null;
  private done!: () => void;
  private readonly finished: Promise<void>;
  private closed = false;
  /** Why the viewer ended on its own (the frame source could not start): run() rejects with it. */
  private failure: unknown = null;
  /** What the OSD showed at the last tick (see tick()), and its skipped count. */
  private osdKey = '';
  private osdSkipped = 0;
  /** When the last input hint went to the frame source (ms). */
  private lastHint = 0;
  private inputName: string;
  private inputReachable: boolean;
  private wasCapturing = false;
  private inputVmUuid = '';
  private warnedUuid = false;
  private focused = false;
  private actions: ViewerActions | null = null;
  private unwireClipboard: () => void = () => {};

  constructor(private readonly o: ViewerOptions) {
    this.source = o.source ?? new ThreadedRelay({ path: o.shm, copyTimeoutMs: o.copyTimeoutMs });
    this.osdOn = o.osd ?? true;
    this.inputName = o.inputName;
    this.inputReachable = o.inputReachable ?? true;
    this.title = o.title ?? '';
    this.finished = new Promise((resolve) => (this.done = resolve));
  }

  /**
   * Opens the window and starts showing frames; resolves when the user quits or close() is
   * called. Rejects before the window shows with GlasspaneError ERR_NO_DISPLAY / ERR_NO_SDL /
   * ERR_PRESENTER (the window cannot be made or drawn in), ERR_AUDIO_DEVICE (an unknown
   * --audio-device) or ERR_CONFIG (an unknown escape key); after it showed, with the frame
   * source's start() error (ERR_RELAY_THREAD: the relay thread's module is missing), having
   * closed the window. Call it once.
   */
  async run(): Promise<void> {
    const o = this.o;
    const size = o.size ?? { width: 1280, height: 720 };
    const open = o.openWindow ?? ((w) => SdlWindowBackend.open(w));
    const backend = (this.backend = await open({
      title: this.windowTitle(),
      width: size.width,
      height: size.height,
      fullscreen: o.fullscreen ?? false,
      vsync: o.vsync ?? true,
      warn: (m) => this.message(m),
      appId: { id: o.appId ?? 'glasspane', explicit: o.appIdExplicit ?? false },
      inhibitScreensaver: o.inhibitScreensaver,
      position: o.position,
      borderless: o.borderless,
      resizable: o.resizable,
      maximize: o.maximize,
      hideCursor: o.hideCursor,
    }));
    if (this.closed) {
      backend.destroy(); // closed while the window was opening
      return;
    }
    if (o.audio && backend.audio) o.audio.attachHost(backend.audio, () => this.touch()); // throws for an unknown device name
    o.audio?.onMessage((m) => this.message(m));
    const uiFont = { family: o.uiFont ?? 'DejaVu Sans Mono', size: o.uiSize ?? 14 };
    const presenter = (this.presenter = new FramePresenter({ ...o, surface: backend, source: this.source, uiFont, message: (m) => this.message(m) }));
    this.actions = new ViewerActions({
      toggleFullscreen: () => backend.toggleFullscreen(),
      quit: () => void this.close(),
      toggleOsd: () => (this.osdOn = !this.osdOn),
      screenshot: () => this.screenshot(),
      rotate: () => presenter.rotate(),
      audio: o.audio,
      message: (m) => this.message(m),
      changed: () => this.touch(),
    });
    this.input = new InputController({
      ...o,
      backend,
      onAction: (a, binding) => this.actions!.run(a, binding),
      onHelp: (on) => this.setHelp(on),
      onChange: () => {
        backend.setTitle(this.windowTitle());
        this.noteCaptureWithoutInput();
        this.touch();
      },
      message: (m) => this.message(m),
      toGuest: (x, y) => presenter.toGuest(x, y),
      quarterTurns: () => presenter.quarterTurns,
    });
    backend.on('close', () => {
      if (o.ignoreQuit) this.message(`closing the window is ignored (win:ignoreQuit): ${o.escapeKey ?? 'ScrollLock'}+Q quits`);
      else void this.close();
    });
    backend.on('focus', () => (this.focused = true));
    backend.on('blur', () => {
      this.focused = false;
      if (o.minimizeOnFocusLoss) backend.minimize();
    });
    // Input on its way to the guest: the guest's answer (a cursor move, a redraw) is due soon, so
    // the relay stops its idle backoff now rather than seeing the change up to one backoff late.
    for (const e of ['keyDown', 'mouseMove', 'mouseButton', 'mouseWheel'] as const) backend.on(e, () => this.hintSource());
    backend.on('geometry', () => this.touch());
    backend.on('expose', () => this.touch());
    this.wireSource();
    this.wireClipboard(backend);
    this.ticker = setInterval(() => this.tick(), 1000);
    // A source that cannot start (the relay thread's module is missing) ends the viewer with its
    // error instead of leaving a window that never shows anything, or an unhandled rejection.
    this.source.start().catch((err: unknown) => {
      this.failure = err;
      void this.close();
    });
    this.schedule();
    await this.finished;
    if (this.failure) throw this.failure;
  }

  /**
   * Stops everything: capture released, the relay thread and audio closed, the window destroyed;
   * then run() resolves. Does not close the input sink (the caller's). Safe to call twice.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.ticker) clearInterval(this.ticker);
    this.input?.close();
    this.o.audio?.close();
    await this.source.close();
    this.unwireClipboard();
    if (this.backend && !this.backend.destroyed) this.backend.destroy();
    this.done();
  }

  /**
   * The input target's state for the OSD (e.g. "SPICE: connected to win11"); `vmUuid` checks it is
   * the VM we show; `reachable` false says input has nowhere to go (OSD, title, audio line).
   */
  setInputStatus(text: string, vmUuid?: string, reachable?: boolean): void {
    this.inputName = text;
    if (vmUuid) this.inputVmUuid = vmUuid;
    if (reachable !== undefined && reachable !== this.inputReachable) {
      this.inputReachable = reachable;
      this.backend?.setTitle(this.windowTitle());
      this.wasCapturing = false; // capture that outlived a reconnect is told again if SPICE drops again
      this.noteCaptureWithoutInput();
    }
    this.checkSameVm();
    this.touch();
  }

  /** Says so when capture is on (newly, or input just went down) while input has nowhere to go. */
  private noteCaptureWithoutInput(): void {
    const capturing = Boolean(this.input?.capture && this.input.inputEnabled);
    if (capturing && !this.wasCapturing && !this.inputReachable) this.message(captureWithoutInput(this.inputName));
    this.wasCapturing = capturing;
  }

  /** Writes the shown guest frame (without cursor or OSD) as a PNG; returns the file name. */
  screenshot(): Promise<string> {
    if (!this.presenter) return Promise.reject(new Error('no guest frame yet'));
    return this.presenter.screenshot(this.o.screenshotDir ?? process.cwd());
  }

  /** Warns once per session when SPICE and the frames come from different VMs (SPICE uuid vs KVMFR VMINFO uuid). */
  private checkSameVm(): void {
    const frames = this.source.session?.vmInfo?.uuid;
    if (!frames || this.warnedUuid) return;
    const warning = uuidMismatchWarning(this.inputVmUuid || undefined, Buffer.from(frames, 'hex'));
    if (!warning) return;
    this.warnedUuid = true;
    this.message(warning);
  }

  /** Tells the frame source a change is likely soon, at most every 100 ms. */
  private hintSource(): void {
    const now = performance.now();
    if (now - this.lastHint < 100) return;
    this.lastHint = now;
    this.source.hint?.();
  }

  private windowTitle(): string {
    return windowTitle({ title: this.title, capture: this.input?.capture ?? false, escapeKey: this.o.escapeKey ?? 'ScrollLock' }) + titleNote(this.input?.inputEnabled ?? true, this.inputReachable);
  }

  /** A message for the OSD (with its fix on the same line) and onMessage (the fix on a line of its own, as errors are printed). */
  private message(text: string, fix?: string): void {
    const shown = fix ? `${text} — ${fix}` : text;
    if (this.messages.at(-1)?.text === shown) return; // the same problem again: once is enough
    this.messages.push({ text: shown, until: performance.now() + 10_000 });
    if (this.messages.length > 5) this.messages.shift();
    this.o.onMessage?.(fix ? `${text}\n  fix: ${fix}` : text);
    this.touch();
  }

  private wireSource(): void {
    const s = this.source;
    s.on('ready', () => this.schedule());
    s.on('format', (info) => {
      log('format %d: %dx%d %s', info.formatVer, info.frameWidth, info.frameHeight, info.format.name);
      this.fitWindow(info.frameWidth, info.frameHeight);
    });
    s.on('cursor', (c) => {
      this.presenter?.cursor(c);
      if (this.o.autoCapture) this.input?.guestCursorVisible(c.visible, this.focused);
      this.touch();
    });
    s.on('session', (ev) => {
      this.presenter?.newSession();
      this.warnedUuid = false;
      this.checkSameVm();
      if (!this.o.title) {
        this.title = `${ev.info.producerVersion || 'guest'}${ev.info.osInfo ? ` on ${ev.info.osInfo.name}` : ''}`;
        this.backend?.setTitle(this.windowTitle());
      }
      this.status = '';
    });
    s.on('status', (ev) => {
      if (ev.state !== 'connected') this.status = ev.message;
      this.touch();
    });
    s.on('problem', (p) => this.message(p.message, p.fix));
  }

  private wireClipboard(backend: WindowBackend): void {
    const bridge = this.o.clipboard;
    const host = backend.clipboard;
    if (!bridge || !host) return;
    bridge.attachHost(host);
    const onUpdate = () => bridge.hostMaybeChanged();
    host.on('update', onUpdate);
    // On X11, SDL hears of another application's copy only if it owned the clipboard before:
    // coming back to the window is when the user is about to paste, so look again then.
    const onFocus = () => bridge.hostMaybeChanged();
    backend.on('focus', onFocus);
    // A listener keeps SDL's event polling (and so the process) alive: it goes when the window does.
    this.unwireClipboard = () => {
      host.off?.('update', onUpdate);
      backend.off('focus', onFocus);
      bridge.detachHost();
    };
  }

  /**
   * A new guest resolution: win:autoResize gives the window the frame's (turned) size;
   * win:shrinkOnUpscale with dontUpscale shrinks a window larger than the frame to it.
   */
  private fitWindow(width: number, height: number): void {
    const b = this.backend;
    if (!b || b.destroyed || width < 1 || height < 1) return;
    const t = turnedSize(width, height, this.presenter?.quarterTurns ?? 0);
    if (this.o.autoResize) b.setSize(t.width, t.height);
    else if (this.o.shrinkOnUpscale && this.o.dontUpscale && (b.pixelWidth > t.width || b.pixelHeight > t.height)) b.setSize(Math.min(b.pixelWidth, t.width), Math.min(b.pixelHeight, t.height));
  }

  private setHelp(on: boolean): void {
    if (this.help === on) return;
    this.help = on;
    this.touch();
  }

  /** Skipped frames: superseded in the mailbox, or skipped by the relay itself. */
  private get skipped(): number {
    return this.source.skipped + this.source.counters.framesSkipped;
  }

  private tick(): void {
    const now = performance.now();
    const before = this.messages.length;
    this.messages = this.messages.filter((m) => m.until > now);
    const p = this.presenter;
    if (!p) return;
    const f = p.stats.tick(now);
    const size = p.frameSize;
    this.o.onFigures?.({
      ...f,
      state: this.source.state,
      lastProblemCode: this.source.counters.lastProblemCode,
      skipped: this.skipped,
      capture: this.input?.capture ?? false,
      mouseSens: this.input?.sensitivity.level ?? 0,
      width: size?.width ?? 0,
      height: size?.height ?? 0,
      format: p.formatName,
      audio: this.o.audio?.figures(),
    });
    // Redraw only when what the OSD shows changed: an idle window (no guest frames) then costs no
    // presents at all. The render rate is left out while no frames arrive, or the refresh would
    // change it and cause the next one.
    this.osdSkipped = this.skipped;
    const osdKey = [f.ups.toFixed(0), f.ups > 0 ? f.fps.toFixed(0) : '', f.latencyMs?.toFixed(2), this.osdSkipped, this.messages.length].join('|');
    const osdChanged = osdKey !== this.osdKey;
    this.osdKey = osdKey;
    if ((this.osdOn && osdChanged) || this.messages.length !== before) this.touch();
  }

  private touch(): void {
    this.schedule();
  }

  /** Queues one present on the next turn. Before run() has made the window there is nothing to
   *  draw on: state changes (e.g. SPICE connecting while SDL loads) wait for run()'s first present. */
  private schedule(): void {
    if (this.scheduled || this.closed || !this.presenter) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      if (this.closed || !this.backend || this.backend.destroyed) return;
      const input = this.input!;
      this.presenter!.present({
        osd: this.osdOn
          ? {
              capture: input.capture,
              input: inputLine(this.inputName, input.inputEnabled, this.inputReachable),
              mouseSens: input.sensitivity.label,
              audio: this.o.audio && (this.inputReachable ? this.o.audio.osdLine() : AUDIO_WITHOUT_SPICE),
              // As of the last tick, like the rates beside it: a count that moved with every frame
              // redrew the OSD's text for every present (~4 ms a 1080p present while frames were
              // being skipped, just when presents had to be quick).
              skipped: this.osdSkipped,
              messages: this.o.alerts === false ? [] : this.messages.map((m) => m.text),
            }
          : null,
        help: this.help,
        waiting: [this.status || 'waiting for the guest…', ...this.messages.map((m) => m.text)],
        paused: this.actions?.video === false ? [`video off — ${this.o.escapeKey ?? 'ScrollLock'}+V turns it on`, ...(this.o.alerts === false ? [] : this.messages.map((m) => m.text))] : undefined,
      });
    });
  }
}
