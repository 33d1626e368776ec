/**
 * FrameRelay: the consumer side the viewer and the headless consumer stand on. It opens the
 * region, starts an LGMP session with whatever producer is there, subscribes to the frame and
 * pointer queues, and turns messages into events:
 *   'session'  a producer session began (its KVMFR info)
 *   'format'   the frame format changed (formatVer) — emitted before that format's first frame
 *   'frame'    a frame, copied out of the region; its `data` view is valid until `release()`
 *   'cursor'   cursor position / visibility / shape
 *   'status'   the relay's state changed (waiting, connected, stalled, producer-gone)
 *   'problem'  something was wrong (bad header, bad frame, stalled write): reported, then recovered
 *
 * Contract: nothing a producer does — restarting mid-copy, stopping, writing garbage into any
 * field, truncating or re-creating the region file — stops the relay or escapes as an exception.
 * Every path that takes a frame buffer gives it back (also when a listener throws), waiting for a
 * buffer is bounded (the frame is skipped and counted), and the loop never exits until close().
 * A producer restart (new session id), a dead producer (heartbeat stalled over 1 s), a region
 * that shrank under us (SIGBUS survived by the addon's fault guard) or was re-created at the same
 * path all lead back to waiting and re-opening by themselves. Waiting uses a native watcher
 * (relay-region.ts): the event loop is never polled. The protocol rules it follows and its
 * recovery: docs/protocol.md#publishing-a-frame, #how-the-consumer-recovers. Its types:
 * relay-types.ts; its events, state and problem reporting: relay-reporter.ts.
 */
import { debuglog } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { WATCH_CLOSED } from '../native.js';
import { RelayRegion } from './relay-region.js';
import { RelayReporter } from './relay-reporter.js';
import { LgmpConsumer, type ConsumerQueue } from '../lgmp/consumer.js';
import { LockTimeoutError } from '../lgmp/spinlock.js';
import { parseKvmfrUdata, type KvmfrInfo } from '../kvmfr/header.js';
import { readFrame, type FrameInfo } from '../kvmfr/frame.js';
import { encodeSetCursorPos, readCursor } from '../kvmfr/cursor.js';
import { KVMFR } from '../kvmfr/layout.js';
import { HEADER } from '../lgmp/layout.js';
import { type ErrorCode, GlasspaneError, describeError } from '../errors.js';
import { FramePool, type FrameBuffers } from './frame-pool.js';
import type { CursorEvent, LentFrame, RelayOptions } from './relay-types.js';

export type { CursorEvent, LentFrame, ProblemEvent, RelayCounters, RelayEvents, RelayOptions, RelayState, SessionEvent, StatusEvent } from './relay-types.js';

const log = debuglog('glasspane:relay');

/** The session ended (restart, stall or corruption): go back to waiting for a producer. */
class SessionEnded extends Error {}
/** The mapping is no good any more (file shrank, or the path names a new file): re-open it. */
class RegionLost extends Error {}

/** A heartbeat older than this (but not yet LGMP's 1 s) shows as `stalled`. */
const STALLED_AFTER_MS = 300;

/** Seen while a producer is between writing its LGMP header and its user data or queues: reported only when they last. */
const STARTING: ReadonlySet<ErrorCode> = new Set<ErrorCode>(['ERR_PRODUCER_STARTING', 'ERR_KVMFR_MAGIC', 'ERR_KVMFR_VERSION', 'ERR_KVMFR_CORRUPT']);

export class FrameRelay extends RelayReporter {
  private held: RelayRegion | null = null;
  private closed = false;
  private loop: Promise<void> | null = null;
  private readonly pool: FrameBuffers;
  private lastFormatVer = -1;
  private frameQ: ConsumerQueue | null = null;
  private pointerQ: ConsumerQueue | null = null;
  private consumer: LgmpConsumer | null = null;
  private kvmfr: KvmfrInfo | null = null;

