/**
 * LGMP v6 consumer (upstream: "client"). Reads a region written by an untrusted producer (a guest
 * VM): every index and offset read from the region is checked before use, and a bad value turns
 * into a status or a GlasspaneError naming what was found and what is expected — never an
 * out-of-bounds access or a hang. Behaviour follows gnif/LGMP de89c63 lgmp/src/client.c
 * (docs/protocol.md#sessions-and-heartbeat, #subscriptions, #what-the-consumer-validates).
 */
import { randomInt } from 'node:crypto';
import type { Region } from '../region.js';
import { GlasspaneError } from '../errors.js';
import { CLIENT_MSG, HEADER, LGMP, MESSAGE, QUEUE, queueOffset } from './layout.js';
import { lock, tryLock, unlock } from './spinlock.js';
import { subsBad, subsClear, subsOn, subsSet } from './subs.js';
import { monotonicMs, type Clock } from './clock.js';

/**
 * Why a queue call returned no message: 'empty' (nothing new; wait on `positionOffset`),
 * 'timeout' (the producer marked us BAD for acknowledging too slowly, or gave our slot away:
 * subscribe again), 'unsubscribed' (our slot was cleared while the session is valid: subscribe
 * again), 'invalid-session' (the producer restarted or stalled: sessionInit() again), 'corrupted'
 * (the region holds values outside the protocol; `ConsumerQueue.error` says which).
 */
export type QueueStatus = 'empty' | 'timeout' | 'unsubscribed' | 'invalid-session' | 'corrupted';

/**
 * One message read from a queue's ring by ConsumerQueue.process(). `udata` is the producer's
 * 32-bit tag (KVMFR: the frame's or cursor's flags), not checked here. `offset` and `size` are
 * bounded: the payload lies inside the region, but it may overlap anything (the LGMP header, other
 * slots) and its bytes are the producer's: parse them with the kvmfr readers. The payload stays the
 * producer's until messageDone() is called for this message; after that it may be rewritten at
 * once.
 */
export interface LgmpMessage {
  status: 'ok';
  udata: number;
  size: number;
  /** Region offset of the payload; offset + size is inside the region. */
  offset: number;
}

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

/**
 * Our subscription to one queue, made by LgmpConsumer.subscribe() (not constructed elsewhere).
 * Read a message with process(), use its payload, then messageDone() to acknowledge it; the
 * producer must see the acknowledgement within its queue's maxTime (B7: 1 s) or it marks
 * us timed out. Calls never throw for guest data (only sendData() can, when the producer holds
 * the mailbox lock too long): a bad value returns 'corrupted' (with `error`), a lost subscription
 * or session a QueueStatus. Every call first re-reads the queue's geometry and our subscriber
 * bits, and bounds the producer's position and each message's payload. Same thread as its
 * consumer; not for concurrent use.
 */
export class ConsumerQueue {
  private readonly bit: number;
  private lastError = '';

  constructor(
    private readonly consumer: LgmpConsumer,
    readonly queueID: number,
    /** Region offset of the queue header. */
    readonly hq: number,
    /** Our subscriber slot (0..31). */
    readonly id: number,
    readonly numMessages: number,
    readonly messagesOffset: number,
    /** Our read index in the ring. */
    public position: number,
  ) {
    this.bit = (1 << id) >>> 0;
  }

  private get region(): Region {
    return this.consumer.region;
  }

  /** Region offset of the producer's write index: watch it to wait for a new message. */
  get positionOffset(): number {
    return this.hq + QUEUE.position;
  }

  /** What made the last call return 'corrupted'. */
  get error(): string {
    return this.lastError;
  }

  private corrupted(why: string): 'corrupted' {
    this.lastError = why;
    return 'corrupted';
  }

  /** Our standing in the queue: null when subscribed and fine. */
  private standing(): QueueStatus | null {
    const r = this.region;
    if (r.load32(this.hq + QUEUE.numMessages) !== this.numMessages || r.load32(this.hq + QUEUE.messagesOffset) !== this.messagesOffset) {
      return this.consumer.sessionValid() ? this.corrupted('the queue was reconfigured under us') : 'invalid-session';
    }
    const subs = r.load64(this.hq + QUEUE.subs);
    if (subsBad(subs) & this.bit) return 'timeout';
    if (!(subsOn(subs) & this.bit)) return this.consumer.sessionValid() ? 'unsubscribed' : 'invalid-session';
    // Our slot was reaped and handed to another consumer: as good as timed out.
    if (r.load32(this.hq + QUEUE.clientID + this.id * 4) !== this.consumer.sessionInfo?.clientID) return 'timeout';
    return null;
  }

  private producerPosition(): number | 'corrupted' {
    const end = this.region.load32(this.hq + QUEUE.position);
    return end < this.numMessages ? end : this.corrupted(`queue ${this.queueID} position ${end} is outside its ${this.numMessages} messages`);
  }

  /** Region offset of the ring slot at our position when a message is waiting there, else why not. */
  private pendingSlot(): number | QueueStatus {
    const s = this.standing();
    if (s) return s;
    const end = this.producerPosition();
    if (end === 'corrupted') return end;
    if (end === this.position) return 'empty';
    return this.messagesOffset + this.position * MESSAGE.SIZE;
  }

