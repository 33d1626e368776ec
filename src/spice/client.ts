/**
 * SpiceClient: one SPICE session (main + inputs, and the sound channels when asked for), and
 * (optionally) reconnecting with exponential backoff when QEMU restarts.
 *
 * States: idle → connecting → connected → (link lost) → waiting → connecting → ... ; `closed`
 * after close(); `failed` after an error that retrying cannot fix (canRetry(): a wrong password,
 * not a SPICE server, TLS only, a link error or key that breaks the protocol) when reconnecting.
 * Every change is reported to `onState` (the viewer's OSD shows it).
 *
 * The client is the one supervisor of its channels: they are linked as one session and end as
 * one. `connected` is a fact: it is reported only when every channel of the session is still up,
 * and a channel that ends while the others are still linking fails the attempt. A channel that
 * ends once the session is up (the server closed it, a malformed message, a missed deadline) ends
 * the whole session, reported as lost and reconnected whole. The exception is an audio channel
 * that ended on a message we refused (see AudioChannels): audio stays off for that session.
 *
 * Every wait is cancellable: close() aborts a link in flight at once (its sockets are destroyed,
 * nothing keeps the process alive), and every link step has its deadline (`timeoutMs`).
 *
 * Status that the server feeds (guest LEDs, mouse mode, VM name and uuid) is reported at most
 * every INFO_INTERVAL_MS, the latest value winning, so a server flooding LED changes costs one
 * OSD update per interval, not one per message; lifecycle changes are reported at once.
 *
 * Keys: the server releases every key it saw pressed when the inputs channel goes, so after a
 * disconnect nothing stays stuck in the guest; our own held-key record is cleared with it.
 */
import { debuglog } from 'node:util';
import type { SpiceAddress } from './address.js';
import { formatSpiceAddress } from './address.js';
import type { ClipboardHandlers } from './agent.js';
import { AudioChannels, type AudioHandlers } from './audio-channels.js';
import { canRetry, SpiceError } from './errors.js';
import { InputsChannel } from './inputs-channel.js';
import { MainChannel } from './main-channel.js';
import { ChannelType, MouseMode } from './protocol.js';
import { Session } from './session.js';
import { describeSpiceStatus, type SpiceStatus } from './status.js';

export { describeSpiceStatus, type SpiceState, type SpiceStatus } from './status.js';

const debug = debuglog('glasspane:spice');

/** Server-fed status (LEDs, mouse mode, name, uuid) is reported at most this often (ms). */
export const INFO_INTERVAL_MS = 100;

/**
 * How a SpiceClient connects and what it reports. Times in milliseconds; the callbacks run on
 * the main thread from socket and timer events.
 */
export interface SpiceClientOptions {
  address: SpiceAddress;
  password?: string;
  /** Per-attempt link timeout, default 10 s. */
  timeoutMs?: number;
  /** How long a full motion window waits for the server's MOTION_ACK (default MOTION_ACK_TIMEOUT_MS, 5 s). */
  motionAckTimeoutMs?: number;
  mouseMode?: 'server' | 'client';
  /** Backoff: first delay, doubled per failure up to maxDelayMs (defaults 250 ms and 5 s). */
  initialDelayMs?: number;
  maxDelayMs?: number;
  /**
   * First wait after a link that was up is lost (default 1 s). Longer than initialDelayMs on
   * purpose: the server drops us when another client (e.g. `glasspane send`) connects, and
   * taking the session straight back would cut that client off mid-sequence. A restarting
   * QEMU needs longer than this anyway.
   */
  lostLinkDelayMs?: number;
  onState?: (s: SpiceStatus) => void;
  /** Clipboard text through the guest agent (spice-vdagent); off when not given. */
  clipboard?: ClipboardHandlers;
  /** Guest audio (playback, record); off when not given. A session without audio still connects. */
  audio?: AudioHandlers;
}

/**
 * One SPICE session (see the module comment). Main thread only. connect() is one attempt that
 * rejects with a SpiceError; start() keeps trying in the background and never throws. Owns its
 * channels: close() ends them all, and any link in flight.
 */
