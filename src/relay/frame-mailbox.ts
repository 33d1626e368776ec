/**
 * The one place a copied frame lives and the one record of who owns it: a few frame slots, each
 * a SharedArrayBuffer the relay copies a frame straight into, plus a control block of atomics
 * holding every slot's state (free, being written, ready, held by the reader), its lease number
 * and the frame's metadata. Whoever holds a frame holds a slot in state HELD with a lease; giving
 * it back is one compare of that lease and one store, so a frame given back twice, or after its
 * slot was reused, changes nothing.
 *
 * Two orders, chosen when the mailbox is made:
 *  - `latest` (the window): the writer never waits — there is always a free slot (at most one
 *    being written, one ready, one held by the reader) — and publishing while an older frame is
 *    still unread frees the older one and counts it as skipped. The reader takes the newest ready
 *    frame when it is about to present and holds it until it takes the next one.
 *  - `queue` (headless, the bench, the relay's own 'frame' event): every frame is kept in order;
 *    the reader takes the oldest ready one and may hold several; the writer waits for a slot the
 *    reader gives back (waitFreed / waitFreedAsync), and the relay skips a frame when that takes
 *    too long, as it always has.
 *
 * Frame metadata travels in the control block next to the slot state, so a slot's pixels and the
 * FrameInfo that describes them can never come from different frames.
 *
 * Contract: one writer thread, one reader thread (they may be the same thread). Both sides
 * construct a FrameMailbox over the same `MailboxMemory` (sent with postMessage;
 * SharedArrayBuffers are shared, not copied).
 */
import { formatOf } from '../kvmfr/formats.js';
import { FRAME_SCALAR_FIELDS, type FrameInfo, type Rect } from '../kvmfr/frame.js';
import { KVMFR } from '../kvmfr/layout.js';

/** Slots of a `latest` mailbox: one being written, one ready, one held by the reader, and one spare (a reader holding two briefly). */
export const MAILBOX_SLOTS = 4;

/** Which frame the reader gets: the newest (older unread ones are skipped) or every one in order. */
export type MailboxOrder = 'latest' | 'queue';

const FREE = 0;
const WRITING = 1;
const READY = 2;
const HELD = 3;

/** Control block (Int32 words): header, then per slot its state, generation and metadata. */
const C_READY = 0; // latest: the ready slot, -1 none
const C_SKIPPED = 1;
const C_PUBLISHED = 2;
const C_FREED = 3; // counts slots given back: the writer waits on it (Atomics.wait)
const C_SLOTS = 4;
const C_ORDER = 5; // 0 latest, 1 queue
const C_CLOSED = 6;
const C_HEADER = 8;
/** Per slot: KVMFRFrame's scalar fields, then the frame's byte count. */
const META_SCALARS = [...FRAME_SCALAR_FIELDS, 'dataBytes'] as const;
const M_STATE = 0;
const M_GEN = 1;
/** 1 = the frames in between were skipped: upload the whole frame, not just its damage. */
const M_FULL = 2;
const M_LEASE = 3;
const M_SEQ = 4; // queue: publish number, the reader takes the lowest
const M_TIMES = 5; // copied, seen, woke: hi/lo word pairs
const M_GEOMETRY = M_TIMES + 6; // width, height, bytesPerPixel, stride, bytes
const M_SCALARS = M_GEOMETRY + 5;
const M_DAMAGE = M_SCALARS + META_SCALARS.length; // count, then x, y, width, height each
const SLOT_WORDS = M_DAMAGE + 1 + KVMFR.MAX_DAMAGE_RECTS * 4;

/** What crosses the thread boundary (postMessage) to set up the reader side. */
export interface MailboxMemory {
  control: SharedArrayBuffer;
  slots: SharedArrayBuffer[];
}

/** When the relay met a frame, on process.hrtime.bigint()'s clock (0n: not recorded). */
export interface FrameTimes {
  /** The relay found the frame's message (its queue's process() handed it out). */
  seenAtNs?: bigint;
  /** The wait that found the message ended (0n when the message was there without waiting). */
  wokeAtNs?: bigint;
}

/** A frame the reader took: the pixels stay valid until the reader gives it back (latest: takes another). */
export interface TakenFrame {
  slot: number;
  info: FrameInfo;
  data: Buffer;
  copiedAtNs: bigint;
  /** The frames since the previously taken one were not all seen: upload the whole frame. */
  fullDamage: boolean;
  /** This holding of the slot: giveBack(slot, lease) ends it (once). */
  lease: number;
  seenAtNs: bigint;
  wokeAtNs: bigint;
}

