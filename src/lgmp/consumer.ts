/**
 * LGMP v6 consumer (upstream: "client"). Reads a region written by an untrusted producer (a guest
 * VM): every index and offset read from the region is checked before use, and a bad value turns
 * into a status or a GlasspaneError naming what was found and what is expected — never an
 * out-of-bounds access or a hang. Behaviour follows gnif/LGMP de89c63 lgmp/src/client.c
 * (docs/protocol.md#sessions-and-heartbeat, #subscriptions, #what-the-consumer-validates).
 * This module joins the session and subscribes; a subscription's calls are consumer-queue.ts.
 */
import { randomInt } from 'node:crypto';
import type { Region } from '../region.js';
import { GlasspaneError } from '../errors.js';
import { HEADER, LGMP, MESSAGE, QUEUE, queueOffset } from './layout.js';
import { lock, unlock } from './spinlock.js';
import { subsBad, subsClear, subsOn, subsSet } from './subs.js';
import { monotonicMs, type Clock } from './clock.js';
import { ConsumerQueue } from './consumer-queue.js';

export { ConsumerQueue, type LgmpMessage, type QueueSession, type QueueStatus } from './consumer-queue.js';

/**
 * One producer session as sessionInit() found it. `sessionID` is the producer's (a change means
 * it restarted); `clientID` is ours, random in 1..2^32-2, written into the subscriber slots we take.
 * `udataOffset`/`udataSize` are bounded: the user data lies inside the region.
 */
export interface SessionInfo {
  sessionID: number;
  clientID: number;
  /** Region offset and length of the producer's user data (KVMFR header and records). */
  udataOffset: number;
  udataSize: number;
}

/**
 * Checks the region size, header magic and version (reads three words; nothing else is trusted
 * or needed). Throws GlasspaneError ERR_REGION_TOO_SMALL (shorter than the 5760-byte header),
 * ERR_LGMP_MAGIC (no "LGMP": no producer ever ran, or not a region; the message shows the bytes
 * found) or ERR_LGMP_VERSION (not 6: the fix says which side to update); returns when all fit.
 */
export function checkLgmpHeader(region: Region): void {
  if (region.byteLength < HEADER.SIZE) {
    throw new GlasspaneError(
      'ERR_REGION_TOO_SMALL',
      `the region is ${region.byteLength} bytes, smaller than the ${HEADER.SIZE}-byte LGMP header`,
      'point --shm at the VM\'s ivshmem region (32 MiB or more), not another file',
    );
  }
  const magic = region.load32(HEADER.magic);
  if (magic !== LGMP.MAGIC) {
    const text = Buffer.from(new Uint8Array(region.buffer, 0, 4)).toString('latin1').replace(/[^\x20-\x7e]/g, '.');
    throw new GlasspaneError(
      'ERR_LGMP_MAGIC',
      `no LGMP producer in the region: magic 0x${magic.toString(16).padStart(8, '0')} ("${text}") found, 0x${LGMP.MAGIC.toString(16)} ("LGMP") expected`,
      'start the Looking Glass B7 guest application (or `glasspane stub`) in the VM',
    );
  }
  const version = region.load32(HEADER.version);
  if (version !== LGMP.VERSION) {
    throw new GlasspaneError(
      'ERR_LGMP_VERSION',
      `LGMP version ${version} found; glasspane speaks version ${LGMP.VERSION} (Looking Glass B7)`,
      version < LGMP.VERSION ? 'update the guest application to Looking Glass B7' : 'the guest application is newer than B7: install the B7 guest application',
    );
  }
}

/**
 * One consumer's view of an LGMP region: the session with the producer now in it and the queues
 * it subscribes to. Synchronous throughout; it runs on the thread that owns `region` (the relay
 * worker when the relay is threaded, else the main thread), one instance per thread. Every call
 * reads the producer's current values again: nothing read from the region is cached as trusted
 * except the queue geometry checked at subscribe(), and that is re-compared on every queue call.
 *
 * `region` stays the caller's: the consumer never closes it, and must not be used after it is
 * closed (the addon then throws Error("region is closed")). `clock` (milliseconds, monotonic)
 * times the heartbeat; tests pass a fake one. The constructor only remembers the heartbeat value
 * found now, so that sessionInit() can tell a live producer from a stale header.
 */
