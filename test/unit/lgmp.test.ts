import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { native } from '../../src/native.js';
import type { Region } from '../../src/region.js';
import { LgmpProducer, type ProducerQueue } from '../../src/lgmp/producer.js';
import { LgmpConsumer, checkLgmpHeader, type LgmpMessage } from '../../src/lgmp/consumer.js';
import { HEADER, LGMP, MESSAGE, QUEUE } from '../../src/lgmp/layout.js';
import { LockTimeoutError } from '../../src/lgmp/spinlock.js';
import { coded } from '../support/errors.js';
import { removeShm, shmPath } from '../support/helpers.js';

afterAll(removeShm);

/** A clock each side advances by hand, so timeouts are tested without sleeping. */
class FakeClock {
  t = 1_000_000;
  now = () => this.t;
}

let region: Region;
let pclock: FakeClock;
let cclock: FakeClock;
const udata = new Uint8Array([1, 2, 3, 4, 5]);

function setup(): { producer: LgmpProducer; frames: ProducerQueue; pointer: ProducerQueue } {
  const producer = new LgmpProducer(region, udata, pclock.now);
  const frames = producer.addQueue({ queueID: 2, numMessages: 2, subTimeoutMs: 1000 });
  const pointer = producer.addQueue({ queueID: 1, numMessages: 20, subTimeoutMs: 1000 });
  return { producer, frames, pointer };
}

/** A consumer with a live session (the producer's heartbeat moved after it was created). */
function consumer(producer: LgmpProducer): LgmpConsumer {
  const c = new LgmpConsumer(region, cclock.now);
  pclock.t += 10;
  producer.process();
  c.sessionInit();
  return c;
}

beforeEach(() => {
  region?.close();
  region = new native.Region(shmPath('lgmp'), { create: true, size: 1 << 20 });
  pclock = new FakeClock();
  cclock = new FakeClock();
});

describe('LGMP session', () => {
  it('writes the header and user data; a consumer needs a moving heartbeat', () => {
    const c = new LgmpConsumer(region, cclock.now);
    const { producer } = setup();
    expect(region.load32(HEADER.magic)).toBe(LGMP.MAGIC);
    expect(region.load32(HEADER.version)).toBe(6);
    expect(region.load32(HEADER.numQueues)).toBe(2);
    expect(region.load32(HEADER.udataSize)).toBe(5);
    expect(() => new LgmpConsumer(region, cclock.now).sessionInit()).toThrow(expect.objectContaining({ code: 'ERR_NO_PRODUCER' }));
    pclock.t += 10;
    producer.process();
    const s = c.sessionInit();
    expect(s.sessionID).toBe(producer.sessionID);
    expect([...new Uint8Array(region.buffer, s.udataOffset, s.udataSize)]).toEqual([...udata]);
  });

  it('a restarted producer gets a new session id and the consumer notices', () => {
    const { producer } = setup();
    const c = consumer(producer);
    expect(c.sessionProblem()).toBeNull();
    const again = new LgmpProducer(region, udata, pclock.now);
    expect(again.sessionID).not.toBe(producer.sessionID);
    expect(c.sessionProblem()).toBe('restarted');
  });

  it('a heartbeat that stalls for more than 1 s of the consumer clock ends the session', () => {
    const { producer } = setup();
    const c = consumer(producer);
    cclock.t += 900;
    expect(c.sessionProblem()).toBeNull();
    pclock.t += 10;
    producer.process();
    cclock.t += 900;
    expect(c.sessionProblem()).toBeNull(); // the heartbeat moved in between
    cclock.t += 1001;
    expect(c.sessionProblem()).toBe('stalled');
  });

  it('refuses a wrong magic or version, naming what was found and expected', () => {
    setup();
    region.store32(HEADER.version, 5);
    expect(() => checkLgmpHeader(region)).toThrow(coded('ERR_LGMP_VERSION', 'LGMP version 5 found; glasspane speaks version 6 (Looking Glass B7)'));
    region.store32(HEADER.version, 6);
    region.store32(HEADER.magic, 0x12345678);
    expect(() => checkLgmpHeader(region)).toThrow(coded('ERR_LGMP_MAGIC', /magic 0x12345678 .* 0x504d474c \("LGMP"\) expected/));
  });
});

