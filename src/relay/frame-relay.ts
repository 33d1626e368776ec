/**
 * FrameRelay: the consumer side the viewer and the headless consumer stand on. It opens the
 * region, starts an LGMP session with whatever producer is there, subscribes to the frame and
 * pointer queues, and turns messages into events:
 *   'session'  a producer session began (its KVMFR info)
 *   'format'   the frame format changed (formatVer) — emitted before that format's first frame
 *   'frame'    a frame, copied out of the region; its `data` view is valid until `release()`
 *   'cursor'   cursor position / visibility / shape
 *   'status'   what the relay is doing now ("waiting for the producer…")
 *   'problem'  something was wrong (bad header, bad frame, stalled write): reported, then recovered
 * It never gives up: a producer restart (new session id), a dead producer (heartbeat stalled over
 * 1 s) or a timed-out subscription all lead back to waiting/resubscribing. Waiting uses a native
 * watcher thread, so the event loop is never blocked and never polled.
 */
import { EventEmitter } from 'node:events';
import { debuglog } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { openRegion, type Region } from '../region.js';
import { native, WATCH_CLOSED, type NativeWatcher, type WatcherOptions } from '../native.js';
import { LgmpConsumer, type ConsumerQueue } from '../lgmp/consumer.js';
import { LockTimeoutError } from '../lgmp/spinlock.js';
import { parseKvmfrUdata, type KvmfrInfo } from '../kvmfr/header.js';
import { readFrame, type FrameInfo } from '../kvmfr/frame.js';
import { readCursor, type CursorShape } from '../kvmfr/cursor.js';
import { KVMFR, SETCURSORPOS } from '../kvmfr/layout.js';
import { HEADER } from '../lgmp/layout.js';
import { GlasspaneError, describeError } from '../errors.js';
import { FramePool } from './frame-pool.js';

const log = debuglog('glasspane:relay');

export interface LentFrame {
  info: FrameInfo;
  /** The pixels: info.dataHeight rows of info.pitch bytes. Valid until release(). */
  data: Buffer;
  /** When the copy out of the region finished (process.hrtime.bigint()). */
  copiedAtNs: bigint;
  /** Hands the buffer back; the relay reuses it. Call exactly once. */
  release(): void;
}

export interface CursorEvent {
  visible: boolean;
  position?: { x: number; y: number };
  /** Shape header and a private copy of its pixels (valid until the next shape). */
  shape?: CursorShape & { pixels: Buffer };
}

export interface SessionEvent {
  sessionID: number;
  info: KvmfrInfo;
}

export type RelayState = 'opening' | 'waiting-producer' | 'running' | 'closed';

export interface StatusEvent {
  state: RelayState;
  message: string;
}

export interface ProblemEvent {
  code: string;
  message: string;
  fix?: string;
}

export interface RelayOptions {
  /** /dev/shm/NAME, /dev/kvmfrN or a PCI BAR resource file. */
  path: string;
  /** Give up on a frame whose write pointer stops moving for this long (ms). Default 100 (B7 gives up after about 10 ms; a loaded host can deschedule a producer for longer, and a late frame beats a lost one). */
  copyTimeoutMs?: number;
  /** How often to retry opening the region or starting a session (ms). Default 250. */
  retryMs?: number;
  watcher?: WatcherOptions;
}

interface RelayEvents {
  session: [SessionEvent];
  format: [FrameInfo];
  frame: [LentFrame];
  cursor: [CursorEvent];
  status: [StatusEvent];
  problem: [ProblemEvent];
}

/** The session ended (restart, stall or corruption): go back to waiting. */
class SessionEnded extends Error {}

export class FrameRelay extends EventEmitter<RelayEvents> {
  private region: Region | null = null;
  private dv: DataView | null = null;
  private watcher: NativeWatcher | null = null;
  private closed = false;
  private loop: Promise<void> | null = null;
  private readonly pool = new FramePool(2);
  private lastFormatVer = -1;
  private lastProblem = '';
  private frameQ: ConsumerQueue | null = null;
  private pointerQ: ConsumerQueue | null = null;
  private consumer: LgmpConsumer | null = null;
  private kvmfr: KvmfrInfo | null = null;
  state: RelayState = 'opening';

  constructor(readonly options: RelayOptions) {
    super();
  }

  /** The producer's KVMFR info for the current session, if any. */
  get session(): KvmfrInfo | null {
    return this.kvmfr;
  }

  /** Starts the relay; resolves when close() has been called and everything is released. */
  start(): Promise<void> {
    this.loop ??= this.run();
    return this.loop;
  }

  async close(): Promise<void> {
    if (this.closed) return this.loop ?? undefined;
    this.closed = true;
    this.watcher?.cancel();
    this.pool.abort();
    await this.loop?.catch(() => undefined);
  }