  constructor(readonly options: RelayOptions) {
    super();
    this.pool = options.buffers ?? new FramePool(2);
  }

  /** The producer's KVMFR info for the current session, if any. */
  get session(): KvmfrInfo | null {
    return this.kvmfr;
  }

  /** Starts the relay; resolves when close() has been called and everything is released. Never rejects. */
  start(): Promise<void> {
    this.loop ??= this.run();
    return this.loop;
  }

  async close(): Promise<void> {
    if (this.closed) return this.loop ?? undefined;
    this.closed = true;
    this.held?.cancel();
    this.pool.abort();
    await this.loop;
  }

  /** Asks the producer to move the guest cursor (only when the producer supports it). */
  setCursorPosition(x: number, y: number): boolean {
    if (!this.pointerQ || !this.kvmfr || !(this.kvmfr.features & KVMFR.FEATURE_SETCURSORPOS)) return false;
    try {
      return typeof this.pointerQ.sendData(encodeSetCursorPos(x, y)) === 'number';
    } catch (err) {
      this.problem(err);
      return false;
    }
  }

  private async run(): Promise<void> {
    while (!this.closed) {
      try {
        if (!this.held) await this.openRegion();
        else {
          await this.startSession();
          if (!this.closed) await this.consume();
        }
      } catch (err) {
        if (err instanceof RegionLost) {
          this.unsubscribe();
          this.dropRegion();
        } else if (!(err instanceof SessionEnded)) {
          // Whatever it was (a bug included), the relay reports it and carries on.
          this.problem(err);
          await sleep(this.options.retryMs ?? 250);
        }
      } finally {
        this.unsubscribe();
      }
    }
    this.state = 'closed';
    this.dropRegion();
  }

  private async openRegion(): Promise<void> {
    try {
      this.held = RelayRegion.open(this.options.path, this.options.watcher);
    } catch (err) {
      this.dropRegion();
      if (this.state !== 'producer-gone') this.setStatus('waiting', `waiting for ${this.options.path} to appear`);
      this.problem(err);
      // Look again soon: a viewer started just before the VM or the stub should not miss
      // their first frames (opening is a cheap open(2) that fails).
      await sleep(Math.min(this.options.retryMs ?? 250, 50));
    }
  }

  private dropRegion(): void {
    this.held?.close();
    this.held = null;
    this.consumer = null;
    this.kvmfr = null;
  }

  /** Throws RegionLost when the mapping must be re-opened (it shrank under us, or the path names a new file). */
  private checkRegion(): void {
    const lost = this.held!.lost();
    if (!lost) return;
    const { code, why } = lost;
    this.counters.reopens++;
    this.problem(new GlasspaneError(code, `${why}; opening it again`, 'nothing to do if the VM or the guest application is restarting; otherwise do not resize or delete the region while it is in use'));
    this.setStatus('producer-gone', `${why}; waiting for the guest`);
    throw new RegionLost(why);
  }

