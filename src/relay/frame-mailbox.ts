/**
 * A latest-wins frame mailbox between the relay thread (the writer) and the presenting thread
 * (the reader), in shared memory: a few frame slots, each a SharedArrayBuffer the relay copies a
 * frame straight into, plus a control block of atomics. The writer never waits for the reader:
 * there is always a free slot (at most one being written, one ready, one held by the reader), and
 * publishing a frame while an older one is still unread frees the older one and counts it as
 * skipped. The reader takes the newest ready frame when it is ready to present and holds it until
 * it takes the next one.
 *
 * Frame metadata travels in the control block next to the slot state, so a slot's pixels and the
 * FrameInfo that describes them can never come from different frames.
 *
 * Contract: one writer thread, one reader thread. Both sides construct a FrameMailbox over the
 * same `MailboxMemory` (sent with postMessage; SharedArrayBuffers are shared, not copied).
 */
import { formatOf } from '../kvmfr/formats.js';
import { FRAME_SCALAR_FIELDS, type FrameInfo, type Rect } from '../kvmfr/frame.js';
import { KVMFR } from '../kvmfr/layout.js';

/** Slots: one being written, one ready, one held by the reader, and one spare (a reader holding two briefly). */
export const MAILBOX_SLOTS = 4;

const FREE = 0;
const WRITING = 1;
const READY = 2;
const HELD = 3;

/** Control block (Int32 words): ready slot, counters, then per slot its state, generation and metadata. */
const C_READY = 0;
const C_SKIPPED = 1;
const C_PUBLISHED = 2;
const C_HEADER = 4;
/** Per slot: KVMFRFrame's scalar fields, then the frame's byte count. */
const META_SCALARS = [...FRAME_SCALAR_FIELDS, 'dataBytes'] as const;
const M_STATE = 0;
const M_GEN = 1;
/** 1 = the frames in between were skipped: upload the whole frame, not just its damage. */
const M_FULL = 2;
const M_COPIED_HI = 3;
const M_COPIED_LO = 4;
const M_GEOMETRY = 5; // width, height, bytesPerPixel, stride, bytes
const M_SCALARS = M_GEOMETRY + 5;
const M_DAMAGE = M_SCALARS + META_SCALARS.length; // count, then x, y, width, height each
const SLOT_WORDS = M_DAMAGE + 1 + KVMFR.MAX_DAMAGE_RECTS * 4;

/** What crosses the thread boundary (postMessage) to set up the reader side. */
export interface MailboxMemory {
  control: SharedArrayBuffer;
  slots: SharedArrayBuffer[];
}

/** A frame the reader took: the pixels stay valid until the reader takes another or releases it. */
export interface TakenFrame {
  slot: number;
  info: FrameInfo;
  data: Buffer;
  copiedAtNs: bigint;
  /** The frames since the previously taken one were not all seen: upload the whole frame. */
  fullDamage: boolean;
}

/**
 * One side of the mailbox (see the module comment): the writer (relay thread) uses acquire,
 * abandon and publish; the reader (presenting thread) adoptSlot, take and release. Each side makes
 * its own FrameMailbox over the same MailboxMemory; neither side ever blocks. Slot buffers are
 * SharedArrayBuffers owned by the mailbox: a Buffer handed out views one and is valid only as long
 * as the slot is the caller's (writer: until publish/abandon; reader: until the next take/release).
 * The metadata in the control block is written by our own relay thread from a validated
 * FrameInfo; take() trusts it.
 */
export class FrameMailbox {
  private readonly ctrl: Int32Array;
  private readonly slotBuffers: SharedArrayBuffer[];
  /** Reader side: the generation of each slot buffer it has (a grown slot arrives by message). */
  private readonly knownGen: number[];
  private held = -1;
  /** Reader side: the publish count when it last took a frame (-1: never). */
  private lastPublished = -1;

  constructor(readonly memory: MailboxMemory) {
    this.ctrl = new Int32Array(memory.control);
    this.slotBuffers = [...memory.slots];
    this.knownGen = this.slotBuffers.map((_, i) => Atomics.load(this.ctrl, this.base(i) + M_GEN));
  }

  /** A mailbox with `slotBytes` per slot (slots grow on demand). */
  static create(slotBytes = 0): FrameMailbox {
    const control = new SharedArrayBuffer((C_HEADER + MAILBOX_SLOTS * SLOT_WORDS) * 4);
    const ctrl = new Int32Array(control);
    ctrl[C_READY] = -1;
    return new FrameMailbox({ control, slots: Array.from({ length: MAILBOX_SLOTS }, () => new SharedArrayBuffer(slotBytes)) });
  }

  private base(slot: number): number {
    return C_HEADER + slot * SLOT_WORDS;
  }

  /** Frames published but superseded before the reader took them. */
  get skipped(): number {
    return Atomics.load(this.ctrl, C_SKIPPED);
  }

  /** Frames published so far (both sides see the same count). */
  get published(): number {
    return Atomics.load(this.ctrl, C_PUBLISHED);
  }