export class LgmpConsumer {
  private hosttime: bigint;
  private lastHeartbeat: number;
  private session: SessionInfo | null = null;

  constructor(
    readonly region: Region,
    readonly clock: Clock = monotonicMs,
  ) {
    this.hosttime = region.byteLength >= HEADER.SIZE ? region.load64(HEADER.timestamp) : 0n;
    this.lastHeartbeat = clock();
  }

  /**
   * The session of the last successful sessionInit(), or null before one. Not re-validated: see
   * sessionProblem().
   */
  get sessionInfo(): SessionInfo | null {
    return this.session;
  }

  /**
   * Starts a session with the producer now in the region. Throws GlasspaneError
   * ERR_REGION_TOO_SMALL / ERR_LGMP_MAGIC / ERR_LGMP_VERSION (from checkLgmpHeader),
   * ERR_NO_PRODUCER when the heartbeat (header timestamp) has not moved since this consumer was
   * created or last started a session (no live producer), and ERR_LGMP_CORRUPT when the header's
   * user-data size runs past the region. Call it again later on error; nothing is changed in the
   * region by it. Does not check the KVMFR user data: parseKvmfrUdata() does.
   */
  sessionInit(): SessionInfo {
    const r = this.region;
    checkLgmpHeader(r);
    const timestamp = r.load64(HEADER.timestamp);
    if (timestamp === this.hosttime) {
      throw new GlasspaneError('ERR_NO_PRODUCER', 'the LGMP heartbeat is not moving: no producer is running', 'start the guest application (or `glasspane stub`)');
    }
    const udataSize = r.load32(HEADER.udataSize);
    if (udataSize > r.byteLength - HEADER.udata) {
      throw new GlasspaneError('ERR_LGMP_CORRUPT', `the LGMP header claims ${udataSize} bytes of user data, past the end of the ${r.byteLength}-byte region`, 'restart the guest application');
    }
    this.hosttime = timestamp;
    this.lastHeartbeat = this.clock();
    this.session = {
      sessionID: r.load32(HEADER.sessionID),
      clientID: randomInt(1, 0xffffffff),
      udataOffset: HEADER.udata,
      udataSize,
    };
    return this.session;
  }

  /**
   * Why the session is no longer usable, or null while it is: the producer restarted (new
   * sessionID) or its heartbeat stalled for more than 1 s of our clock ('no-session' before
   * sessionInit()). Reads two words; each call that sees the heartbeat move renews the 1 s.
   */
  sessionProblem(): 'restarted' | 'stalled' | 'no-session' | null {
    if (!this.session) return 'no-session';
    const r = this.region;
    if (r.load32(HEADER.sessionID) !== this.session.sessionID) return 'restarted';
    const t = r.load64(HEADER.timestamp);
    const now = this.clock();
    if (t !== this.hosttime) {
      this.hosttime = t;
      this.lastHeartbeat = now;
      return null;
    }
    return now - this.lastHeartbeat > LGMP.HEARTBEAT_TIMEOUT_MS ? 'stalled' : null;
  }

  /** Milliseconds since the heartbeat was last seen moving (by sessionInit() or sessionProblem()). */
  heartbeatAgeMs(): number {
    return this.clock() - this.lastHeartbeat;
  }

  /** sessionProblem() === null: a session exists, same producer, heartbeat seen within 1 s. */
  sessionValid(): boolean {
    return this.sessionProblem() === null;
  }

