/**
 * SpiceClient: main + inputs channel of one SPICE session, and (optionally) reconnecting with
 * exponential backoff when QEMU restarts.
 *
 * States: idle → connecting → connected → (link lost) → waiting → connecting → ... ; `closed`
 * after close(); `failed` after an error that retrying cannot fix (wrong password, not a SPICE
 * server) when reconnecting. Every change is reported to `onState` (the viewer's OSD shows it).
 *
 * Keys: the server releases every key it saw pressed when the inputs channel goes, so after a
 * disconnect nothing stays stuck in the guest; our own held-key record is cleared with it.
 */
import { debuglog } from 'node:util';
import type { SpiceAddress } from './address.js';
import { formatSpiceAddress } from './address.js';
import type { ClipboardHandlers } from './agent.js';
import { AudioChannels, type AudioHandlers } from './audio-channels.js';
import { SpiceError, type SpiceErrorCode } from './errors.js';
import { InputsChannel } from './inputs-channel.js';
import { MainChannel } from './main-channel.js';
import { ChannelType, MouseMode } from './protocol.js';

const debug = debuglog('glasspane:spice');

/** Where a SpiceClient is (see the module comment for the transitions). */
export type SpiceState = 'idle' | 'connecting' | 'connected' | 'waiting' | 'failed' | 'closed';

/** A snapshot of a SpiceClient for onState and `state`: a copy, the receiver may keep it. */
export interface SpiceStatus {
  state: SpiceState;
  /** Why the last attempt failed or the link was lost. */
  error?: SpiceError;
  /** In `waiting`: milliseconds until the next attempt. */
  retryInMs?: number;
  /** Failed attempts since the last successful link. */
  attempt: number;
  /** 'server' (relative) or 'client' (absolute), once connected. */
  mouseMode?: 'server' | 'client';
  /** Guest lock-key LEDs (Leds bits). */
  leds?: number;
  vmName?: string;
  vmUuid?: string;
}

/**
 * How a SpiceClient connects and what it reports. Times in milliseconds; the callbacks run on
 * the main thread from socket and timer events.
 */
export interface SpiceClientOptions {
  address: SpiceAddress;
  password?: string;
  /** Per-attempt link timeout, default 10 s. */
  timeoutMs?: number;
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

/** Errors that will not go away by trying again. */
const PERMANENT: ReadonlySet<SpiceErrorCode> = new Set<SpiceErrorCode>(['ERR_SPICE_AUTH', 'ERR_SPICE_MAGIC', 'ERR_SPICE_VERSION', 'ERR_SPICE_PASSWORD', 'ERR_SPICE_ADDRESS', 'ERR_SPICE_NO_INPUTS']);

/**
 * One SPICE session (see the module comment). Main thread only. connect() is one attempt that
 * rejects with a SpiceError; start() keeps trying in the background and never throws. Owns its
 * channels: close() ends them all.
 */
export class SpiceClient {
  readonly address: SpiceAddress;
  private readonly opts: SpiceClientOptions;
  private mainCh?: MainChannel;
  private inputsCh?: InputsChannel;
  private audioCh?: AudioChannels;
  private status: SpiceStatus = { state: 'idle', attempt: 0 };
  private retryTimer?: NodeJS.Timeout;
  private keepTrying = false;
  private connectedWaiters: Array<() => void> = [];

  constructor(opts: SpiceClientOptions) {
    this.opts = opts;
    this.address = opts.address;
  }

  /** The inputs channel while connected; undefined otherwise (input is then dropped). */
  get inputs(): InputsChannel | undefined {
    return this.inputsCh && !this.inputsCh.isClosed ? this.inputsCh : undefined;
  }

  /** The main channel while a session is up (also during connect()), else undefined. */
  get main(): MainChannel | undefined {
    return this.mainCh;
  }

  /** A copy of the current status. */
  get state(): SpiceStatus {
    return { ...this.status };
  }

  /** Tells the guest the host clipboard holds text (needs `clipboard` and a guest agent). */
  clipboardGrabText(): void {
    this.mainCh?.agent?.grabText();
  }

  /** Tells the guest the host clipboard is no longer ours. */
  clipboardRelease(): void {
    this.mainCh?.agent?.release();
  }

  /** The guest's clipboard text (after a `guestGrab`); rejects without an agent. */
  clipboardRequestText(timeoutMs?: number): Promise<string> {
    const agent = this.mainCh?.agent;
    if (!agent) return Promise.reject(new SpiceError('ERR_SPICE_CLOSED', 'clipboard unavailable: not connected, or the client was made without `clipboard`', 'connect first, with clipboard handlers'));
    return agent.requestText(timeoutMs);
  }