  // ---- writer side -------------------------------------------------------------------------

  /**
   * A free slot holding at least `bytes`, marked as being written, or null when the reader holds
   * every other slot. `grown` is called with the new buffer when the slot had to grow; the reader
   * must receive it (adoptSlot) — until then it will not take that slot.
   */
  acquire(bytes: number, grown: (slot: number, buffer: SharedArrayBuffer, generation: number) => void): { slot: number; data: Buffer } | null {
    for (let i = 0; i < MAILBOX_SLOTS; i++) {
      const b = this.base(i);
      if (Atomics.compareExchange(this.ctrl, b + M_STATE, FREE, WRITING) !== FREE) continue;
      if (this.slotBuffers[i]!.byteLength < bytes) {
        this.slotBuffers[i] = new SharedArrayBuffer(bytes);
        const gen = Atomics.add(this.ctrl, b + M_GEN, 1) + 1;
        grown(i, this.slotBuffers[i]!, gen);
      }
      return { slot: i, data: Buffer.from(this.slotBuffers[i]!, 0, bytes) };
    }
    return null;
  }

  /** Gives back a slot that was acquired but not published (the copy failed). */
  abandon(slot: number): void {
    Atomics.store(this.ctrl, this.base(slot) + M_STATE, FREE);
  }

  /**
   * Makes the frame in `slot` the newest; an older unread frame is freed and counted as skipped.
   * `discontinuous`: frames before this one were lost on the way (not copied), so its damage
   * rectangles do not describe the change from what the reader last saw.
   */
  publish(slot: number, info: FrameInfo, copiedAtNs: bigint, discontinuous = false): void {
    const b = this.base(slot);
    const m = this.ctrl;
    m[b + M_COPIED_HI] = Number(copiedAtNs >> 32n) | 0;
    m[b + M_COPIED_LO] = Number(copiedAtNs & 0xffffffffn) | 0;
    const g = info.geometry;
    m.set([g.width, g.height, g.bytesPerPixel, g.stride, g.bytes], b + M_GEOMETRY);
    META_SCALARS.forEach((k, i) => (m[b + M_SCALARS + i] = info[k] | 0));
    const rects = info.damageRects.slice(0, KVMFR.MAX_DAMAGE_RECTS);
    m[b + M_DAMAGE] = rects.length;
    rects.forEach((r, i) => m.set([r.x, r.y, r.width, r.height], b + M_DAMAGE + 1 + i * 4));
    m[b + M_FULL] = discontinuous ? 1 : 0;
    Atomics.store(m, b + M_STATE, READY);
    // Counted before it becomes visible: a reader that sees more than one new publish since its
    // last take knows it missed a frame (at worst it uploads a whole frame it did not need to).
    Atomics.add(m, C_PUBLISHED, 1);
    const previous = Atomics.exchange(m, C_READY, slot);
    if (previous >= 0) {
      // The reader never saw it: free it.
      Atomics.store(m, this.base(previous) + M_STATE, FREE);
      Atomics.add(m, C_SKIPPED, 1);
    }
  }

  // ---- reader side -------------------------------------------------------------------------

  /** Installs a grown slot buffer sent by the writer. */
  adoptSlot(slot: number, buffer: SharedArrayBuffer, generation: number): void {
    this.slotBuffers[slot] = buffer;
    this.knownGen[slot] = generation;
  }

  /**
   * The newest ready frame, or null when there is none (or it lives in a slot buffer whose new
   * generation has not arrived yet — then it is dropped and counted as skipped). Releases the
   * frame the reader held before.
   */
  take(): TakenFrame | null {
    const m = this.ctrl;
    const slot = Atomics.exchange(m, C_READY, -1);
    if (slot < 0) return null;
    const b = this.base(slot);
    if (Atomics.load(m, b + M_GEN) !== this.knownGen[slot]) {
      Atomics.store(m, b + M_STATE, FREE);
      Atomics.add(m, C_SKIPPED, 1);
      this.lastPublished = -1; // the next frame taken is a full upload
      return null;
    }
    Atomics.store(m, b + M_STATE, HELD);
    this.release();
    this.held = slot;
    const published = Atomics.load(m, C_PUBLISHED);
    const missed = this.lastPublished < 0 || published - this.lastPublished > 1;
    this.lastPublished = published;
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
    const copiedAtNs = (BigInt(m[b + M_COPIED_HI]! >>> 0) << 32n) | BigInt(m[b + M_COPIED_LO]! >>> 0);
    return { slot, info, data: Buffer.from(this.slotBuffers[slot]!, 0, scalar.dataBytes), copiedAtNs, fullDamage: missed || m[b + M_FULL] === 1 };
  }

  /** Gives back the frame the reader holds (e.g. when the window closes). */
  release(): void {
    if (this.held < 0) return;
    Atomics.store(this.ctrl, this.base(this.held) + M_STATE, FREE);
    this.held = -1;
  }
}
