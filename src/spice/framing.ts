/**
 * Message framing after the link: the 6-byte mini header (`u16 type, u32 size`) when both sides
 * offered MINI_HEADER, else the 18-byte full header (`u64 serial, u16 type, u32 size,
 * u32 sub_list`). glasspane always offers MINI_HEADER and spice-server always accepts it; the full
 * header is kept for servers that do not.
 */
import { FULL_HEADER_SIZE, MINI_HEADER_SIZE } from './protocol.js';

/**
 * A decoded message header: the message type and the payload size in bytes (as the peer sent it:
 * the reader bounds it).
 */
export interface MessageHeader {
  type: number;
  size: number;
}

/** Header size for the negotiated framing. */
export function headerSize(mini: boolean): number {
  return mini ? MINI_HEADER_SIZE : FULL_HEADER_SIZE;
}

/** Reads a header from `buf` at `offset` (which must hold `headerSize(mini)` bytes). */
export function decodeHeader(buf: Buffer, mini: boolean, offset = 0): MessageHeader {
  if (mini) return { type: buf.readUInt16LE(offset), size: buf.readUInt32LE(offset + 2) };
  return { type: buf.readUInt16LE(offset + 8), size: buf.readUInt32LE(offset + 10) };
}

/**
 * Frames one client message. `serial` is only used with the full header (it starts at 1 and
 * increases per message on each channel; the caller owns the counter).
 */
export function encodeMessage(type: number, payload: Uint8Array, mini: boolean, serial = 1n): Buffer {
  const hs = headerSize(mini);
  const out = Buffer.allocUnsafe(hs + payload.length);
  if (mini) {
    out.writeUInt16LE(type, 0);
    out.writeUInt32LE(payload.length, 2);
  } else {
    out.writeBigUInt64LE(serial, 0);
    out.writeUInt16LE(type, 8);
    out.writeUInt32LE(payload.length, 10);
    out.writeUInt32LE(0, 14);
  }
  out.set(payload, hs);
  return out;
}
