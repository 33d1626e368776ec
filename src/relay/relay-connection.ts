/**
 * The relay's hold on the producer, under FrameRelay: the region (mapped, dropped, checked for a
 * mapping gone bad), the LGMP session (waiting for a live producer, subscribing to the frame and
 * pointer queues, noticing a restart or a dead producer) and the queue statuses that end a session
 * or ask for a new subscription. FrameRelay runs the loop and pumps the messages.
 *
 * Contract for subclasses: every method here that finds the session over throws SessionEnded,
 * and RegionLost when the mapping must be re-opened; the loop catches both and starts again.
 */
import { debuglog } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { RelayRegion } from './relay-region.js';
import { RelayReporter } from './relay-reporter.js';
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

/** The region and the LGMP session a relay holds (see the module comment); FrameRelay is the one to use. */
export abstract class RelayConnection extends RelayReporter {
  protected held: RelayRegion | null = null;
  protected closed = false;
  /** formatVer of the last frame: a change is announced as 'format'. */
  protected lastFormatVer = -1;
  protected frameQ: ConsumerQueue | null = null;
  protected pointerQ: ConsumerQueue | null = null;
  protected consumer: LgmpConsumer | null = null;
  protected kvmfr: KvmfrInfo | null = null;

  constructor(readonly options: RelayOptions) {
    super();
  }

  /** The producer's KVMFR info for the current session, if any. */
  get session(): KvmfrInfo | null {
    return this.kvmfr;
  }

  /** Tries to map the region; on failure reports it, shows `waiting` and pauses briefly (the loop tries again). */
  protected async openRegion(): Promise<void> {
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

  /** Lets go of the mapping and everything read from it. */
  protected dropRegion(): void {
    this.held?.close();
    this.held = null;
    this.consumer = null;
    this.kvmfr = null;
  }

  /** Throws RegionLost when the mapping must be re-opened (it shrank under us, or the path names a new file). */
  protected checkRegion(): void {
    const lost = this.held!.lost();
    if (!lost) return;
    const { code, why } = lost;
    this.counters.reopens++;
    this.problem(new GlasspaneError(code, `${why}; opening it again`, 'nothing to do if the VM or the guest application is restarting; otherwise do not resize or delete the region while it is in use'));
    this.setStatus('producer-gone', `${why}; waiting for the guest`);
    throw new RegionLost(why);
  }

  /** Waits for a live producer with a valid header, then subscribes to both queues. */
  protected async startSession(): Promise<void> {
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

  /** Leaves both queues (a failure is logged only: the producer reaps the slot anyway). */
  protected unsubscribe(): void {
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
  protected resubscribe(which: 'frame' | 'pointer', why: string): void {
    log('resubscribing to the %s queue: %s', which, why);
    this.problem(new GlasspaneError('ERR_SUBSCRIPTION_LOST', `the ${which} queue subscription was lost (${why}); resubscribed`));
    const consumer = this.consumer!;
    if (which === 'frame') this.frameQ = consumer.subscribe(KVMFR.QUEUE_FRAME);
    else this.pointerQ = consumer.subscribe(KVMFR.QUEUE_POINTER);
  }

  /** Ends the session when the producer restarted or died; shows a late heartbeat as `stalled`. */
  protected checkSession(): void {
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

  /** Waits until one of the watched (offset, value) words differs; the watcher's result index. */
  protected waitForChange(words: number[], timeoutMs: number): Promise<number> {
    return this.held!.waitForChange(words, timeoutMs, this.options.waitOnThisThread ?? false, () => this.closed);
  }

  /** Acts on a queue status other than a message: resubscribes, or ends the session (throws SessionEnded). */
  protected handleStatus(which: 'frame' | 'pointer', status: string, q: ConsumerQueue): void {
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
