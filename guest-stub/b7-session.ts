/**
 * A producer session in Looking Glass B7's memory layout: a fresh LGMP header with the KVMFR user
 * data, the frame queue (2 messages) and the pointer queue (20), 20 cursor position slots, 3
 * cursor shape buffers of 512x512 BGRA, and two page-aligned frame buffers taking the rest of the
 * region (B7: the available memory rounded down to pages, halved). How many rows of `pitch` bytes
 * fit decides TRUNCATED.
 */
import { cpus, release, type as osType } from 'node:os';
import type { Region } from '../src/region.js';
import { LgmpProducer, type Allocation, type ProducerQueue } from '../src/lgmp/producer.js';
import { buildKvmfrUdata } from '../src/kvmfr/header.js';
import { writeCursor } from '../src/kvmfr/cursor.js';
import { CURSOR, CursorFlags, CursorType, FRAME, FRAMEBUFFER, KVMFR, MAX_CURSOR_BYTES, OsType } from '../src/kvmfr/layout.js';
import { GlasspaneError } from '../src/errors.js';

const PAGE = 4096;
const CURSOR_SIZE = 32;

/**
 * One producer session laid out by startB7Session(): the LGMP producer and its two queues, and the
 * region allocations in B7's layout. Offsets are region offsets; they stay valid until the next
 * session (which lays everything out again).
 */
export interface B7Session {
  lgmp: LgmpProducer;
  frameQ: ProducerQueue;
  pointerQ: ProducerQueue;
  /** The two frame buffers; their FrameBuffer (wp, then pixels) starts PAGE - 4 bytes in, so pixels are page-aligned. */
  frames: Allocation[];
  cursorSlots: Allocation[];
  shapeSlots: Allocation[];
  /** Pixel bytes one frame buffer holds. */
  maxFrameBytes: number;
  /** Rows of the frame that fit (fewer than asked = TRUNCATED). */
  rows: number;
}

/** Where a frame buffer's write pointer is; the pixels follow it. */
export const wpOffsetOf = (frame: Allocation): number => frame.offset + PAGE - FRAMEBUFFER.data;

/**
 * Lays out a new session in `region` for frames of `height` rows of `pitch` bytes (`capture` names
 * the producer's capture backend in VMINFO; default glasspane-stub); throws ERR_REGION_TOO_SMALL
 * naming what does not fit.
 */
export function startB7Session(region: Region, o: { producerVersion: string; uuid: string; width: number; height: number; pitch: number; capture?: string }): B7Session {
  const cpuList = cpus();
  const udata = buildKvmfrUdata({
    producerVersion: o.producerVersion,
    features: KVMFR.FEATURE_SETCURSORPOS,
    vmInfo: { uuid: o.uuid, capture: o.capture ?? 'glasspane-stub', cpus: Math.min(255, cpuList.length), cores: Math.min(255, cpuList.length), sockets: 1, model: cpuList[0]?.model ?? 'unknown' },
    osInfo: { os: OsType.LINUX, name: `${osType()} ${release()}` },
  });
  const lgmp = new LgmpProducer(region, udata);
  const queue = (queueID: number, numMessages: number) => lgmp.addQueue({ queueID, numMessages, subTimeoutMs: KVMFR.SUB_TIMEOUT_MS });
  const frameQ = queue(KVMFR.QUEUE_FRAME, KVMFR.FRAME_QUEUE_LEN);
  const pointerQ = queue(KVMFR.QUEUE_POINTER, KVMFR.POINTER_QUEUE_LEN);
  const need = (a: Allocation | null, what: string): Allocation => {
    if (!a) throw new GlasspaneError('ERR_REGION_TOO_SMALL', `the ${region.byteLength >> 20} MiB region has no room for ${what}`, 'use --size 32 (MiB) or more');
    return a;
  };
  const cursorSlots = Array.from({ length: KVMFR.POINTER_QUEUE_LEN }, () => need(lgmp.alloc(CURSOR.SIZE), 'the cursor messages'));
  const shapeSlots = Array.from({ length: KVMFR.POINTER_SHAPE_BUFFERS }, () => need(lgmp.alloc(MAX_CURSOR_BYTES), 'the cursor shapes'));
  const maxFrameSize = Math.floor((lgmp.memAvailable - (PAGE - 1)) / PAGE / 2) * PAGE;
  if (maxFrameSize < 2 * PAGE) need(null, 'two frame buffers');
  const frames = [need(lgmp.alloc(maxFrameSize, PAGE), 'frame buffer 0'), need(lgmp.alloc(maxFrameSize, PAGE), 'frame buffer 1')];
  const dv = new DataView(region.buffer);
  for (const f of frames) dv.setUint32(f.offset + FRAME.offset, PAGE - FRAMEBUFFER.data, true);
  const maxFrameBytes = maxFrameSize - PAGE;
  const rows = o.pitch * o.height <= maxFrameBytes ? o.height : Math.floor(maxFrameBytes / o.pitch);
  if (rows < 1) need(null, `a single ${o.width}-pixel row`);
  return { lgmp, frameQ, pointerQ, frames, cursorSlots, shapeSlots, maxFrameBytes, rows };
}

