/**
 * FrameRelay: the one consumer core. The window (through its relay thread, threaded-relay.ts),
 * `view --headless` and the bench (the same thread), `view --screenshot` and the tests (on the
 * calling thread) all run this loop. It opens the region, starts an LGMP session with whatever
 * producer is there, subscribes to the frame and pointer queues, and turns messages into events:
 *   'session'  a producer session began (its KVMFR info)
 *   'format'   the frame format changed (formatVer) — emitted before that format's first frame
 *   'frame'    a frame, copied out of the region; its `data` view is valid until `release()`
 *              (a relay on a thread of its own publishes frames to its host's mailbox instead)
 *   'cursor'   cursor position / visibility / shape
 *   'status'   the relay's state changed (waiting, connected, stalled, producer-gone)
 *   'problem'  something was wrong (bad header, bad frame, stalled write): reported, then recovered
 *
 * It is composed of parts, each owning one concern: RelayReporter (events, state, problems),
 * RelayConnection (region and session), FramePump and CursorPump (the messages), RelayThread
 * (how waiting and copying use the thread) and a FrameStore (where frames go: a FrameMailbox,
 * the one record of who holds a frame). This module only runs the loop.
 *
 * Contract: nothing a producer does — restarting mid-copy, stopping, writing garbage into any
 * field, truncating or re-creating the region file — stops the relay or escapes as an exception.
 * Every path that takes a frame slot gives it back (also when a listener throws), waiting for a
 * slot is bounded (the frame is skipped and counted), and the loop never exits until close().
 * A producer restart (new session id), a dead producer (heartbeat stalled over 1 s), a region
 * that shrank under us (SIGBUS survived by the addon's fault guard) or was re-created at the same
 * path all lead back to waiting and re-opening by themselves. Waiting uses a native watcher: the
 * event loop is never polled. The protocol rules it follows and its recovery:
 * docs/protocol.md#publishing-a-frame, #how-the-consumer-recovers. Its types: relay-types.ts.
 */
import { EventEmitter } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { WATCH_CLOSED } from '../native.js';
import type { KvmfrInfo } from '../kvmfr/header.js';
import { GlasspaneError, describeError } from '../errors.js';
import { CursorPump } from './cursor-pump.js';
import { FrameMailbox } from './frame-mailbox.js';
import { FramePump } from './frame-pump.js';
import { MailboxStore, type FrameStore } from './frame-store.js';
import { RegionLost, RelayConnection, SessionEnded } from './relay-connection.js';
import { RelayReporter, type Emit } from './relay-reporter.js';
import { RelayThread } from './relay-thread.js';
import type { LentFrame, RelayCounters, RelayEvents, RelayOptions, RelayState } from './relay-types.js';

export type { CursorEvent, LentFrame, ProblemEvent, RelayCounters, RelayEvents, RelayOptions, RelayState, SessionEvent, StatusEvent } from './relay-types.js';

/**
 * The longest a connected relay waits for a message before it looks at the session again (the
 * heartbeat: `stalled` after 300 ms, `producer-gone` after 1 s). Each look costs a wake-up of the
 * relay's thread, so at idle this is most of its CPU time besides the watcher's.
 */
const HOUSEKEEPING_MS = 250;

/** Frames a relay on a shared thread lends to its 'frame' listeners at once (the rest wait for one to come back). */
const LENT_FRAMES = 2;

/** What the host of a relay on a thread of its own gives it (relay-worker.ts). */
export interface RelayHost {
  /** Where frames go instead of the 'frame' event. */
  store?: FrameStore;
}

/**
 * The consumer loop described above. Construct with RelayOptions (nothing happens until start());
 * one instance per region path, used from the thread that constructed it: a shared thread
 * (copies on the libuv pool, woken through the event loop) or a relay thread of its own
 * (`waitOnThisThread`, `copyOnThisThread`, and a `bell` its host rings). Never throws to the
 * caller and never rejects: everything goes out as 'problem' and 'status' events.
 */
export class FrameRelay extends EventEmitter<RelayEvents> {
  private loop: Promise<void> | null = null;
  private closing = false;
  private readonly report: RelayReporter;
  private readonly thread: RelayThread;
  private readonly conn: RelayConnection;
  private readonly store: FrameStore;
  private readonly frames: FramePump;
  private readonly cursor: CursorPump;

