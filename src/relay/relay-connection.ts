/**
 * The relay's hold on the producer, one of its parts: the region (mapped, dropped, checked for a
 * mapping gone bad), the LGMP session (waiting for a live producer, subscribing to the frame and
 * pointer queues, noticing a restart or a dead producer) and the queue statuses that end a session
 * or ask for a new subscription. FrameRelay runs the loop; the pumps (frame-pump.ts,
 * cursor-pump.ts) move the messages.
 *
 * Contract: every method here that finds the session over throws SessionEnded, and RegionLost
 * when the mapping must be re-opened; the relay's loop catches both and starts again.
 */
import { debuglog } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { RelayRegion } from './relay-region.js';
import type { RelayReporter } from './relay-reporter.js';
import type { RelayThread } from './relay-thread.js';
import { LgmpConsumer, type ConsumerQueue } from '../lgmp/consumer.js';
import { LockTimeoutError } from '../lgmp/spinlock.js';
import { parseKvmfrUdata, type KvmfrInfo } from '../kvmfr/header.js';
import { KVMFR } from '../kvmfr/layout.js';
import { HEADER } from '../lgmp/layout.js';
import { type ErrorCode, GlasspaneError, describeError } from '../errors.js';
import type { RelayOptions } from './relay-types.js';

const log = debuglog('glasspane:relay');

/** The session ended (restart, stall or corruption): go back to waiting for a producer. */
export class SessionEnded extends Error {}
/** The mapping is no good any more (file shrank, or the path names a new file): re-open it. */
export class RegionLost extends Error {}

/** A heartbeat older than this (but not yet LGMP's 1 s) shows as `stalled`. */
const STALLED_AFTER_MS = 300;

/** Seen while a producer is between writing its LGMP header and its user data or queues: reported only when they last. */
const STARTING: ReadonlySet<ErrorCode> = new Set<ErrorCode>(['ERR_PRODUCER_STARTING', 'ERR_KVMFR_MAGIC', 'ERR_KVMFR_VERSION', 'ERR_KVMFR_CORRUPT']);

/**
 * The region and the LGMP session a relay holds (see the module comment). Owned by one FrameRelay
 * and used from its thread; `closed()` tells it when the relay is closing.
 */
export class RelayConnection {
  /** The mapped region, or null while there is none. */
  held: RelayRegion | null = null;
  /** formatVer of the last frame: a change is announced as 'format'. */
  lastFormatVer = -1;
  frameQ: ConsumerQueue | null = null;
  pointerQ: ConsumerQueue | null = null;
  consumer: LgmpConsumer | null = null;
  private kvmfr: KvmfrInfo | null = null;

  constructor(
    private readonly options: RelayOptions,
    private readonly report: RelayReporter,
    private readonly thread: RelayThread,
    private readonly closed: () => boolean,
  ) {}

  /** The producer's KVMFR info for the current session, if any. */
  get session(): KvmfrInfo | null {
    return this.kvmfr;
  }

  /** Tries to map the region; on failure reports it, shows `waiting` and pauses briefly (the loop tries again). */
  async openRegion(): Promise<void> {
    try {
      this.held = RelayRegion.open(this.options.path, this.options.watcher, this.thread);
    } catch (err) {
      this.dropRegion();
      if (this.report.state !== 'producer-gone') this.report.setStatus('waiting', `waiting for ${this.options.path} to appear`);
      this.report.problem(err);
      // Look again soon: a viewer started just before the VM or the stub should not miss
      // their first frames (opening is a cheap open(2) that fails).
      await sleep(Math.min(this.options.retryMs ?? 250, 50));
    }
  }

  /** Lets go of the mapping and everything read from it. */
  dropRegion(): void {
    this.held?.close();
    this.held = null;
    this.consumer = null;
    this.kvmfr = null;
  }

  /** Throws RegionLost when the mapping must be re-opened (it shrank under us, or the path names a new file). */
  checkRegion(): void {
    const lost = this.held!.lost();
    if (!lost) return;
    const { code, why } = lost;
    this.report.counters.reopens++;
    this.report.problem(new GlasspaneError(code, `${why}; opening it again`, 'nothing to do if the VM or the guest application is restarting; otherwise do not resize or delete the region while it is in use'));
    this.report.setStatus('producer-gone', `${why}; waiting for the guest`);
    throw new RegionLost(why);
  }

