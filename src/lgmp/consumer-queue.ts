/**
 * One LGMP v6 subscription as the consumer holds it (upstream: the client's queue calls): reading
 * messages, acknowledging them, the mailbox towards the producer, leaving the queue. Everything
 * read from the region is the untrusted producer's and is bounded before use, as in consumer.ts
 * (docs/protocol.md#subscriptions, #what-the-consumer-validates).
 */
import type { Region } from '../region.js';
import { CLIENT_MSG, HEADER, LGMP, MESSAGE, QUEUE } from './layout.js';
import { lock, tryLock, unlock } from './spinlock.js';
import { subsBad, subsClear, subsOn } from './subs.js';

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
 * What a ConsumerQueue needs of the session it belongs to (LgmpConsumer is one): the region,
 * our client id in it, and whether the producer's session is still the one we joined.
 */
export interface QueueSession {
  readonly region: Region;
  readonly sessionInfo: { clientID: number } | null;
  sessionValid(): boolean;
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
    private readonly consumer: QueueSession,
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