/** Atomics.waitAsync (ES2024; in Node since 16), which this TypeScript lib does not declare yet. */
interface AtomicsWaitAsync {
  waitAsync(a: Int32Array, index: number, value: number, timeoutMs: number): { async: false; value: 'not-equal' | 'timed-out' } | { async: true; value: Promise<'ok' | 'timed-out'> };
}

const splitNs = (v: bigint): [number, number] => [Number((v >> 32n) & 0xffffffffn) | 0, Number(v & 0xffffffffn) | 0];
const joinNs = (hi: number, lo: number): bigint => (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);

/**
 * One side of the mailbox (see the module comment): the writer (the relay) uses acquire,
 * abandon, publish and the waits for a freed slot; the reader adoptSlot, take / takeNext, release
 * / giveBack. Neither call blocks except the waits, which say so. Slot buffers are
 * SharedArrayBuffers owned by the mailbox: a Buffer handed out views one and is valid only as long
 * as the slot is the caller's (writer: until publish/abandon; reader: until it gives the frame
 * back). The metadata in the control block is written by our own relay from a validated
 * FrameInfo; the reader trusts it.
 */
export class FrameMailbox {
  private readonly ctrl: Int32Array;
  private readonly slotBuffers: SharedArrayBuffer[];
  /** Reader side: the generation of each slot buffer it has (a grown slot arrives by message). */
  private readonly knownGen: number[];
  /** Latest order, reader side: the slot it holds (-1 none) and that holding's lease. */
  private held = -1;
  private heldLease = 0;
  /** Reader side: the publish count when it last took a frame (-1: never). */
  private lastPublished = -1;
  /** Queue order, reader side: the serial of the last frame taken (damage continuity). */
  private lastTakenSeq = -1;

  constructor(readonly memory: MailboxMemory) {
    this.ctrl = new Int32Array(memory.control);
    this.slotBuffers = [...memory.slots];
    this.knownGen = this.slotBuffers.map((_, i) => Atomics.load(this.ctrl, this.base(i) + M_GEN));
  }

  /** A mailbox with `slotBytes` per slot (slots grow on demand), `slots` slots (default MAILBOX_SLOTS, at least 2). */
  static create(slotBytes = 0, options: { slots?: number; order?: MailboxOrder } = {}): FrameMailbox {
    const slots = Math.max(2, Math.min(16, options.slots ?? MAILBOX_SLOTS));
    const control = new SharedArrayBuffer((C_HEADER + slots * SLOT_WORDS) * 4);
    const ctrl = new Int32Array(control);
    ctrl[C_READY] = -1;
    ctrl[C_SLOTS] = slots;
    ctrl[C_ORDER] = options.order === 'queue' ? 1 : 0;
    return new FrameMailbox({ control, slots: Array.from({ length: slots }, () => new SharedArrayBuffer(slotBytes)) });
  }

  private base(slot: number): number {
    return C_HEADER + slot * SLOT_WORDS;
  }

  /** This mailbox's order. */
  get order(): MailboxOrder {
    return this.ctrl[C_ORDER] === 1 ? 'queue' : 'latest';
  }

  /** Frames published but superseded before the reader took them (latest order). */
  get skipped(): number {
    return Atomics.load(this.ctrl, C_SKIPPED);
  }

  /** Frames published so far (both sides see the same count). */
  get published(): number {
    return Atomics.load(this.ctrl, C_PUBLISHED);
  }

  /** Slots the reader holds right now (both sides see the same). */
  get heldCount(): number {
    let n = 0;
    for (let i = 0; i < this.slotBuffers.length; i++) if (Atomics.load(this.ctrl, this.base(i) + M_STATE) === HELD) n++;
    return n;
  }

  /** True once close() was called on either side: waits for a freed slot end at once. */
  get closed(): boolean {
    return Atomics.load(this.ctrl, C_CLOSED) === 1;
  }

  /** Ends every wait for a freed slot, now and later (either side, any thread). */
  close(): void {
    Atomics.store(this.ctrl, C_CLOSED, 1);
    Atomics.add(this.ctrl, C_FREED, 1);
    Atomics.notify(this.ctrl, C_FREED);
  }

  // ---- writer side -------------------------------------------------------------------------