  /** Asks the producer to move the guest cursor (only when the producer supports it). */
  setCursorPosition(x: number, y: number): boolean {
    if (!this.pointerQ || !this.kvmfr || !(this.kvmfr.features & KVMFR.FEATURE_SETCURSORPOS)) return false;
    const msg = Buffer.alloc(SETCURSORPOS.SIZE);
    msg.writeUInt32LE(KVMFR.MESSAGE_SETCURSORPOS, SETCURSORPOS.type);
    msg.writeInt32LE(x, SETCURSORPOS.x);
    msg.writeInt32LE(y, SETCURSORPOS.y);
    return typeof this.pointerQ.sendData(msg) === 'number';
  }

  private setStatus(state: RelayState, message: string): void {
    if (this.state === state && state !== 'waiting-producer') return;
    this.state = state;
    this.emit('status', { state, message });
  }

  /** Reports a problem once until a different one (or success) comes along. */
  private problem(err: unknown): void {
    const message = describeError(err);
    if (message === this.lastProblem) return;
    this.lastProblem = message;
    const code = (err as { code?: string }).code ?? 'ERR_UNKNOWN';
    log('problem: %s', message);
    this.emit('problem', { code, message: err instanceof Error ? err.message : String(err), fix: (err as GlasspaneError).fix });
  }

  private async run(): Promise<void> {
    try {
      while (!this.closed) {
        if (!this.region) {
          await this.openRegion();
          continue;
        }
        try {
          await this.startSession();
          if (this.closed) break;
          await this.consume();
        } catch (err) {
          if (err instanceof SessionEnded) continue;
          this.problem(err);
          await sleep(this.options.retryMs ?? 250);
        } finally {
          this.unsubscribe();
        }
      }
    } finally {
      this.state = 'closed';
      this.watcher?.close();
      this.region?.close();
      this.watcher = null;
      this.region = null;
    }
  }

  private async openRegion(): Promise<void> {
    this.setStatus('opening', `opening ${this.options.path}`);
    try {
      this.region = openRegion(this.options.path);
      this.dv = new DataView(this.region.buffer);
      this.watcher = new native.Watcher(this.region, this.options.watcher);
    } catch (err) {
      this.problem(err);
      // Look again soon: a viewer started just before the VM or the stub should not miss
      // their first frames (opening is a cheap open(2) that fails).
      await sleep(Math.min(this.options.retryMs ?? 250, 50));
    }
  }

  /** Waits for a live producer with a valid header, then subscribes to both queues. */
  private async startSession(): Promise<void> {
    const region = this.region!;
    this.setStatus('waiting-producer', 'waiting for the guest…');
    const consumer = new LgmpConsumer(region);
    let startingSince: number | undefined;
    for (;;) {
      if (this.closed) return;
      // The heartbeat must move after we started looking (a live producer): wait for the
      // timestamp word to change, or retry after a while (also to re-check a bad header).
      if (region.byteLength >= HEADER.SIZE) {
        const ts = region.load32(HEADER.timestamp);
        await new Promise<number>((resolve) => this.watcher!.wait([HEADER.timestamp, ts], this.options.retryMs ?? 250, resolve));
      } else {
        await sleep(this.options.retryMs ?? 250);
      }
      if (this.closed) return;
      try {
        const s = consumer.sessionInit();
        const udata = new Uint8Array(region.buffer, s.udataOffset, s.udataSize);
        this.kvmfr = parseKvmfrUdata(udata);
        this.consumer = consumer;
        this.frameQ = consumer.subscribe(KVMFR.QUEUE_FRAME);
        this.pointerQ = consumer.subscribe(KVMFR.QUEUE_POINTER);
        this.lastFormatVer = -1;
        this.lastProblem = '';
        this.emit('session', { sessionID: s.sessionID, info: this.kvmfr });
        this.setStatus('running', `connected to ${this.kvmfr.producerVersion || 'the producer'}`);
        return;
      } catch (err) {
        this.unsubscribe();
        const code = (err as GlasspaneError).code;
        if (code === 'ERR_PRODUCER_STARTING' || (typeof code === 'string' && code.startsWith('ERR_KVMFR_'))) {
          // Seen between a producer writing its header and writing its user data or creating its
          // queues: report it only when it lasts, so a viewer that caught a starting producer
          // shows no error.
          startingSince ??= performance.now();
          if (performance.now() - startingSince < 1000) continue;
        } else {
          startingSince = undefined;
        }
        if (code !== 'ERR_NO_PRODUCER' || this.lastProblem) this.problem(err);
      }
    }
  }

  private unsubscribe(): void {
    this.frameQ?.unsubscribe();
    this.pointerQ?.unsubscribe();
    this.frameQ = null;
    this.pointerQ = null;
  }