export class SpiceClient {
  readonly address: SpiceAddress;
  private readonly opts: SpiceClientOptions;
  private session?: Session;
  private status: SpiceStatus = { state: 'idle', attempt: 0 };
  private retryTimer?: NodeJS.Timeout;
  private keepTrying = false;
  private connectedWaiters: Array<{ resolve: () => void; reject: (e: SpiceError) => void }> = [];
  private infoTimer?: NodeJS.Timeout;
  private lastInfoAt = -Infinity;

  constructor(opts: SpiceClientOptions) {
    this.opts = opts;
    this.address = opts.address;
  }

  /** The inputs channel while connected; undefined otherwise (input is then dropped). */
  get inputs(): InputsChannel | undefined {
    const s = this.session;
    return s?.up && s.inputs && !s.inputs.isClosed ? s.inputs : undefined;
  }

  /** The main channel while a session is up (also during connect()), else undefined. */
  get main(): MainChannel | undefined {
    return this.session?.main;
  }

  /** A copy of the current status. */
  get state(): SpiceStatus {
    return { ...this.status };
  }

  /** Tells the guest the host clipboard holds text (needs `clipboard` and a guest agent). */
  clipboardGrabText(): void {
    this.main?.agent?.grabText();
  }

  /** Tells the guest the host clipboard is no longer ours. */
  clipboardRelease(): void {
    this.main?.agent?.release();
  }

  /** The guest's clipboard text (after a `guestGrab`); rejects without an agent. */
  clipboardRequestText(timeoutMs?: number): Promise<string> {
    const agent = this.main?.agent;
    if (!agent) return Promise.reject(new SpiceError('ERR_SPICE_CLOSED', 'clipboard unavailable: not connected, or the client was made without `clipboard`', 'connect first, with clipboard handlers'));
    return agent.requestText(timeoutMs);
  }

  /**
   * One attempt: resolves when main and inputs (and, with `audio`, the sound channels, which never
   * fail it) are linked and all still up; rejects with a SpiceError otherwise: ERR_SPICE_CONNECT,
   * _MAGIC, _VERSION, _LINK, _AUTH, _PASSWORD, _PROTOCOL, _TIMEOUT, _CLOSED (also when the client
   * was closed, or a channel ended while the others linked), or _NO_INPUTS. Does not retry.
   */
  async connect(): Promise<void> {
    if (this.status.state === 'closed') throw new SpiceError('ERR_SPICE_CLOSED', 'SPICE client is closed', 'create a new client');
    const old = this.session;
    if (old) this.endSession(old, 0);
    const session = new Session();
    this.session = session;
    this.setState({ state: 'connecting', error: undefined, retryInMs: undefined });
    const where = formatSpiceAddress(this.address);
    const signal = session.abort.signal;
    const ended = (which: string) => (err?: SpiceError) => this.channelEnded(session, which, err);
    const live = () => this.session === session;
    try {
      const main = await MainChannel.open({
        address: this.address,
        password: this.opts.password,
        timeoutMs: this.opts.timeoutMs,
        mouseMode: this.opts.mouseMode,
        clipboard: this.opts.clipboard,
        signal,
        opened: (m) => (session.main = m),
        events: {
          mouseMode: (current) => live() && this.info('mouseMode', current === MouseMode.CLIENT ? 'client' : 'server'),
          name: (n) => live() && this.info('vmName', n),
          uuid: (u) => live() && this.info('vmUuid', u),
          close: ended('main'),
        },
      });
      session.main = main;
      session.check();
      if (!main.hasChannel(ChannelType.INPUTS)) {
        throw new SpiceError('ERR_SPICE_NO_INPUTS', `SPICE server at ${where} offers no inputs channel`, 'QEMU always has one with -spice; check that the address is the right VM');
      }
      session.inputs = await InputsChannel.open({
        address: this.address,
        sessionId: main.sessionId,
        password: this.opts.password,
        timeoutMs: this.opts.timeoutMs,
        ackTimeoutMs: this.opts.motionAckTimeoutMs,
        signal,
        events: { leds: (l) => live() && this.info('leds', l), close: ended('inputs') },
      });
      session.check();
      if (this.opts.audio) {
        session.audio = new AudioChannels(this.opts.audio);
        await session.audio.open({ address: this.address, sessionId: main.sessionId, password: this.opts.password, timeoutMs: this.opts.timeoutMs, signal, offered: (t) => main.hasChannel(t), lost: ended('audio') });
      }
      // The last word before "connected": every channel of the session is still up.
      session.check();
      if (main.isClosed || session.inputs.isClosed) throw new SpiceError('ERR_SPICE_CLOSED', `SPICE server at ${where} closed a channel while the session was set up`, 'check that QEMU is still running; another SPICE client connecting takes the session over');
      if (signal.aborted) throw signal.reason instanceof SpiceError ? signal.reason : new SpiceError('ERR_SPICE_CLOSED', 'SPICE connect cancelled', 'nothing to do: the client was closed');
    } catch (err) {
      const e = err instanceof SpiceError ? err : new SpiceError('ERR_SPICE_CONNECT', String(err), 'check the address', { cause: err });
      void this.endSession(session, 0, e);
      if (!this.isClosedNow()) this.setState({ state: 'idle', error: e, attempt: this.status.attempt + 1 });
      throw e;
    }
    session.up = true;
    const main = session.main;
    debug('client: connected to %s (session %d, vm %s %s)', where, main.sessionId, main.name ?? '?', main.uuid ?? '?');
    this.setState({
      state: 'connected',
      error: undefined,
      attempt: 0,
      vmName: main.name,
      vmUuid: main.uuid,
      mouseMode: main.currentMouseMode === MouseMode.CLIENT ? 'client' : 'server',
      leds: session.inputs.leds,
    });
    for (const w of this.connectedWaiters.splice(0)) w.resolve();
  }