  /**
   * A free slot holding at least `bytes`, marked as being written, or null when the reader holds
   * (or has not taken yet, queue order) every other slot. `grown` is called with the new buffer
   * when the slot had to grow; the reader must receive it (adoptSlot) — until then it will not
   * take that slot. (A reader on the writer's own thread shares the buffers: no message needed.)
   */
  acquire(bytes: number, grown: (slot: number, buffer: SharedArrayBuffer, generation: number) => void): { slot: number; data: Buffer } | null {
    for (let i = 0; i < this.slotBuffers.length; i++) {
      const b = this.base(i);
      if (Atomics.compareExchange(this.ctrl, b + M_STATE, FREE, WRITING) !== FREE) continue;
      if (this.slotBuffers[i]!.byteLength < bytes) {
        this.slotBuffers[i] = new SharedArrayBuffer(bytes);
        const gen = Atomics.add(this.ctrl, b + M_GEN, 1) + 1;
        this.knownGen[i] = gen;
        grown(i, this.slotBuffers[i]!, gen);
      }
      return { slot: i, data: Buffer.from(this.slotBuffers[i]!, 0, bytes) };
    }
    return null;
  }

  /** The count of slots given back so far: pass it to waitFreed to wait for the next. */
  freedCount(): number {
    return Atomics.load(this.ctrl, C_FREED);
  }

  /** Blocks this thread until a slot is given back after `seen` (freedCount) or `timeoutMs` pass; false on timeout. For a thread of the relay's own. */
  waitFreed(seen: number, timeoutMs: number): boolean {
    return Atomics.wait(this.ctrl, C_FREED, seen, Math.max(0, timeoutMs)) !== 'timed-out';
  }

  /** The same without blocking: resolves true when a slot was given back after `seen`, false on timeout. */
  async waitFreedAsync(seen: number, timeoutMs: number): Promise<boolean> {
    const r = (Atomics as unknown as AtomicsWaitAsync).waitAsync(this.ctrl, C_FREED, seen, Math.max(0, timeoutMs));
    return (r.async ? await r.value : r.value) !== 'timed-out';
  }

  /** Gives back a slot that was acquired but not published (the copy failed). */
  abandon(slot: number): void {
    this.free(slot);
  }

  /**
   * Makes the frame in `slot` ready for the reader (latest: the newest; an older unread one is
   * freed and counted as skipped). `discontinuous`: frames before this one were lost on the way
   * (not copied), so its damage rectangles do not describe the change from what the reader last
   * saw. Returns the slot's lease: what a reader on this thread passes to giveBack.
   */
  publish(slot: number, info: FrameInfo, copiedAtNs: bigint, discontinuous = false, times: FrameTimes = {}): number {
    const b = this.base(slot);
    const m = this.ctrl;
    m.set([...splitNs(copiedAtNs), ...splitNs(times.seenAtNs ?? 0n), ...splitNs(times.wokeAtNs ?? 0n)], b + M_TIMES);
    const g = info.geometry;
    m.set([g.width, g.height, g.bytesPerPixel, g.stride, g.bytes], b + M_GEOMETRY);
    META_SCALARS.forEach((k, i) => (m[b + M_SCALARS + i] = info[k] | 0));
    const rects = info.damageRects.slice(0, KVMFR.MAX_DAMAGE_RECTS);
    m[b + M_DAMAGE] = rects.length;
    rects.forEach((r, i) => m.set([r.x, r.y, r.width, r.height], b + M_DAMAGE + 1 + i * 4));
    m[b + M_FULL] = discontinuous ? 1 : 0;
    const lease = (m[b + M_LEASE]! + 1) | 0;
    m[b + M_LEASE] = lease;
    // Counted before it becomes visible: a reader that sees more than one new publish since its
    // last take knows it missed a frame (at worst it uploads a whole frame it did not need to).
    m[b + M_SEQ] = Atomics.add(m, C_PUBLISHED, 1);
    Atomics.store(m, b + M_STATE, READY);
    if (this.order === 'queue') return lease;
    const previous = Atomics.exchange(m, C_READY, slot);
    if (previous >= 0) {
      // The reader never saw it: free it.
      this.free(previous);
      Atomics.add(m, C_SKIPPED, 1);
    }
    return lease;
  }

  // ---- reader side -------------------------------------------------------------------------

  /** Installs a grown slot buffer sent by the writer. */
  adoptSlot(slot: number, buffer: SharedArrayBuffer, generation: number): void {
    this.slotBuffers[slot] = buffer;
    this.knownGen[slot] = generation;
  }