  /** Waits for a live producer with a valid header, then subscribes to both queues. */
  async startSession(): Promise<void> {
    const region = this.held!.region;
    if (this.report.state !== 'producer-gone') this.report.setStatus('waiting', 'waiting for the guest…');
    const consumer = new LgmpConsumer(region);
    let startingSince: number | undefined;
    for (;;) {
      if (this.closed()) return;
      this.checkRegion();
      // The heartbeat must move after we started looking (a live producer): wait for the
      // timestamp word to change, or retry after a while (also to re-check a bad header).
      if (region.byteLength >= HEADER.SIZE) {
        const ts = region.load32(HEADER.timestamp);
        await this.waitForChange([HEADER.timestamp, ts], this.options.retryMs ?? 250);
      } else {
        await sleep(this.options.retryMs ?? 250);
      }
      if (this.closed()) return;
      this.checkRegion();
      try {
        const s = consumer.sessionInit();
        const udata = new Uint8Array(region.buffer, s.udataOffset, s.udataSize);
        this.kvmfr = parseKvmfrUdata(udata);
        this.consumer = consumer;
        this.frameQ = consumer.subscribe(KVMFR.QUEUE_FRAME);
        this.pointerQ = consumer.subscribe(KVMFR.QUEUE_POINTER);
        this.lastFormatVer = -1;
        this.report.succeeded();
        this.report.counters.sessions++;
        this.report.dispatch('session', { sessionID: s.sessionID, info: this.kvmfr });
        this.report.setStatus('connected', `connected to ${this.kvmfr.producerVersion || 'the producer'}`);
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
        if (code !== 'ERR_NO_PRODUCER' || this.report.troubled) this.report.problem(err);
      }
    }
  }

  /** Leaves both queues (a failure is logged only: the producer reaps the slot anyway). */
  unsubscribe(): void {
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
  resubscribe(which: 'frame' | 'pointer', why: string): void {
    log('resubscribing to the %s queue: %s', which, why);
    this.report.problem(new GlasspaneError('ERR_SUBSCRIPTION_LOST', `the ${which} queue subscription was lost (${why}); resubscribed`));
    const consumer = this.consumer!;
    if (which === 'frame') this.frameQ = consumer.subscribe(KVMFR.QUEUE_FRAME);
    else this.pointerQ = consumer.subscribe(KVMFR.QUEUE_POINTER);
  }

  /** Ends the session when the producer restarted or died; shows a late heartbeat as `stalled`. */
  checkSession(): void {
    const consumer = this.consumer!;
    const why = consumer.sessionProblem();
    if (why === 'stalled' || why === 'no-session') {
      this.checkRegion(); // a re-created region is a clearer reason than a silent heartbeat
      this.report.problem(new GlasspaneError('ERR_PRODUCER_STALLED', 'the producer stopped (no heartbeat for over 1 s); waiting for it to come back', 'nothing to do if the guest is paused, rebooting or restarting its application'));
      this.report.setStatus('producer-gone', 'the guest stopped sending; waiting for it');
      throw new SessionEnded(why);
    }
    if (why === 'restarted') {
      this.report.problem(new GlasspaneError('ERR_SESSION_ENDED', 'the producer restarted (new session)'));
      throw new SessionEnded(why);
    }
    const age = consumer.heartbeatAgeMs();
    if (age > STALLED_AFTER_MS) {
      // A host script that re-created the region leaves our (unlinked) file silent: notice it now.
      this.checkRegion();
      this.report.setStatus('stalled', `no heartbeat from the guest for ${Math.round(age)} ms`);
    } else if (this.report.state === 'stalled') this.report.setStatus('connected', 'the guest is sending again');
  }

  /** Waits until one of the watched (offset, value) words differs; the watcher's result index. */
  waitForChange(words: number[], timeoutMs: number): Promise<number> {
    return this.held!.waitForChange(words, timeoutMs);
  }

  /** Acknowledges the current message of `q` (after its copy); a bad status is handled (may throw SessionEnded). True when acknowledged. */
  acknowledge(which: 'frame' | 'pointer', q: ConsumerQueue): boolean {
    const done = q.messageDone();
    if (done === 'ok' || done === 'empty') return done === 'ok';
    this.handleStatus(which, done, q);
    return false;
  }

  /** Acts on a queue status other than a message: resubscribes, or ends the session (throws SessionEnded). */
  handleStatus(which: 'frame' | 'pointer', status: string, q: ConsumerQueue): void {
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
        this.report.problem(new GlasspaneError('ERR_LGMP_CORRUPT', `the ${which} queue is corrupt: ${q.error}`, 'restart the guest application'));
        throw new SessionEnded('corrupted');
    }
  }
}