  /**
   * Connects and keeps connected: retries with backoff after failures and lost links until
   * close(), or until an error retrying cannot fix (state `failed`). Never rejects.
   */
  start(): void {
    if (this.keepTrying || this.status.state === 'closed') return;
    this.keepTrying = true;
    void this.attempt();
  }

  /**
   * Resolves the next time the client is connected (immediately when it is); rejects with
   * ERR_SPICE_TIMEOUT after `timeoutMs` (when given), with ERR_SPICE_CLOSED when the client is
   * closed and with the error when it gives up (`failed`).
   */
  whenConnected(timeoutMs?: number): Promise<void> {
    if (this.status.state === 'connected') return Promise.resolve();
    if (this.status.state === 'closed' || this.status.state === 'failed') return Promise.reject(this.status.error ?? new SpiceError('ERR_SPICE_CLOSED', 'SPICE client is closed', 'create a new client'));
    return new Promise((resolve, reject) => {
      const w = {
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
        reject: (e: SpiceError) => {
          clearTimeout(timer);
          reject(e);
        },
      };
      const timer =
        timeoutMs === undefined
          ? undefined
          : setTimeout(() => {
              this.connectedWaiters = this.connectedWaiters.filter((x) => x !== w);
              reject(new SpiceError('ERR_SPICE_TIMEOUT', `SPICE did not connect within ${timeoutMs} ms (${describeSpiceStatus(this.status)})`, 'check that QEMU runs with -spice at this address'));
            }, timeoutMs);
      this.connectedWaiters.push(w);
    });
  }

  /** Closes every channel after sending what is queued, and aborts a link in flight; safe to call twice. */
  async close(): Promise<void> {
    this.keepTrying = false;
    clearTimeout(this.retryTimer);
    if (this.status.state === 'closed') return;
    this.setState({ state: 'closed', retryInMs: undefined });
    const closed = new SpiceError('ERR_SPICE_CLOSED', 'SPICE client is closed', 'create a new client');
    for (const w of this.connectedWaiters.splice(0)) w.reject(closed);
    const s = this.session;
    if (s) await this.endSession(s, 2000, closed);
  }