  /**
   * Latest order: the newest ready frame, or null when there is none (or it lives in a slot buffer
   * whose new generation has not arrived yet — then it is dropped and counted as skipped).
   * Releases the frame the reader held before.
   */
  take(): TakenFrame | null {
    const m = this.ctrl;
    const slot = Atomics.exchange(m, C_READY, -1);
    if (slot < 0) return null;
    if (!this.adopted(slot)) {
      this.free(slot);
      Atomics.add(m, C_SKIPPED, 1);
      this.lastPublished = -1; // the next frame taken is a full upload
      return null;
    }
    Atomics.store(m, this.base(slot) + M_STATE, HELD);
    this.release();
    const published = Atomics.load(m, C_PUBLISHED);
    const missed = this.lastPublished < 0 || published - this.lastPublished > 1;
    this.lastPublished = published;
    const frame = this.read(slot, missed);
    this.held = slot;
    this.heldLease = frame.lease;
    return frame;
  }

  /**
   * Queue order: the oldest ready frame, marked as held, or null when none is ready. The reader
   * may hold several; each goes back with giveBack(slot, lease).
   */
  takeNext(): TakenFrame | null {
    const m = this.ctrl;
    // Publish numbers have no gaps (a frame the relay skips is never published), so the next
    // frame is the one after the last taken. Looking for the lowest ready number instead would
    // race the writer: a slot scanned while still being written could be passed over for the
    // next one, published a moment later in a slot scanned after it.
    let slot = -1;
    let seq = 0;
    for (let i = 0; i < this.slotBuffers.length; i++) {
      const b = this.base(i);
      if (Atomics.load(m, b + M_STATE) !== READY) continue;
      const s = m[b + M_SEQ]!;
      if (this.lastTakenSeq >= 0 ? s === ((this.lastTakenSeq + 1) | 0) : slot < 0 || s - seq < 0) [slot, seq] = [i, s];
    }
    if (slot < 0) return null;
    if (!this.adopted(slot)) return null; // its buffer is on the way (a message): take it later
    Atomics.store(m, this.base(slot) + M_STATE, HELD);
    const frame = this.read(slot, this.lastTakenSeq < 0);
    this.lastTakenSeq = seq;
    return frame;
  }

  /** Gives back the frame the reader holds (latest order; e.g. when the window closes). */
  release(): void {
    if (this.held < 0) return;
    this.giveBack(this.held, this.heldLease);
    this.held = -1;
  }

  /** Gives back a held frame; nothing happens when that holding already ended (given back twice). */
  giveBack(slot: number, lease: number): void {
    const b = this.base(slot);
    if (Atomics.load(this.ctrl, b + M_STATE) !== HELD || this.ctrl[b + M_LEASE] !== lease) return;
    if (slot === this.held) this.held = -1;
    this.free(slot);
  }

  private adopted(slot: number): boolean {
    return Atomics.load(this.ctrl, this.base(slot) + M_GEN) === this.knownGen[slot];
  }

  private free(slot: number): void {
    Atomics.store(this.ctrl, this.base(slot) + M_STATE, FREE);
    Atomics.add(this.ctrl, C_FREED, 1);
    Atomics.notify(this.ctrl, C_FREED);
  }

  private read(slot: number, missed: boolean): TakenFrame {
    const m = this.ctrl;
    const b = this.base(slot);
    const format = formatOf(m[b + M_SCALARS + META_SCALARS.indexOf('type')]!)!;
    const scalar = Object.fromEntries(META_SCALARS.map((k, i) => [k, m[b + M_SCALARS + i]! >>> 0])) as Record<(typeof META_SCALARS)[number], number>;
    const damageRects: Rect[] = [];
    for (let i = 0; i < Math.min(m[b + M_DAMAGE]!, KVMFR.MAX_DAMAGE_RECTS); i++) {
      const o = b + M_DAMAGE + 1 + i * 4;
      damageRects.push({ x: m[o]!, y: m[o + 1]!, width: m[o + 2]!, height: m[o + 3]! });
    }
    const [width, height, bytesPerPixel, stride, bytes] = [0, 1, 2, 3, 4].map((i) => m[b + M_GEOMETRY + i]!);
    const info: FrameInfo = {
      ...scalar,
      format,
      damageRects,
      geometry: { width: width!, height: height!, bytesPerPixel: bytesPerPixel as 3 | 4 | 8, stride: stride!, bytes: bytes! },
      frameOffset: 0,
      wpOffset: 0,
      dataOffset: 0,
    };
    const t = b + M_TIMES;
    return {
      slot,
      info,
      data: Buffer.from(this.slotBuffers[slot]!, 0, scalar.dataBytes),
      copiedAtNs: joinNs(m[t]!, m[t + 1]!),
      seenAtNs: joinNs(m[t + 2]!, m[t + 3]!),
      wokeAtNs: joinNs(m[t + 4]!, m[t + 5]!),
      fullDamage: missed || m[b + M_FULL] === 1,
      lease: m[b + M_LEASE]!,
    };
  }
}
