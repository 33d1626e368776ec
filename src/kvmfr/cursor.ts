/**
 * KVMFRCursor messages on the pointer queue: the message udata carries flags (POSITION, VISIBLE,
 * SHAPE); with SHAPE the pixels follow the 24-byte struct. Consumers validate sizes against the
 * payload before touching pixels. Layout: docs/protocol.md#cursor.
 */
import { GlasspaneError } from '../errors.js';
import { CURSOR, CursorFlags, CursorType, KVMFR, SETCURSORPOS } from './layout.js';

/**
 * A cursor shape as readCursor() found it, bounded: width ≤ 512, height ≤ 512 (≤ 1024 for
 * monochrome), pitch ≥ the row's bytes (width × 4; ⌈width / 8⌉ for monochrome), and the
 * `dataBytes` = pitch × height bytes at `dataOffset` lie inside both the message and the region.
 * Width or height may be 0. The hotspot is whatever the producer wrote (−128..127, not checked
 * against the shape). The pixels are not copied: they stay in the region, the producer's to
 * rewrite once the message is acknowledged, so copy them before messageDone().
 */
export interface CursorShape {
  type: 'color' | 'monochrome' | 'masked-color';
  width: number;
  /** For monochrome: the AND mask rows followed by the XOR mask rows (2 * the visible height). */
  height: number;
  pitch: number;
  hotX: number;
  hotY: number;
  /** Region offset of the shape pixels (pitch * height bytes). */
  dataOffset: number;
  dataBytes: number;
}

/**
 * One cursor message: visibility always, position only with the POSITION flag (guest desktop
 * pixels, −32768..32767, not clamped to the screen), shape only with the SHAPE flag.
 */
export interface CursorUpdate {
  visible: boolean;
  /** Present when the message carries a position. */
  position?: { x: number; y: number };
  shape?: CursorShape;
}

const TYPES: CursorShape['type'][] = ['color', 'monochrome', 'masked-color'];

function bad(what: string): GlasspaneError {
  return new GlasspaneError('ERR_BAD_CURSOR', `invalid cursor from the producer: ${what}`, 'restart the guest application');
}

/**
 * Parses the KVMFRCursor at region offset `offset` (the LGMP message payload, `size` bytes) with
 * the message's udata `flags`. `dv` is a DataView over the whole region (`regionLength` bytes);
 * nothing is copied and nothing is written. Trusted: only that `dv` covers the region. Bounded
 * before use: the struct fits the message and the region, the type is 0..2, the shape's size and
 * pitch fit its message (see CursorShape). Throws GlasspaneError ERR_BAD_CURSOR naming the bad
 * value; never reads outside the region. Runs wherever the relay consumes (the relay worker when
 * threaded).
 */
export function readCursor(dv: DataView, regionLength: number, flags: number, offset: number, size: number): CursorUpdate {
  if (size < CURSOR.SIZE || offset > regionLength - CURSOR.SIZE) throw bad(`message of ${size} bytes at ${offset}; a KVMFRCursor needs ${CURSOR.SIZE}`);
  const u: CursorUpdate = { visible: (flags & CursorFlags.VISIBLE) !== 0 };
  if (flags & CursorFlags.POSITION) u.position = { x: dv.getInt16(offset + CURSOR.x, true), y: dv.getInt16(offset + CURSOR.y, true) };
  if (flags & CursorFlags.SHAPE) {
    const typeNum = dv.getUint32(offset + CURSOR.type, true);
    const type = TYPES[typeNum];
    if (!type) throw bad(`cursor type ${typeNum} (expected 0 colour, 1 monochrome, 2 masked colour)`);
    const width = dv.getUint32(offset + CURSOR.width, true);
    const height = dv.getUint32(offset + CURSOR.height, true);
    const pitch = dv.getUint32(offset + CURSOR.pitch, true);
    const maxH = type === 'monochrome' ? KVMFR.MAX_CURSOR_DIM * 2 : KVMFR.MAX_CURSOR_DIM;
    if (width > KVMFR.MAX_CURSOR_DIM || height > maxH) throw bad(`shape ${width}x${height} (at most ${KVMFR.MAX_CURSOR_DIM}x${KVMFR.MAX_CURSOR_DIM})`);
    const minPitch = type === 'monochrome' ? Math.ceil(width / 8) : width * 4;
    if (pitch < minPitch) throw bad(`shape pitch ${pitch} for width ${width} (at least ${minPitch})`);
    const dataBytes = pitch * height;
    if (dataBytes > size - CURSOR.SIZE || offset + CURSOR.SIZE + dataBytes > regionLength) {
      throw bad(`shape of ${dataBytes} bytes does not fit its ${size}-byte message`);
    }
    u.shape = {
      type,
      width,
      height,
      pitch,
      hotX: dv.getInt8(offset + CURSOR.hx),
      hotY: dv.getInt8(offset + CURSOR.hy),
      dataOffset: offset + CURSOR.SIZE,
      dataBytes,
    };
  }
  return u;
}

/**
 * Producer side: writes a cursor struct at `offset` of `dv` (position and, when given, the shape
 * header; the caller writes the pixels after it and posts `CURSOR.SIZE + pitch × height` bytes).
 * Values are written as given (int16 position, int8 hotspot, u32 sizes): the caller keeps them in
 * range. Throws RangeError (DataView) when the struct does not fit `dv`.
 */
export function writeCursor(
  dv: DataView,
  offset: number,
  pos: { x: number; y: number },
  shape?: { type: number; width: number; height: number; pitch: number; hotX: number; hotY: number },
): void {
  dv.setInt16(offset + CURSOR.x, pos.x, true);
  dv.setInt16(offset + CURSOR.y, pos.y, true);
  if (shape) {
    dv.setUint32(offset + CURSOR.type, shape.type, true);
    dv.setInt8(offset + CURSOR.hx, shape.hotX);
    dv.setInt8(offset + CURSOR.hy, shape.hotY);
    dv.setUint32(offset + CURSOR.width, shape.width, true);
    dv.setUint32(offset + CURSOR.height, shape.height, true);
    dv.setUint32(offset + CURSOR.pitch, shape.pitch, true);
  }
}

export { CursorType, CursorFlags };

/** A KVMFRSetCursorPos message for the pointer queue's mailbox (the consumer asks the producer to move the guest cursor). */
export function encodeSetCursorPos(x: number, y: number): Buffer {
  const msg = Buffer.alloc(SETCURSORPOS.SIZE);
  msg.writeUInt32LE(KVMFR.MESSAGE_SETCURSORPOS, SETCURSORPOS.type);
  msg.writeInt32LE(x, SETCURSORPOS.x);
  msg.writeInt32LE(y, SETCURSORPOS.y);
  return msg;
}

/**
 * Producer side: the position a consumer's mailbox message asks for, or null when `msg` is not a
 * KVMFRSetCursorPos (another type, or shorter than one). Extra trailing bytes are ignored. The
 * coordinates are any int32 values: the caller bounds them before use.
 */
export function decodeSetCursorPos(msg: Uint8Array): { x: number; y: number } | null {
  if (msg.length < SETCURSORPOS.SIZE) return null;
  const dv = new DataView(msg.buffer, msg.byteOffset, msg.byteLength);
  if (dv.getUint32(SETCURSORPOS.type, true) !== KVMFR.MESSAGE_SETCURSORPOS) return null;
  return { x: dv.getInt32(SETCURSORPOS.x, true), y: dv.getInt32(SETCURSORPOS.y, true) };
}
