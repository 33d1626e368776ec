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
 * relay-types.ts; its events, state and problem reporting: relay-reporter.ts; its hold on the
 * region and the session: relay-connection.ts. This module runs the loop and pumps the messages.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { WATCH_CLOSED } from '../native.js';
import { RegionLost, RelayConnection, SessionEnded } from './relay-connection.js';
import type { ConsumerQueue } from '../lgmp/consumer.js';
import { readFrame, type FrameInfo } from '../kvmfr/frame.js';
import { encodeSetCursorPos, readCursor } from '../kvmfr/cursor.js';
import { KVMFR } from '../kvmfr/layout.js';
import { HEADER } from '../lgmp/layout.js';
import { GlasspaneError, describeError } from '../errors.js';
import { FramePool, type FrameBuffers } from './frame-pool.js';
import type { CursorEvent, LentFrame, RelayOptions } from './relay-types.js';

export type { CursorEvent, LentFrame, ProblemEvent, RelayCounters, RelayEvents, RelayOptions, RelayState, SessionEvent, StatusEvent } from './relay-types.js';

/**
 * The consumer loop described above. Construct with RelayOptions (nothing happens until start());
 * one instance per region path, used from the thread that constructed it: the main thread
 * (headless consumer, copies on the libuv pool) or the relay worker (`copyOnThisThread` and
 * `waitOnThisThread`, which block that thread while copying and waiting). Never throws to the
 * caller and never rejects: everything goes out as 'problem' and 'status' events.
 */
export class FrameRelay extends RelayConnection {
  private loop: Promise<void> | null = null;
  private readonly pool: FrameBuffers;

  constructor(options: RelayOptions) {
    super(options);
    this.pool = options.buffers ?? new FramePool(2);
  }

  /** Starts the relay; resolves when close() has been called and everything is released. Never rejects. */
  start(): Promise<void> {
    this.loop ??= this.run();
    return this.loop;
  }

  /**
   * Stops the loop: cancels the wait, aborts buffer waits, unsubscribes, closes the region; resolves
   * when all of it is done. Frames already lent stay valid until released. Safe to call twice.
   */
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

  /** The loop: map the region, start a session, pump messages; every failure leads back to the start until close(). */
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

  /** Pumps frame and cursor messages until the session ends (throws SessionEnded or RegionLost) or close(). */
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

}
