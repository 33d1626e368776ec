/**
 * The latest-wins mailbox between the relay thread and the presenter: the writer never waits,
 * the reader gets the newest frame with its own metadata, superseded frames are counted, damage
 * continuity is tracked, and a slot that grew is not read before its new buffer arrived.
 */
import { describe, expect, it } from 'vitest';
import { FrameMailbox, MAILBOX_SLOTS } from '../../src/relay/frame-mailbox.js';
import { formatOf } from '../../src/kvmfr/formats.js';
import type { FrameInfo } from '../../src/kvmfr/frame.js';

function info(serial: number, damage: FrameInfo['damageRects'] = []): FrameInfo {
  return {
    formatVer: 1, frameSerial: serial, type: 1, format: formatOf(1)!, screenWidth: 4, screenHeight: 2, dataWidth: 4, dataHeight: 2,
    frameWidth: 4, frameHeight: 2, rotation: 0, stride: 4, pitch: 16, flags: 0, damageRects: damage,
    frameOffset: 0, wpOffset: 0, dataOffset: 0, dataBytes: 32, geometry: { width: 4, height: 2, bytesPerPixel: 4, stride: 16, bytes: 32 },
  };
}

/** Writes a frame whose every byte is its serial, and publishes it. */
function put(w: FrameMailbox, serial: number, grown: Array<[number, SharedArrayBuffer, number]> = [], damage: FrameInfo['damageRects'] = []): number {
  const got = w.acquire(32, (s, b, g) => grown.push([s, b, g]));
  if (!got) throw new Error('no free slot');
  got.data.fill(serial & 0xff);
  w.publish(got.slot, info(serial, damage), BigInt(serial) * 1000n);
  return got.slot;
}