  /**
   * Subscribes to `queueID` (KVMFR: 2 frames, 1 pointer) and returns our handle on it, reading from
   * the producer's current write position (older messages are not ours). Bounds checked first:
   * at most 5 queues, 2..4096 messages, a 4-aligned ring after the header and inside the region,
   * a position inside the ring. Takes the queue's spinlock (spinning up to 250 ms) and reclaims
   * slots of subscribers the producer marked timed out before taking the first free one.
   *
   * Throws Error when called before sessionInit() (a bug); GlasspaneError ERR_PRODUCER_STARTING
   * when the producer has no such queue yet (normal right after it starts: retry),
   * ERR_LGMP_CORRUPT when the queue's values are out of bounds, ERR_QUEUE_FULL when all 32 slots
   * are taken; LockTimeoutError (code ERR_LGMP_LOCK_TIMEOUT) when the lock stays taken.
   */
  subscribe(queueID: number): ConsumerQueue {
    const r = this.region;
    if (!this.session) throw new Error('subscribe() before sessionInit()');
    const numQueues = r.load32(HEADER.numQueues);
    if (numQueues > LGMP.MAX_QUEUES) {
      throw new GlasspaneError('ERR_LGMP_CORRUPT', `the LGMP header lists ${numQueues} queues; at most ${LGMP.MAX_QUEUES} exist`, 'restart the guest application');
    }
    let index = -1;
    for (let i = 0; i < numQueues; i++) if (r.load32(queueOffset(i) + QUEUE.queueID) === queueID) index = i;
    if (index < 0) {
      // A producer writes its header before it creates its queues: right after it starts this is
      // a passing state (the caller retries), and only persisting means a foreign producer.
      throw new GlasspaneError('ERR_PRODUCER_STARTING', `the producer offers no queue ${queueID} (it has ${numQueues})`, 'if this persists, use the Looking Glass B7 guest application');
    }
    const hq = queueOffset(index);
    const numMessages = r.load32(hq + QUEUE.numMessages);
    const messagesOffset = r.load32(hq + QUEUE.messagesOffset);
    if (numMessages < 2 || numMessages > 4096 || messagesOffset < HEADER.SIZE || messagesOffset + numMessages * MESSAGE.SIZE > r.byteLength || messagesOffset % 4) {
      throw new GlasspaneError(
        'ERR_LGMP_CORRUPT',
        `queue ${queueID} is malformed: ${numMessages} messages at offset ${messagesOffset} in a ${r.byteLength}-byte region`,
        'restart the guest application',
      );
    }

    lock(r, hq + QUEUE.lock);
    let id = 0;
    let position = 0;
    try {
      let subs = r.load64(hq + QUEUE.subs);
      // Reclaim slots of subscribers that timed out (BAD) long enough ago: e.g. a killed viewer.
      if (subsOn(subs)) {
        const hosttime = r.load64(HEADER.timestamp);
        let reap = 0;
        for (let i = 0; i < LGMP.MAX_SUBS; i++) {
          const bit = (1 << i) >>> 0;
          if (subsBad(subs) & bit && hosttime > r.load64(hq + QUEUE.timeout + i * 8)) {
            reap = (reap | bit) >>> 0;
            r.store64(hq + QUEUE.timeout + i * 8, 0n);
            r.store32(hq + QUEUE.clientID + i * 4, 0);
          }
        }
        subs = subsClear(subs, reap);
      }
      const used = (subsOn(subs) | subsBad(subs)) >>> 0;
      while (id < LGMP.MAX_SUBS && used & (1 << id)) id++;
      if (id === LGMP.MAX_SUBS) {
        throw new GlasspaneError('ERR_QUEUE_FULL', `all ${LGMP.MAX_SUBS} subscriber slots of queue ${queueID} are taken`, 'close other viewers; dead ones are reclaimed after about a second');
      }
      r.store64(hq + QUEUE.timeout + id * 8, 0n);
      r.store32(hq + QUEUE.clientID + id * 4, this.session.clientID);
      r.store64(hq + QUEUE.subs, subsSet(subs, (1 << id) >>> 0));
      r.add32(hq + QUEUE.newSubCount, 1);
      position = r.load32(hq + QUEUE.position);
    } finally {
      unlock(r, hq + QUEUE.lock);
    }
    if (position >= numMessages) {
      throw new GlasspaneError('ERR_LGMP_CORRUPT', `queue ${queueID} position ${position} is outside its ${numMessages} messages`, 'restart the guest application');
    }
    return new ConsumerQueue(this, queueID, hq, id, numMessages, messagesOffset, position);
  }
}