  /**
   * The message at our position (not consumed: calling again returns it again), or why there is
   * none. Its payload is bounded to the region (see LgmpMessage) and stays put until messageDone().
   */
  process(): LgmpMessage | QueueStatus {
    const msg = this.pendingSlot();
    if (typeof msg === 'string') return msg;
    const r = this.region;
    const offset = r.load32(msg + MESSAGE.offset);
    const size = r.load32(msg + MESSAGE.size);
    if (offset > r.byteLength || size > r.byteLength - offset) {
      return this.corrupted(`message payload ${offset}+${size} runs past the end of the ${r.byteLength}-byte region`);
    }
    return { status: 'ok', udata: r.load32(msg + MESSAGE.udata), size, offset };
  }

  /**
   * Acknowledges the message at our position (after we finished with its payload: the producer
   * may rewrite it at once) and moves on. The last subscriber to acknowledge also frees the slot
   * when it gets the queue lock at the first try (else the producer's process() does).
   */
  messageDone(): 'ok' | QueueStatus {
    const msg = this.pendingSlot();
    if (typeof msg === 'string') return msg;
    const r = this.region;
    const left = (r.and32(msg + MESSAGE.pendingSubs, ~this.bit >>> 0) & ~this.bit) >>> 0;
    let status: 'ok' | QueueStatus = 'ok';
    if (left === 0 && tryLock(r, this.hq + QUEUE.lock)) {
      try {
        const start = r.load32(this.hq + QUEUE.start);
        if (start === this.position) {
          r.store32(this.hq + QUEUE.start, start + 1 === this.numMessages ? 0 : start + 1);
          if (r.add32(this.hq + QUEUE.count, 0xffffffff) === 0) {
            r.store32(this.hq + QUEUE.count, 0);
            status = this.corrupted('the queue count went below zero');
          } else {
            const maxTime = r.load32(this.hq + QUEUE.maxTime);
            r.store64(this.hq + QUEUE.msgTimeout, r.load64(HEADER.timestamp) + BigInt(maxTime));
          }
        }
      } finally {
        unlock(r, this.hq + QUEUE.lock);
      }
    }
    this.position = this.position + 1 === this.numMessages ? 0 : this.position + 1;
    return status;
  }

  /** Acknowledges every pending message but the newest (to catch up after a stall). */
  advanceToLast(): 'ok' | QueueStatus {
    for (;;) {
      const s = this.standing();
      if (s) return s;
      const end = this.producerPosition();
      if (end === 'corrupted') return end;
      if (end === this.position) return 'empty';
      const next = this.position + 1 === this.numMessages ? 0 : this.position + 1;
      if (next === end) return 'ok';
      const done = this.messageDone();
      if (done !== 'ok') return done;
    }
  }

  /**
   * Sends up to 64 bytes to the producer's mailbox. Returns the message serial (handled once
   * `readSerial()` reaches it), or a status when the mailbox is full or we timed out. `data` is
   * copied into the region. Throws RangeError for more than 64 bytes and LockTimeoutError when
   * the mailbox lock stays taken for 250 ms (a hung producer).
   */
  sendData(data: Uint8Array): number | 'full' | 'timeout' {
    if (data.length > LGMP.MSGS_SIZE) throw new RangeError(`an LGMP mailbox message holds at most ${LGMP.MSGS_SIZE} bytes, got ${data.length}`);
    const r = this.region;
    const hq = this.hq;
    if (subsBad(r.load64(hq + QUEUE.subs)) & this.bit) return 'timeout';
    if (r.load32(hq + QUEUE.cMsgAvail) === 0) return 'full';
    lock(r, hq + QUEUE.cMsgLock);
    try {
      if (r.load32(hq + QUEUE.cMsgAvail) === 0) return 'full';
      let wpos = r.load32(hq + QUEUE.cMsgWPos);
      if (wpos >= LGMP.MSGS_MAX) return 'full'; // hostile producer state: refuse rather than write out of the ring
      const m = hq + QUEUE.cMsgs + wpos * CLIENT_MSG.SIZE;
      r.store32(m + CLIENT_MSG.size, data.length);
      new Uint8Array(r.buffer, m + CLIENT_MSG.data, data.length).set(data);
      if (++wpos === LGMP.MSGS_MAX) wpos = 0;
      r.store32(hq + QUEUE.cMsgWPos, wpos);
      r.add32(hq + QUEUE.cMsgAvail, 0xffffffff);
      return (r.add32(hq + QUEUE.cMsgWSerial, 1) + 1) >>> 0;
    } finally {
      unlock(r, hq + QUEUE.cMsgLock);
    }
  }

  /** How many mailbox messages the producer has handled (its u32 counter, as written: not bounded). */
  readSerial(): number {
    return this.region.load32(this.hq + QUEUE.cMsgRSerial);
  }

  /** Gives our slot back (not possible once we timed out: the producer reaps it). */
  unsubscribe(): void {
    const r = this.region;
    try {
      lock(r, this.hq + QUEUE.lock, 50);
    } catch {
      return; // a hung producer holds the lock; the slot is reaped after the timeout anyway
    }
    try {
      const subs = r.load64(this.hq + QUEUE.subs);
      if (subsBad(subs) & this.bit) return;
      r.store64(this.hq + QUEUE.subs, subsClear(subs, this.bit));
      r.store64(this.hq + QUEUE.timeout + this.id * 8, 0n);
      r.store32(this.hq + QUEUE.clientID + this.id * 4, 0);
    } finally {
      unlock(r, this.hq + QUEUE.lock);
    }
  }
}