  /** Re-takes a subscription after a timeout (we were too slow) or an external unsubscribe. */
  private resubscribe(which: 'frame' | 'pointer', why: string): void {
    log('resubscribing to the %s queue: %s', which, why);
    this.problem(new GlasspaneError('ERR_SUBSCRIPTION_LOST', `the ${which} queue subscription was lost (${why}); resubscribed`));
    const consumer = this.consumer!;
    if (which === 'frame') this.frameQ = consumer.subscribe(KVMFR.QUEUE_FRAME);
    else this.pointerQ = consumer.subscribe(KVMFR.QUEUE_POINTER);
  }

  private checkSession(): void {
    const why = this.consumer!.sessionProblem();
    if (why) {
      this.problem(new GlasspaneError('ERR_SESSION_ENDED', why === 'restarted' ? 'the producer restarted (new session)' : 'the producer stopped (no heartbeat for over 1 s)'));
      throw new SessionEnded(why);
    }
  }

  private async consume(): Promise<void> {
    while (!this.closed) {
      this.checkSession();
      const gotFrame = await this.pumpFrame();
      const gotCursor = this.pumpCursor();
      if (gotFrame || gotCursor) continue;
      const f = this.frameQ!;
      const p = this.pointerQ!;
      const idx = await new Promise<number>((resolve) => this.watcher!.wait([f.positionOffset, f.position, p.positionOffset, p.position], 100, resolve));
      if (idx === WATCH_CLOSED) throw new SessionEnded('region closed');
    }
  }

  /** Handles one frame message if there is one; true when it did. */
  private async pumpFrame(): Promise<boolean> {
    const q = this.frameQ!;
    const msg = q.process();
    if (typeof msg === 'string') {
      this.handleStatus('frame', msg, q);
      return false;
    }
    let info: FrameInfo;
    try {
      info = readFrame(this.dv!, this.region!.byteLength, msg.offset, msg.size);
    } catch (err) {
      this.problem(err);
      q.messageDone();
      return true;
    }
    if (info.badDamage) this.problem(new GlasspaneError('ERR_BAD_FRAME', `ignored bad damage data: ${info.badDamage}`));
    if (info.formatVer !== this.lastFormatVer) {
      this.lastFormatVer = info.formatVer;
      this.emit('format', info);
    }
    const buf = await this.pool.acquire(info.dataBytes);
    if (!buf) return false; // closing
    let copied = 0;
    try {
      copied = await this.region!.copyOutAsync(info.dataOffset, info.dataBytes, buf, 0, info.wpOffset, this.options.copyTimeoutMs ?? 100);
    } finally {
      // Acknowledge only after the copy: until then the producer must not reuse this buffer.
      const done = q.messageDone();
      if (done !== 'ok' && done !== 'empty') this.handleStatus('frame', done, q);
    }
    if (copied < info.dataBytes) {
      this.pool.release(buf);
      this.problem(new GlasspaneError('ERR_FRAME_STALLED', `frame ${info.frameSerial}: the producer stopped writing at ${copied} of ${info.dataBytes} bytes; frame dropped`));
      return true;
    }
    const copiedAtNs = process.hrtime.bigint();
    let released = false;
    const data = buf.subarray(0, info.dataBytes);
    this.lastProblem = '';
    this.emit('frame', {
      info,
      data,
      copiedAtNs,
      release: () => {
        if (released) return;
        released = true;
        this.pool.release(buf);
      },
    });
    return true;
  }

  /** Drains cursor messages; true when there were any. */
  private pumpCursor(): boolean {
    let any = false;
    for (;;) {
      const q = this.pointerQ!;
      const msg = q.process();
      if (typeof msg === 'string') {
        this.handleStatus('pointer', msg, q);
        return any;
      }
      any = true;
      try {
        const u = readCursor(this.dv!, this.region!.byteLength, msg.udata, msg.offset, msg.size);
        const ev: CursorEvent = { visible: u.visible, position: u.position };
        if (u.shape) {
          const pixels = Buffer.alloc(u.shape.dataBytes);
          this.region!.copyOut(u.shape.dataOffset, u.shape.dataBytes, pixels, 0, -1, 0);
          ev.shape = { ...u.shape, pixels };
        }
        this.emit('cursor', ev);
      } catch (err) {
        this.problem(err);
      } finally {
        q.messageDone();
      }
    }
  }

  private handleStatus(which: 'frame' | 'pointer', status: string, q: ConsumerQueue): void {
    switch (status) {
      case 'empty':
        return;
      case 'timeout':
      case 'unsubscribed':
        try {
          q.unsubscribe();
          this.resubscribe(which, status === 'timeout' ? 'we did not acknowledge within the producer timeout' : 'unsubscribed by the producer');
        } catch (err) {
          if (err instanceof LockTimeoutError) throw new SessionEnded('lock');
          throw err;
        }
        return;
      case 'invalid-session':
        throw new SessionEnded('invalid session');
      case 'corrupted':
        this.problem(new GlasspaneError('ERR_LGMP_CORRUPT', `the ${which} queue is corrupt: ${q.error}`, 'restart the guest application'));
        throw new SessionEnded('corrupted');
    }
  }
}