/** Writes the stub's cursor into a shape slot: a 32x32 colour arrow with a dark outline, hotspot at its tip. */
export function writeArrowCursor(region: Region, slot: Allocation): void {
  const pitch = CURSOR_SIZE * 4;
  writeCursor(new DataView(region.buffer), slot.offset, { x: 0, y: 0 }, { type: CursorType.COLOR, width: CURSOR_SIZE, height: CURSOR_SIZE, pitch, hotX: 0, hotY: 0 });
  const px = new Uint8Array(region.buffer, slot.offset + CURSOR.SIZE, pitch * CURSOR_SIZE);
  px.fill(0);
  for (let y = 0; y < CURSOR_SIZE; y++) {
    for (let x = 0; x <= y / 2 + 2 && x < CURSOR_SIZE; x++) {
      const edge = x === 0 || x >= Math.floor(y / 2 + 2) || y === CURSOR_SIZE - 1;
      // BGRA: outline black, body orange.
      px.set(edge ? [0, 0, 0, 255] : [0, 140, 255, 255], y * pitch + x * 4);
    }
  }
}

/**
 * Which cursor buffer the next pointer message uses, as B7 rotates them: position-only messages
 * cycle through the session's position slots; each new shape goes into the next of the shape
 * buffers (so a consumer still reading the old one is not overwritten), and messages with the shape
 * use that buffer. The rotation carries over from session to session.
 */
export class CursorRing {
  private positionIndex = 0;
  private shapeIndex = 0;
  private shape: Allocation | null = null;
  private shapeSlots: Allocation[] = [];

  /**
   * A new session: takes its shape buffers and draws `draw` (default: the stub's arrow) into the
   * next one; with null there is no shape until newShape().
   */
  startSession(region: Region, shapeSlots: Allocation[], draw: ((region: Region, slot: Allocation) => void) | null = writeArrowCursor): void {
    this.shapeSlots = shapeSlots;
    this.shape = null;
    if (draw) this.newShape(region, draw);
  }

  /** A new shape: `draw` writes it (struct and pixels) into the next shape buffer, which messages with the shape use from now on. */
  newShape(region: Region, draw: (region: Region, slot: Allocation) => void): void {
    const slot = this.shapeSlots[this.shapeIndex]!;
    this.shapeIndex = (this.shapeIndex + 1) % this.shapeSlots.length;
    draw(region, slot);
    this.shape = slot;
  }

  /**
   * The buffer for the next message and its flags (POSITION, VISIBLE unless `visible` is false,
   * plus SHAPE for the shape buffer when `withShape` and there is a shape); else the next of
   * `cursorSlots`.
   */
  next(withShape: boolean, cursorSlots: Allocation[], visible = true): { mem: Allocation; flags: number } {
    const flags = CursorFlags.POSITION | (visible ? CursorFlags.VISIBLE : 0);
    if (withShape && this.shape) return { mem: this.shape, flags: flags | CursorFlags.SHAPE };
    const mem = cursorSlots[this.positionIndex]!;
    this.positionIndex = (this.positionIndex + 1) % cursorSlots.length;
    return { mem, flags };
  }
}