  constructor(
    readonly options: RelayOptions,
    host: RelayHost = {},
  ) {
    super();
    this.report = new RelayReporter(this.emit.bind(this) as Emit);
    const thread = (this.thread = new RelayThread(options));
    const closed = () => this.closing;
    this.conn = new RelayConnection(options, this.report, thread, closed);
    this.store = host.store ?? this.lendingStore();
    this.frames = new FramePump(options, this.conn, this.report, thread, this.store, closed);
    this.cursor = new CursorPump(this.conn, this.report);
  }

  /** What the user is told (see RelayState). */
  get state(): RelayState {
    return this.report.state;
  }

  /** Counters for --stats and tests. */
  get counters(): RelayCounters {
    return this.report.counters;
  }

  /** The producer's KVMFR info for the current session, if any. */
  get session(): KvmfrInfo | null {
    return this.conn.session;
  }

  /** Starts the relay; resolves when close() has been called and everything is released. Never rejects. */
  start(): Promise<void> {
    this.loop ??= this.run();
    return this.loop;
  }

  /**
   * Stops the loop: cancels the wait, ends waits for a frame slot, unsubscribes, closes the
   * region; resolves when all of it is done. Frames already lent stay valid until released.
   * Safe to call twice.
   */
  async close(): Promise<void> {
    if (this.closing) return this.loop ?? undefined;
    this.closing = true;
    this.conn.held?.cancel();
    this.store.abort();
    await this.loop;
  }

  /** Asks the producer to move the guest cursor (only when the producer supports it). */
  setCursorPosition(x: number, y: number): boolean {
    return this.cursor.setPosition(x, y);
  }

  /** A change is likely soon (the user sent input to the guest): the watcher stops backing off. */
  hint(): void {
    this.conn.held?.hint();
  }

  /** Frames for this thread's own 'frame' listeners: a queue of LENT_FRAMES slots, each frame lent until release(). */
  private lendingStore(): FrameStore {
    const mailbox = FrameMailbox.create(0, { slots: LENT_FRAMES, order: 'queue' });
    // The listeners that give frames back run on this thread: wait for them through the event loop.
    return new MailboxStore(mailbox, { blocking: false, published: () => this.lend(mailbox) });
  }

  /** Lends each published frame to the 'frame' listeners; it comes back on release() or when nobody took it. */
  private lend(mailbox: FrameMailbox): void {
    for (let f = mailbox.takeNext(); f; f = mailbox.takeNext()) {
      const { slot, lease } = f;
      const release = () => mailbox.giveBack(slot, lease);
      const frame: LentFrame = { info: f.info, data: f.data, seenAtNs: f.seenAtNs, copiedAtNs: f.copiedAtNs, release };
      try {
        if (!this.emit('frame', frame)) release();
      } catch (err) {
        release();
        this.report.problem(new GlasspaneError('ERR_FRAME_LISTENER', `the 'frame' listener threw: ${describeError(err)}`, 'report this with the stack trace from NODE_DEBUG=glasspane:relay'));
      }
    }
  }

  /** The loop: map the region, start a session, pump messages; every failure leads back to the start until close(). */
  private async run(): Promise<void> {
    const conn = this.conn;
    while (!this.closing) {
      try {
        if (!conn.held) await conn.openRegion();
        else {
          await conn.startSession();
          if (!this.closing) await this.consume();
        }
      } catch (err) {
        if (err instanceof RegionLost) {
          conn.unsubscribe();
          conn.dropRegion();
        } else if (!(err instanceof SessionEnded)) {
          // Whatever it was (a bug included), the relay reports it and carries on.
          this.report.problem(err);
          await sleep(this.options.retryMs ?? 250);
        }
      } finally {
        conn.unsubscribe();
      }
    }
    this.report.state = 'closed';
    conn.dropRegion();
  }

  /** Pumps frame and cursor messages until the session ends (throws SessionEnded or RegionLost) or close(). */
  private async consume(): Promise<void> {
    const conn = this.conn;
    let wokeAtNs = 0n;
    while (!this.closing) {
      await this.thread.service(); // a blocking relay's messages and timers
      if (this.closing) return;
      conn.checkSession();
      if (conn.held!.region.broken) conn.checkRegion();
      const gotFrame = await this.frames.pump(wokeAtNs);
      wokeAtNs = 0n;
      if (this.closing) return;
      const gotCursor = this.cursor.pump();
      if (gotFrame || gotCursor) continue;
      const f = conn.frameQ!;
      const p = conn.pointerQ!;
      const index = await conn.waitForChange([f.positionOffset, f.position, p.positionOffset, p.position], HOUSEKEEPING_MS);
      if (index === WATCH_CLOSED) throw new SessionEnded('region closed');
      if (index >= 0) wokeAtNs = process.hrtime.bigint();
    }
  }
}