  /**
   * One attempt: resolves when main and inputs (and, with `audio`, the sound channels, which never
   * fail it) are linked; rejects with a SpiceError otherwise: ERR_SPICE_CONNECT, _MAGIC, _VERSION,
   * _LINK, _AUTH, _PASSWORD, _PROTOCOL, _TIMEOUT, _CLOSED (also when the client was closed), or
   * _NO_INPUTS. Does not retry.
   */
  async connect(): Promise<void> {
    if (this.status.state === 'closed') throw new SpiceError('ERR_SPICE_CLOSED', 'SPICE client is closed', 'create a new client');
    this.setState({ state: 'connecting', error: undefined, retryInMs: undefined });
    const where = formatSpiceAddress(this.address);
    let main: MainChannel | undefined;
    try {
      main = await MainChannel.open({
        address: this.address,
        password: this.opts.password,
        timeoutMs: this.opts.timeoutMs,
        mouseMode: this.opts.mouseMode,
        clipboard: this.opts.clipboard,
        events: {
          mouseMode: (current) => this.setState({ mouseMode: current === MouseMode.CLIENT ? 'client' : 'server' }),
          name: (n) => this.setState({ vmName: n }),
          uuid: (u) => this.setState({ vmUuid: u }),
          close: (err) => this.lost(err),
        },
      });
      if (!main.hasChannel(ChannelType.INPUTS)) {
        throw new SpiceError('ERR_SPICE_NO_INPUTS', `SPICE server at ${where} offers no inputs channel`, 'QEMU always has one with -spice; check that the address is the right VM');
      }
      this.mainCh = main;
      const inputs = await InputsChannel.open({
        address: this.address,
        sessionId: main.sessionId,
        password: this.opts.password,
        timeoutMs: this.opts.timeoutMs,
        events: { leds: (l) => this.setState({ leds: l }), close: (err) => this.lost(err) },
      });
      if (this.isClosedNow()) {
        await inputs.close();
        return;
      }
      this.inputsCh = inputs;
      if (this.opts.audio) {
        const audio = new AudioChannels(this.opts.audio);
        this.audioCh = audio;
        await audio.open({ address: this.address, sessionId: main.sessionId, password: this.opts.password, timeoutMs: this.opts.timeoutMs, offered: (t) => main!.hasChannel(t) });
        if (this.isClosedNow()) {
          await audio.close();
          return;
        }
      }
    } catch (err) {
      this.mainCh = undefined;
      await main?.close();
      const e = err instanceof SpiceError ? err : new SpiceError('ERR_SPICE_CONNECT', String(err), 'check the address', { cause: err });
      if (!this.isClosedNow()) this.setState({ state: 'idle', error: e, attempt: this.status.attempt + 1 });
      throw e;
    }
    debug('client: connected to %s (session %d, vm %s %s)', where, main.sessionId, main.name ?? '?', main.uuid ?? '?');
    this.setState({
      state: 'connected',
      error: undefined,
      attempt: 0,
      vmName: main.name,
      vmUuid: main.uuid,
      mouseMode: main.currentMouseMode === MouseMode.CLIENT ? 'client' : 'server',
      leds: this.inputsCh?.leds,
    });
    const w = this.connectedWaiters;
    this.connectedWaiters = [];
    for (const f of w) f();
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

  /** Resolves the next time the client is connected (immediately when it is). */
  whenConnected(): Promise<void> {
    if (this.status.state === 'connected') return Promise.resolve();
    return new Promise((r) => this.connectedWaiters.push(r));
  }

  /** Closes both channels after sending what is queued; safe to call twice. */
  async close(): Promise<void> {
    this.keepTrying = false;
    clearTimeout(this.retryTimer);
    if (this.status.state === 'closed') return;
    this.setState({ state: 'closed', retryInMs: undefined });
    const { inputs, main, audio } = this.detachChannels();
    await audio?.close();
    await inputs?.close();
    await main?.close();
  }

  private async attempt(): Promise<void> {
    if (!this.keepTrying) return;
    try {
      await this.connect();
    } catch (err) {
      if (!this.keepTrying) return;
      const e = err as SpiceError;
      if (PERMANENT.has(e.code)) {
        this.keepTrying = false;
        this.setState({ state: 'failed', error: e });
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

  /** Main or inputs channel ended: drop both; reconnect when start() asked for it. */
  private lost(err?: SpiceError): void {
    if (this.status.state !== 'connected') return;
    const { inputs, main, audio } = this.detachChannels();
    debug('client: link lost: %s', err?.message ?? 'closed');
    // State first: closing the other channel below reports its own close back into lost().
    if (this.keepTrying) {
      this.status.attempt = 0;
      this.scheduleRetry(err, true);
    } else {
      this.setState({ state: 'idle', error: err });
    }
    void audio?.close();
    void inputs?.close(0);
    void main?.close();
  }

  /** Forgets the open channels and hands them over for closing (so nothing uses them meanwhile). */
  private detachChannels(): { inputs?: InputsChannel; main?: MainChannel; audio?: AudioChannels } {
    const channels = { inputs: this.inputsCh, main: this.mainCh, audio: this.audioCh };
    this.inputsCh = undefined;
    this.mainCh = undefined;
    this.audioCh = undefined;
    return channels;
  }

  /** Re-reads the state (TypeScript narrows `this.status.state` across awaits otherwise). */
  private isClosedNow(): boolean {
    return this.status.state === 'closed';
  }

  private setState(patch: Partial<SpiceStatus>): void {
    this.status = { ...this.status, ...patch };
    this.opts.onState?.({ ...this.status });
  }
}

/**
 * One line for the viewer's on-screen display and logs, e.g.
 * "SPICE: connected to QEMU 7.2.22 (relative mouse)", "SPICE: retrying in 0.5 s: ...",
 * "SPICE: failed: permission denied: wrong SPICE password ...".
 */
export function describeSpiceStatus(s: SpiceStatus): string {
  switch (s.state) {
    case 'idle':
      return s.error ? `SPICE: disconnected: ${s.error.message}` : 'SPICE: not connected';
    case 'connecting':
      return s.attempt > 0 ? `SPICE: connecting (attempt ${s.attempt + 1})` : 'SPICE: connecting';
    case 'connected':
      return `SPICE: connected${s.vmName ? ` to ${s.vmName}` : ''} (${s.mouseMode === 'client' ? 'absolute' : 'relative'} mouse)`;
    case 'waiting': {
      const secs = ((s.retryInMs ?? 0) / 1000).toFixed(1).replace(/\.0$/, '');
      return `SPICE: retrying in ${secs} s${s.error ? `: ${s.error.message}` : ''}`;
    }
    case 'failed':
      return `SPICE: failed: ${s.error?.message ?? 'unknown error'}`;
    case 'closed':
      return 'SPICE: closed';
  }
}
