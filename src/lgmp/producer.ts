/**
 * LGMP v6 producer (upstream: "host"). Owns the region's header: writes a new session, creates
 * queues, bump-allocates memory, posts messages and runs `process()` (heartbeat + timing out
 * subscribers that stopped acknowledging) every 10 ms, as Looking Glass B7's producer does.
 * Behaviour follows gnif/LGMP de89c63 lgmp/src/host.c (docs/protocol.md#sessions-and-heartbeat,
 * #subscriptions).
 */
import { randomInt } from 'node:crypto';
import type { Region } from '../region.js';
import { GlasspaneError } from '../errors.js';
import { CLIENT_MSG, HEADER, LGMP, MESSAGE, QUEUE, firstFreeOffset, queueOffset } from './layout.js';
import { lock, unlock } from './spinlock.js';
import { subsBad, subsOn, subsWithBad } from './subs.js';
import { monotonicMs, type Clock } from './clock.js';

/**
 * One queue as LgmpProducer.addQueue() creates it. `queueID` is the number consumers subscribe
 * to (KVMFR: 2 frames, 1 pointer); `numMessages` how many messages may be pending at once (B7: 2
 * frames, 20 cursor updates); the total of all queues' rings must fit the region.
 */
export interface QueueConfig {
  queueID: number;
  /** Usable length; the ring has one more slot that is never filled. */
  numMessages: number;
  /** Subscriber timeout in ms (B7: 1000). */
  subTimeoutMs: number;
}

/** A block of region memory handed out by the producer's bump allocator. */
export interface Allocation {
  offset: number;
  size: number;
}

/**
 * What ProducerQueue.post() did: 'posted'; 'no-subscribers' (nobody live to read it: nothing
 * was written, the memory is free for the next try); 'full' (numMessages are pending: wait on
 * `countOffset` and post again).
 */
export type PostResult = 'posted' | 'no-subscribers' | 'full';

/**
 * The producer side of an LGMP region (guest-stub and tests; a real guest runs Looking Glass's own).
 * The constructor takes over the region at once: picks a sessionID different from the one in the
 * region, writes the header with `udata` (copied: the caller may reuse its bytes) and no queues.
 * Everything after the user data is this producer's bump allocator (frames, cursor shapes, rings).
 *
 * `region` stays the caller's (never closed here). Throws GlasspaneError ERR_REGION_TOO_SMALL when
 * the region cannot hold the header, the user data and 4 KiB more. Synchronous and single-threaded;
 * process() must run about every 10 ms (B7's rate) or consumers see the heartbeat stall after 1 s.
 * Consumers in other processes share the memory and are untrusted: what the producer reads back
 * (subscriber bits, counts, mailbox sizes) is bounded before use.
 */
export class LgmpProducer {
  readonly sessionID: number;
  readonly queues: ProducerQueue[] = [];
  private nextFree: number;
  private readonly end: number;

  constructor(
    readonly region: Region,
    private readonly udata: Uint8Array,
    readonly clock: Clock = monotonicMs,
  ) {
    if (region.byteLength < HEADER.SIZE + udata.length + 4096) {
      throw new GlasspaneError(
        'ERR_REGION_TOO_SMALL',
        `the region is ${region.byteLength} bytes, too small for the LGMP header and user data`,
        'use a region of at least 32 MiB (1080p) — see `glasspane stub --help`',
      );
    }
    this.end = region.byteLength;
    this.nextFree = firstFreeOffset(udata.length);
    // A new session id, different from the previous one, tells consumers the producer restarted.
    const previous = region.load32(HEADER.sessionID);
    let id = previous;
    while (id === previous) id = randomInt(1, 0xffffffff);
    this.sessionID = id;
    this.writeHeader();
  }

  private writeHeader(): void {
    const r = this.region;
    r.store32(HEADER.sessionID, this.sessionID);
    r.store32(HEADER.magic, LGMP.MAGIC);
    r.store64(HEADER.timestamp, BigInt(this.clock()));
    r.store32(HEADER.version, LGMP.VERSION);
    r.store32(HEADER.numQueues, 0);
    r.store32(HEADER.udataSize, this.udata.length);
    new Uint8Array(r.buffer, HEADER.udata, this.udata.length).set(this.udata);
  }

  /** Bytes still free for allocations. */
  get memAvailable(): number {
    return this.end - this.nextFree;
  }

  /** Bump allocation; `alignment` must be a power of two. Returns null when it does not fit. */
  alloc(size: number, alignment = 4): Allocation | null {
    if (alignment & (alignment - 1)) throw new RangeError(`alignment ${alignment} is not a power of two`);
    const aligned = Math.ceil(size / alignment) * alignment;
    const offset = Math.ceil(this.nextFree / alignment) * alignment;
    if (offset + aligned > this.end) return null;
    this.nextFree = offset + aligned;
    return { offset, size: aligned };
  }