describe('FrameMailbox', () => {
  it('hands the reader the newest frame with its own metadata; older unread ones are freed and counted', () => {
    const w = FrameMailbox.create(32);
    const r = new FrameMailbox(w.memory);
    expect(r.take()).toBeNull();
    for (let s = 1; s <= 10; s++) put(w, s); // the writer never waits, however many
    const f = r.take()!;
    expect(f.info.frameSerial).toBe(10);
    expect([...f.data]).toEqual(new Array(32).fill(10));
    expect(f.copiedAtNs).toBe(10_000n);
    expect(f.info.geometry).toEqual({ width: 4, height: 2, bytesPerPixel: 4, stride: 16, bytes: 32 });
    expect(w.skipped).toBe(9);
    expect(r.take()).toBeNull(); // nothing newer
  });

  it('the reader holds one frame while the writer keeps going: there is always a free slot', () => {
    const w = FrameMailbox.create(32);
    const r = new FrameMailbox(w.memory);
    put(w, 1);
    const held = r.take()!;
    for (let s = 2; s < 100; s++) put(w, s);
    expect([...held.data]).toEqual(new Array(32).fill(1)); // untouched while held
    expect(r.take()!.info.frameSerial).toBe(99);
  });

  it('damage: consecutive frames keep their rectangles; a missed frame or a discontinuity means a full upload', () => {
    const w = FrameMailbox.create(32);
    const r = new FrameMailbox(w.memory);
    const rect = [{ x: 1, y: 0, width: 2, height: 1 }];
    put(w, 1, [], rect);
    expect(r.take()!.fullDamage).toBe(true); // the first frame
    put(w, 2, [], rect);
    const second = r.take()!;
    expect(second.fullDamage).toBe(false);
    expect(second.info.damageRects).toEqual(rect);
    put(w, 3, [], rect);
    put(w, 4, [], rect); // 3 is never seen
    expect(r.take()!.fullDamage).toBe(true);
    const got = w.acquire(32, () => undefined)!;
    w.publish(got.slot, info(5, rect), 0n, true); // frames lost before the mailbox
    expect(r.take()!.fullDamage).toBe(true);
  });

  it('a grown slot is not read before the reader has its new buffer', () => {
    const w = FrameMailbox.create(8); // too small: the first acquire grows a slot
    const r = new FrameMailbox(w.memory);
    const grown: Array<[number, SharedArrayBuffer, number]> = [];
    put(w, 1, grown);
    expect(grown).toHaveLength(1);
    expect(r.take()).toBeNull(); // dropped, not read from the old 8-byte buffer
    for (const [s, b, g] of grown) r.adoptSlot(s, b, g);
    expect(put(w, 2, grown)).toBe(grown[0]![0]); // the grown slot, free again
    const f = r.take()!;
    expect(f.info.frameSerial).toBe(2);
    expect([...f.data]).toEqual(new Array(32).fill(2));
    expect(f.fullDamage).toBe(true);
  });

  it('acquire answers null only when the reader holds every other slot', () => {
    const w = FrameMailbox.create(32);
    const slots = [];
    for (let i = 0; i < MAILBOX_SLOTS; i++) slots.push(w.acquire(32, () => undefined));
    expect(slots.every((s) => s !== null)).toBe(true);
    expect(w.acquire(32, () => undefined)).toBeNull();
    w.abandon(slots[0]!.slot);
    expect(w.acquire(32, () => undefined)).not.toBeNull();
  });

  it('many interleavings of writer and reader: every frame taken is whole and newer than the last', () => {
    const w = FrameMailbox.create(1 << 16);
    const r = new FrameMailbox(w.memory);
    // The cross-thread protocol is exercised end to end by the threaded relay tests; here: many
    // interleavings of writer and reader steps in one thread, checking every frame taken is whole.
    let serial = 0;
    let lastTaken = 0;
    for (let round = 0; round < 2000; round++) {
      const writes = (round * 7919) % 5;
      for (let i = 0; i < writes; i++) {
        serial++;
        const got = w.acquire(1 << 16, () => undefined)!;
        got.data.fill(serial & 0xff);
        w.publish(got.slot, { ...info(serial), dataBytes: 1 << 16 }, 0n);
      }
      const f = r.take();
      if (!f) continue;
      expect(f.info.frameSerial).toBeGreaterThan(lastTaken);
      lastTaken = f.info.frameSerial;
      expect(f.data.every((b) => b === (f.info.frameSerial & 0xff))).toBe(true);
    }
    expect(w.published).toBe(serial);
  });

  it('queue order: every frame in order, several held at once, each given back once; a full queue answers null', () => {
    const w = FrameMailbox.create(32, { slots: 3, order: 'queue' });
    const r = new FrameMailbox(w.memory);
    put(w, 1);
    put(w, 2);
    put(w, 3);
    expect(w.acquire(32, () => undefined)).toBeNull(); // nothing superseded: the writer must wait
    const a = r.takeNext()!;
    const b = r.takeNext()!;
    expect([a.info.frameSerial, b.info.frameSerial]).toEqual([1, 2]);
    expect([...b.data]).toEqual(new Array(32).fill(2));
    expect(w.acquire(32, () => undefined)).toBeNull(); // both held, the third unread
    const freed = w.freedCount();
    r.giveBack(b.slot, b.lease);
    expect(w.freedCount()).toBe(freed + 1);
    r.giveBack(b.slot, b.lease); // twice: nothing happens
    expect(w.freedCount()).toBe(freed + 1);
    expect(put(w, 4)).toBe(b.slot);
    r.giveBack(b.slot, b.lease); // a stale lease on a slot that holds another frame now: nothing happens
    expect(r.takeNext()!.info.frameSerial).toBe(3);
    const d = r.takeNext()!;
    expect(d.info.frameSerial).toBe(4);
    expect([...d.data]).toEqual(new Array(32).fill(4)); // not freed by the stale give-back
    expect(r.takeNext()).toBeNull();
    expect(w.skipped).toBe(0);
    expect(a.info.frameSerial).toBe(1); // still held, untouched
  });

  it('a writer waiting for a freed slot wakes when the reader gives one back, and at once after close()', async () => {
    const w = FrameMailbox.create(32, { slots: 2, order: 'queue' });
    put(w, 1);
    put(w, 2);
    const f = w.takeNext()!;
    const waiting = w.waitFreedAsync(w.freedCount(), 60_000);
    w.giveBack(f.slot, f.lease);
    expect(await waiting).toBe(true);
    expect(await w.waitFreedAsync(w.freedCount(), 10)).toBe(false); // nothing given back: it times out
    const closing = w.waitFreedAsync(w.freedCount(), 60_000);
    w.close();
    expect(await closing).toBe(true);
    expect(w.closed).toBe(true);
  });
});