describe('LGMP queues', () => {
  it('posts nothing without subscribers; delivers in order; never fills the last slot', () => {
    const { producer, frames } = setup();
    const mem = [producer.alloc(64)!, producer.alloc(64)!, producer.alloc(64)!];
    expect(frames.post(0, mem[0]!)).toBe('no-subscribers');
    const c = consumer(producer);
    const q = c.subscribe(2);
    expect(frames.newSubs()).toBe(1);
    expect(frames.newSubs()).toBe(0);
    expect(q.process()).toBe('empty');
    expect(frames.post(7, mem[0]!)).toBe('posted');
    expect(frames.post(8, mem[1]!)).toBe('posted');
    expect(frames.post(9, mem[2]!)).toBe('full');
    expect(frames.pending()).toBe(2);
    const m = q.process() as LgmpMessage;
    expect(m).toEqual({ status: 'ok', udata: 7, size: 64, offset: mem[0]!.offset });
    expect(q.process()).toEqual(m); // not consumed until messageDone
    expect(q.messageDone()).toBe('ok');
    expect(frames.pending()).toBe(1);
    expect((q.process() as LgmpMessage).udata).toBe(8);
    expect(q.messageDone()).toBe('ok');
    expect(frames.pending()).toBe(0);
    expect(q.process()).toBe('empty');
    expect(frames.post(10, mem[2]!)).toBe('posted'); // wraps around the 3-slot ring
    expect((q.process() as LgmpMessage).udata).toBe(10);
  });

  it('a message is released only when every subscriber acknowledged it', () => {
    const { producer, frames } = setup();
    const mem = producer.alloc(64)!;
    const a = consumer(producer).subscribe(2);
    const b = consumer(producer).subscribe(2);
    expect([a.id, b.id]).toEqual([0, 1]);
    frames.post(1, mem);
    const slot = frames.messagesOffset + 0 * MESSAGE.SIZE;
    expect(region.load32(slot + MESSAGE.pendingSubs)).toBe(0b11);
    a.messageDone();
    expect(frames.pending()).toBe(1);
    b.messageDone();
    expect(frames.pending()).toBe(0);
  });

  it('a subscriber that stops acknowledging times out (BAD), the producer carries on, and its slot is reaped', () => {
    const { producer, frames } = setup();
    const mem = producer.alloc(64)!;
    const dead = consumer(producer).subscribe(2);
    frames.post(1, mem);
    frames.post(2, mem);
    expect(frames.post(3, mem)).toBe('full');
    pclock.t += 500;
    producer.process();
    expect(frames.pending()).toBe(2); // still inside the 1000 ms timeout
    pclock.t += 600;
    producer.process();
    expect(frames.pending()).toBe(0); // released: the producer is free again
    expect(frames.subscribers()).toEqual({ on: 1, bad: 1 });
    expect(dead.process()).toBe('timeout');
    expect(frames.post(4, mem)).toBe('no-subscribers');
    // A new consumer before the BAD slot's own timeout passed gets the next slot...
    const next = consumer(producer).subscribe(2);
    expect(next.id).toBe(1);
    // ...and one after it reclaims slot 0.
    pclock.t += 1100;
    producer.process();
    const later = consumer(producer).subscribe(2);
    expect(later.id).toBe(0);
    expect(frames.subscribers()).toEqual({ on: 0b11, bad: 0 });
  });

  it('refuses a 33rd subscriber', () => {
    const { producer } = setup();
    const c = consumer(producer);
    for (let i = 0; i < 32; i++) c.subscribe(1);
    expect(() => c.subscribe(1)).toThrow(expect.objectContaining({ code: 'ERR_QUEUE_FULL' }));
  });

  it('advanceToLast acknowledges all but the newest message', () => {
    const { producer, pointer } = setup();
    const mem = producer.alloc(64)!;
    const q = consumer(producer).subscribe(1);
    for (let i = 1; i <= 5; i++) pointer.post(i, mem);
    expect(q.advanceToLast()).toBe('ok');
    expect((q.process() as LgmpMessage).udata).toBe(5);
    expect(pointer.pending()).toBe(1);
  });

  it('unsubscribe frees the slot; a re-initialised producer unsubscribes everyone', () => {
    const { producer, frames } = setup();
    const c = consumer(producer);
    const q = c.subscribe(2);
    q.unsubscribe();
    expect(frames.subscribers().on).toBe(0);
    const q2 = c.subscribe(2);
    new LgmpProducer(region, udata, pclock.now).addQueue({ queueID: 2, numMessages: 2, subTimeoutMs: 1000 });
    expect(q2.process()).toBe('invalid-session');
  });
});

describe('LGMP mailbox (consumer → producer)', () => {
  it('delivers up to 10 messages in order and counts what the producer handled', () => {
    const { producer, pointer } = setup();
    const q = consumer(producer).subscribe(1);
    const serials = [];
    for (let i = 0; i < 10; i++) serials.push(q.sendData(new Uint8Array([i, 1, 2])));
    expect(serials).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(q.sendData(new Uint8Array([99]))).toBe('full');
    for (let i = 0; i < 10; i++) {
      expect([...pointer.readData()!]).toEqual([i, 1, 2]);
      pointer.ackData();
    }
    expect(pointer.readData()).toBeNull();
    expect(q.readSerial()).toBe(10);
    expect(() => q.sendData(new Uint8Array(65))).toThrow(RangeError);
  });
});

describe('LGMP consumer against a corrupt or hostile producer', () => {
  it('reports a position outside the ring or a payload past the region as corrupted', () => {
    const { producer, frames } = setup();
    const q = consumer(producer).subscribe(2);
    region.store32(frames.hq + QUEUE.position, 1000);
    expect(q.process()).toBe('corrupted');
    expect(q.error).toMatch(/position 1000/);
    region.store32(frames.hq + QUEUE.position, 0);
    frames.post(0, { offset: region.byteLength - 8, size: 64 });
    expect(q.process()).toBe('corrupted');
    expect(q.error).toMatch(/past the end/);
  });

  it('rejects impossible queue headers on subscribe', () => {
    const { producer, frames } = setup();
    const c = consumer(producer);
    region.store32(HEADER.numQueues, 6);
    expect(() => c.subscribe(2)).toThrow(coded('ERR_LGMP_CORRUPT', /6 queues/));
    region.store32(HEADER.numQueues, 2);
    region.store32(frames.hq + QUEUE.messagesOffset, region.byteLength - 16);
    expect(() => c.subscribe(2)).toThrow(coded('ERR_LGMP_CORRUPT', /queue 2 is malformed/));
    expect(() => c.subscribe(9)).toThrow(coded('ERR_PRODUCER_STARTING', /no queue 9/));
  });

  it('gives up on a lock the other side never releases instead of hanging', () => {
    const { producer, frames } = setup();
    const c = consumer(producer);
    region.store32(frames.hq + QUEUE.lock, 1);
    expect(() => c.subscribe(2)).toThrow(LockTimeoutError);
    expect(() => c.subscribe(2)).toThrow(coded('ERR_LGMP_LOCK_TIMEOUT'));
  });
});