  /**
   * Creates the next queue (index = how many exist) with a ring of numMessages + 1 slots allocated
   * from the region, zeroes its header and publishes it in `numQueues`. Throws RangeError beyond 5
   * queues, GlasspaneError ERR_REGION_TOO_SMALL when the ring does not fit.
   */
  addQueue(config: QueueConfig): ProducerQueue {
    if (this.queues.length === LGMP.MAX_QUEUES) throw new RangeError(`LGMP supports at most ${LGMP.MAX_QUEUES} queues`);
    const ring = this.alloc((config.numMessages + 1) * MESSAGE.SIZE);
    if (!ring) throw new GlasspaneError('ERR_REGION_TOO_SMALL', 'no room in the region for the queue ring', 'use a larger region');
    const index = this.queues.length;
    const q = new ProducerQueue(this, index, config, ring.offset);
    this.queues.push(q);
    this.region.store32(HEADER.numQueues, this.queues.length);
    return q;
  }

  /**
   * The periodic duty (B7: every 10 ms): heartbeat, then release head messages whose pending
   * subscribers ran past the queue's timeout (those subscribers turn BAD and are reaped later).
   * Returns 'corrupted' when something overwrote the header (the caller starts a new session).
   */
  process(): 'ok' | 'corrupted' {
    const r = this.region;
    if (r.load32(HEADER.magic) !== LGMP.MAGIC) return 'corrupted';
    const now = this.clock();
    r.store64(HEADER.timestamp, BigInt(now));
    for (const q of this.queues) if (!q.collect(now)) return 'corrupted';
    return 'ok';
  }
}

/**
 * One queue of an LgmpProducer, made by addQueue(). post() hands a block of region memory to every
 * live subscriber; the block must not be rewritten until the message is acknowledged by all of
 * them or released by timeout (watch `pending()` / `countOffset`). Also the consumers' mailbox
 * (readData/ackData). Spinlock waits inside spin up to 250 ms and then throw LockTimeoutError.
 */
export class ProducerQueue {
  /** Region offset of this queue's header. */
  readonly hq: number;
  readonly numMessages: number;
  private position = 0;
  private cMsgPos = 0;
  /** Messages released because a subscriber missed the timeout (not acknowledged). */
  releasedByTimeout = 0;

  constructor(
    private readonly producer: LgmpProducer,
    readonly index: number,
    readonly config: QueueConfig,
    readonly messagesOffset: number,
  ) {
    const r = producer.region;
    this.hq = queueOffset(index);
    this.numMessages = config.numMessages + 1;
    // Zero the whole queue header: a previous session may have left subscribers and timeouts.
    new Uint8Array(r.buffer, this.hq, QUEUE.SIZE).fill(0);
    r.store32(this.hq + QUEUE.queueID, config.queueID);
    r.store32(this.hq + QUEUE.numMessages, this.numMessages);
    r.store32(this.hq + QUEUE.maxTime, config.subTimeoutMs);
    r.store32(this.hq + QUEUE.messagesOffset, messagesOffset);
    r.store32(this.hq + QUEUE.cMsgAvail, LGMP.MSGS_MAX);
    r.store32(this.hq + QUEUE.position, 0);
  }

  private get region(): Region {
    return this.producer.region;
  }

  /** Region offset of `count` (pending messages): watch it to wait for room. */
  get countOffset(): number {
    return this.hq + QUEUE.count;
  }

  /** True when at least one consumer is subscribed (including ones already marked timed out). */
  hasSubs(): boolean {
    return subsOn(this.region.load64(this.hq + QUEUE.subs)) !== 0;
  }

  /** Subscribers added since the last call (reading clears it). */
  newSubs(): number {
    return this.region.xchg32(this.hq + QUEUE.newSubCount, 0);
  }

  /** Messages posted and not yet acknowledged by all their subscribers (0..numMessages). */
  pending(): number {
    return this.region.load32(this.hq + QUEUE.count);
  }

  /** Subscriber bitmasks, for diagnostics and tests. */
  subscribers(): { on: number; bad: number } {
    const s = this.region.load64(this.hq + QUEUE.subs);
    return { on: subsOn(s), bad: subsBad(s) };
  }