  private async attempt(): Promise<void> {
    if (!this.keepTrying) return;
    try {
      await this.connect();
    } catch (err) {
      if (!this.keepTrying) return;
      const e = err as SpiceError;
      if (!canRetry(e)) {
        this.keepTrying = false;
        this.setState({ state: 'failed', error: e });
        for (const w of this.connectedWaiters.splice(0)) w.reject(e);
        return;
      }
      this.scheduleRetry(e);
    }
  }

  private scheduleRetry(error?: SpiceError, afterLoss = false): void {
    const initial = this.opts.initialDelayMs ?? 250;
    const max = this.opts.maxDelayMs ?? 5000;
    // attempt = failures so far: initial, 2×, 4×, ... max; after a lost link lostLinkDelayMs.
    const delay = afterLoss
      ? (this.opts.lostLinkDelayMs ?? 1000)
      : Math.min(max, initial * 2 ** Math.max(0, Math.min(this.status.attempt - 1, 16)));
    clearTimeout(this.retryTimer);
    this.setState({ state: 'waiting', error, retryInMs: delay });
    debug('client: retry in %d ms (%s)', delay, error?.message ?? 'link lost');
    this.retryTimer = setTimeout(() => void this.attempt(), delay);
  }

  /**
   * A channel of `session` ended (`err` undefined: we closed it). While the session is set up this
   * fails the attempt (connect() throws it); once it is up, the session is lost.
   */
  private channelEnded(session: Session, which: string, err?: SpiceError): void {
    if (session.ended) return;
    const e = err ?? new SpiceError('ERR_SPICE_CLOSED', `SPICE ${which} channel closed`, 'check that QEMU is still running');
    if (!session.up) {
      session.failure ??= e;
      session.abort.abort(e);
      return;
    }
    this.lost(session, e);
  }

  /** The session that was up ended: close what is left of it; reconnect when start() asked for it. */
  private lost(session: Session, err: SpiceError): void {
    debug('client: link lost: %s', err.message);
    void this.endSession(session, 0, err);
    if (this.keepTrying) {
      this.status.attempt = 0;
      this.scheduleRetry(err, true);
    } else {
      this.setState({ state: 'idle', error: err });
    }
  }

  /**
   * Ends `session`: forgets it (nothing uses its channels any more), aborts its links in flight
   * and closes its channels (inputs drained up to `drainMs`).
   */
  private endSession(session: Session, drainMs: number, why?: SpiceError): Promise<void> {
    session.ended = true;
    if (this.session === session) this.session = undefined;
    session.abort.abort(why ?? new SpiceError('ERR_SPICE_CLOSED', 'SPICE session ended', 'nothing to do'));
    return session.close(drainMs);
  }

  /** Re-reads the state (TypeScript narrows `this.status.state` across awaits otherwise). */
  private isClosedNow(): boolean {
    return this.status.state === 'closed';
  }

  /** A lifecycle change: reported at once (with any server-fed status that waited). */
  private setState(patch: Partial<SpiceStatus>): void {
    clearTimeout(this.infoTimer);
    this.infoTimer = undefined;
    this.status = { ...this.status, ...patch };
    this.opts.onState?.({ ...this.status });
  }

  /** Server-fed status: kept at once, reported at most every INFO_INTERVAL_MS (see the module comment). */
  private info<K extends 'leds' | 'mouseMode' | 'vmName' | 'vmUuid'>(key: K, value: SpiceStatus[K]): void {
    // Per server message in a flood: no copy of the status here, only when it is reported.
    if (this.status[key] === value) return;
    this.status[key] = value;
    if (this.infoTimer) return;
    const wait = this.lastInfoAt + INFO_INTERVAL_MS - performance.now();
    if (wait <= 0) {
      this.lastInfoAt = performance.now();
      this.opts.onState?.({ ...this.status });
      return;
    }
    this.infoTimer = setTimeout(() => {
      this.infoTimer = undefined;
      this.lastInfoAt = performance.now();
      this.opts.onState?.({ ...this.status });
    }, wait);
  }
}