  /** Waits for a live producer with a valid header, then subscribes to both queues. */
  private async startSession(): Promise<void> {
    const region = this.held!.region;
    if (this.state !== 'producer-gone') this.setStatus('waiting', 'waiting for the guest…');
    const consumer = new LgmpConsumer(region);
    let startingSince: number | undefined;
    for (;;) {
      if (this.closed) return;
      this.checkRegion();
      // The heartbeat must move after we started looking (a live producer): wait for the
      // timestamp word to change, or retry after a while (also to re-check a bad header).
      if (region.byteLength >= HEADER.SIZE) {
        const ts = region.load32(HEADER.timestamp);
        await this.waitForChange([HEADER.timestamp, ts], this.options.retryMs ?? 250);
      } else {
        await sleep(this.options.retryMs ?? 250);
      }
      if (this.closed) return;
      this.checkRegion();
      try {
        const s = consumer.sessionInit();
        const udata = new Uint8Array(region.buffer, s.udataOffset, s.udataSize);
        this.kvmfr = parseKvmfrUdata(udata);
        this.consumer = consumer;
        this.frameQ = consumer.subscribe(KVMFR.QUEUE_FRAME);
        this.pointerQ = consumer.subscribe(KVMFR.QUEUE_POINTER);
        this.lastFormatVer = -1;
        this.lastProblem = '';
        this.counters.sessions++;
        this.dispatch('session', { sessionID: s.sessionID, info: this.kvmfr });
        this.setStatus('connected', `connected to ${this.kvmfr.producerVersion || 'the producer'}`);
        return;
      } catch (err) {
        this.unsubscribe();
        const code = err instanceof GlasspaneError ? err.code : undefined;
        if (code !== undefined && STARTING.has(code)) {
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
    for (const q of [this.frameQ, this.pointerQ]) {
      try {
        q?.unsubscribe();
      } catch (err) {
        log('unsubscribe failed: %s', describeError(err)); // the producer reaps the slot anyway
      }
    }
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

  /** Ends the session when the producer restarted or died; shows a late heartbeat as `stalled`. */
  private checkSession(): void {
    const consumer = this.consumer!;
    const why = consumer.sessionProblem();
    if (why === 'stalled' || why === 'no-session') {
      this.checkRegion(); // a re-created region is a clearer reason than a silent heartbeat
      this.problem(new GlasspaneError('ERR_PRODUCER_STALLED', 'the producer stopped (no heartbeat for over 1 s); waiting for it to come back', 'nothing to do if the guest is paused, rebooting or restarting its application'));
      this.setStatus('producer-gone', 'the guest stopped sending; waiting for it');
      throw new SessionEnded(why);
    }
    if (why === 'restarted') {
      this.problem(new GlasspaneError('ERR_SESSION_ENDED', 'the producer restarted (new session)'));
      throw new SessionEnded(why);
    }
    const age = consumer.heartbeatAgeMs();
    if (age > STALLED_AFTER_MS) {
      // A host script that re-created the region leaves our (unlinked) file silent: notice it now.
      this.checkRegion();
      this.setStatus('stalled', `no heartbeat from the guest for ${Math.round(age)} ms`);
    } else if (this.state === 'stalled') this.setStatus('connected', 'the guest is sending again');
  }

  private async consume(): Promise<void> {
    while (!this.closed) {
      this.checkSession();
      if (this.held!.region.broken) this.checkRegion();
      const gotFrame = await this.pumpFrame();
      if (this.closed) return;
      const gotCursor = this.pumpCursor();
      if (gotFrame || gotCursor) continue;
      const f = this.frameQ!;
      const p = this.pointerQ!;
      const idx = await this.waitForChange([f.positionOffset, f.position, p.positionOffset, p.position], 100);
      if (idx === WATCH_CLOSED) throw new SessionEnded('region closed');
    }
  }

  /** Waits until one of the watched (offset, value) words differs; the watcher's result index. */
  private waitForChange(words: number[], timeoutMs: number): Promise<number> {
    return this.held!.waitForChange(words, timeoutMs, this.options.waitOnThisThread ?? false, () => this.closed);
  }

  /** Acknowledges the frame message; a bad status is handled (may throw SessionEnded). */
  private acknowledge(q: ConsumerQueue): boolean {
    const done = q.messageDone();
    if (done === 'ok' || done === 'empty') return done === 'ok';
    this.handleStatus('frame', done, q);
    return false;
  }

  /** Handles one frame message if there is one; true when it did. */
  private async pumpFrame(): Promise<boolean> {
    const q = this.frameQ!;
    const msg = q.process();
    if (typeof msg === 'string') {
      this.handleStatus('frame', msg, q);
      return false;
    }
    const seenAtNs = process.hrtime.bigint();
    let info: FrameInfo;
    try {
      info = readFrame(this.held!.dv, this.held!.region.byteLength, msg.offset, msg.size);
    } catch (err) {
      this.problem(err);
      this.acknowledge(q);
      return true;
    }
    if (info.badDamage) this.problem(new GlasspaneError('ERR_BAD_FRAME', `ignored bad damage data: ${info.badDamage}`));
    if (info.formatVer !== this.lastFormatVer) {
      this.lastFormatVer = info.formatVer;
      this.dispatch('format', info);
    }
    const waitMs = this.options.bufferWaitMs ?? 500;
    const buf = await this.pool.acquire(info.dataBytes, waitMs);
    if (buf === 'closed') return false;
    if (buf === 'timeout') {
      // Whoever holds the buffers (a viewer stuck in a render) must not stop the producer.
      this.counters.framesSkipped++;
      this.problem(new GlasspaneError('ERR_FRAMES_HELD', `no frame buffer was released for ${waitMs} ms; frames are skipped until one is`, 'the window is not presenting: check that it is not frozen or minimised on a stalled compositor'));
      this.acknowledge(q);
      return true;
    }
    // From here the buffer goes back to the pool on every path except a successful hand-over.
    let handedOver = false;
    try {
      let copied = 0;
      let copyError: unknown = null;
      try {
        // A new session id ends the wait at once: the producer restarted under this frame.
        const session = this.consumer!.sessionInfo!.sessionID;
        const args = [info.dataOffset, info.dataBytes, buf, 0, info.wpOffset, this.options.copyTimeoutMs ?? 100, HEADER.sessionID, session] as const;
        copied = this.options.copyOnThisThread ? this.held!.region.copyOut(...args) : await this.held!.region.copyOutAsync(...args);
      } catch (err) {
        copyError = err;
      }
      if (this.closed) return false;
      // Acknowledge only after the copy: until then the producer must not reuse its buffer. A
      // bad status (the producer restarted during the copy, we timed out) drops the frame.
      const acked = this.acknowledge(q);
      if (copyError) throw copyError;
      if (this.held!.region.broken) this.checkRegion();
      if (!acked) {
        this.counters.framesSkipped++;
        return true;
      }
      if (copied < info.dataBytes) {
        this.counters.framesSkipped++;
        this.problem(new GlasspaneError('ERR_FRAME_STALLED', `frame ${info.frameSerial}: the producer stopped writing at ${copied} of ${info.dataBytes} bytes; frame dropped`));
        return true;
      }
      handedOver = true;
      this.lastProblem = '';
      this.handOver(info, buf, seenAtNs);
      return true;
    } finally {
      if (!handedOver) this.pool.release(buf);
    }
  }

  /** Lends the copied frame to the 'frame' listener; it comes back on release() or when nobody took it. */
  private handOver(info: FrameInfo, buf: Buffer, seenAtNs: bigint): void {
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      this.pool.release(buf);
    };
    const frame: LentFrame = { info, data: buf.subarray(0, info.dataBytes), seenAtNs, copiedAtNs: process.hrtime.bigint(), release };
    try {
      if (!this.emit('frame', frame)) release();
    } catch (err) {
      release();
      this.problem(new GlasspaneError('ERR_FRAME_LISTENER', `the 'frame' listener threw: ${describeError(err)}`, 'report this with the stack trace from NODE_DEBUG=glasspane:relay'));
    }
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
        const u = readCursor(this.held!.dv, this.held!.region.byteLength, msg.udata, msg.offset, msg.size);
        const ev: CursorEvent = { visible: u.visible, position: u.position };
        if (u.shape) {
          const pixels = Buffer.alloc(u.shape.dataBytes);
          this.held!.region.copyOut(u.shape.dataOffset, u.shape.dataBytes, pixels, 0, -1, 0);
          ev.shape = { ...u.shape, pixels };
        }
        this.dispatch('cursor', ev);
      } catch (err) {
        this.problem(err);
      }
      const done = q.messageDone();
      if (done !== 'ok' && done !== 'empty') {
        this.handleStatus('pointer', done, q);
        return any;
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