  /**
   * Posts `mem` (an allocation of this producer, trusted as given) with the 32-bit tag `udata` to the
   * subscribers that are on and not timed out. The payload must be fully written before the call
   * (KVMFR frames may be posted early and follow a write pointer instead). Takes the queue lock
   * (LockTimeoutError after 250 ms when a consumer holds it).
   */
  post(udata: number, mem: Allocation): PostResult {
    const r = this.region;
    const hq = this.hq;
    lock(r, hq + QUEUE.lock);
    try {
      const subs = r.load64(hq + QUEUE.subs);
      const pend = (subsOn(subs) & ~subsBad(subs)) >>> 0;
      if (!pend) return 'no-subscribers';
      if (r.load32(hq + QUEUE.count) === this.numMessages - 1) return 'full';
      const msg = this.messagesOffset + this.position * MESSAGE.SIZE;
      r.store32(msg + MESSAGE.udata, udata >>> 0);
      r.store32(msg + MESSAGE.size, mem.size);
      r.store32(msg + MESSAGE.offset, mem.offset);
      r.store32(msg + MESSAGE.pendingSubs, pend);
      if (r.add32(hq + QUEUE.count, 1) === 0) {
        r.store64(hq + QUEUE.msgTimeout, BigInt(this.producer.clock() + this.config.subTimeoutMs));
      }
      if (++this.position === this.numMessages) this.position = 0;
      r.store32(hq + QUEUE.position, this.position);
      return 'posted';
    } finally {
      unlock(r, hq + QUEUE.lock);
    }
  }

  /**
   * Part of LgmpProducer.process(): time out and release head messages. Returns false when the
   * queue header is corrupt (a consumer shares this memory and may be hostile or buggy: a count
   * above the ring's length would otherwise be walked down one message at a time).
   */
  collect(now: number): boolean {
    const r = this.region;
    const hq = this.hq;
    lock(r, hq + QUEUE.lock);
    try {
      const count = r.load32(hq + QUEUE.count);
      if (count >= this.numMessages) return false;
      if (!count) return true;
      let subs = r.load64(hq + QUEUE.subs);
      // At most `count` messages can be released: the bound holds even if the count word changes under us.
      for (let i = 0; i < count; i++) {
        const start = r.load32(hq + QUEUE.start) % this.numMessages;
        const msg = this.messagesOffset + start * MESSAGE.SIZE;
        let pend = (r.load32(msg + MESSAGE.pendingSubs) & subsOn(subs)) >>> 0;
        const newBad = (pend & ~subsBad(subs)) >>> 0;
        if (newBad && now > Number(r.load64(hq + QUEUE.msgTimeout))) {
          subs = subsWithBad(subs, newBad);
          const until = BigInt(now + this.config.subTimeoutMs);
          for (let id = 0; id < LGMP.MAX_SUBS; id++) if (newBad & (1 << id)) r.store64(hq + QUEUE.timeout + id * 8, until);
          r.store32(msg + MESSAGE.pendingSubs, 0);
          pend = 0;
          this.releasedByTimeout++;
        }
        if ((pend & ~subsBad(subs)) >>> 0) break; // still waiting on live subscribers
        r.store32(hq + QUEUE.start, start + 1 === this.numMessages ? 0 : start + 1);
        if (r.add32(hq + QUEUE.count, 0xffffffff) === 1) break; // count -= 1; queue now empty
        r.store64(hq + QUEUE.msgTimeout, BigInt(now + this.config.subTimeoutMs));
      }
      r.store64(hq + QUEUE.subs, subs);
      return true;
    } finally {
      unlock(r, hq + QUEUE.lock);
    }
  }

  /** Next consumer→producer message (a copy), or null when the mailbox is empty. Call ackData() after acting on it. */
  readData(): Uint8Array | null {
    const r = this.region;
    const hq = this.hq;
    if (r.load32(hq + QUEUE.cMsgAvail) >= LGMP.MSGS_MAX) return null;
    lock(r, hq + QUEUE.cMsgLock);
    try {
      const m = hq + QUEUE.cMsgs + this.cMsgPos * CLIENT_MSG.SIZE;
      if (++this.cMsgPos === LGMP.MSGS_MAX) this.cMsgPos = 0;
      const size = Math.min(r.load32(m + CLIENT_MSG.size), LGMP.MSGS_SIZE); // the consumer is untrusted too
      const out = new Uint8Array(size);
      out.set(new Uint8Array(r.buffer, m + CLIENT_MSG.data, size));
      r.add32(hq + QUEUE.cMsgAvail, 1);
      return out;
    } finally {
      unlock(r, hq + QUEUE.cMsgLock);
    }
  }

  /**
   * Tells consumers the mailbox message last returned by readData() was handled (their readSerial()
   * moves on).
   */
  ackData(): void {
    this.region.add32(this.hq + QUEUE.cMsgRSerial, 1);
  }
}
