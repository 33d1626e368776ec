/**
 * KVMFRFrame: written by producers, read and validated by consumers. The region is untrusted:
 * readFrame() checks type, sizes, pitch, the FrameBuffer offset and every damage rectangle so that
 * the pixel range it returns lies inside both the message payload and the region.
 * Layout and checks: docs/protocol.md#frames, #what-the-consumer-validates.
 */
import { GlasspaneError } from '../errors.js';
import { FRAME, FRAMEBUFFER, KVMFR } from './layout.js';
import { formatOf, type FormatInfo } from './formats.js';
import { pixelGeometry, type PixelGeometry } from './geometry.js';

/**
 * A rectangle in frame pixels: left `x`, top `y`, `width` × `height` (each u32 as the producer
 * wrote it; see readFrame for what is checked).
 */
export interface Rect {
  x: number;
  y: number;
  width: number;
  height: number;
}

/**
 * The KVMFRFrame fields (u32 each) as the producer wrote them; writeFrame() writes them back. Sizes
 * are in pixels or texels, `pitch` and `stride` in bytes per row and texels per row, `rotation`
 * 0..3 quarter turns, `flags` FrameFlags, `formatVer` a counter the producer bumps when the format
 * changes. readFrame() checks the fields listed in FrameInfo; the rest (screen size, stride,
 * serial, formatVer, flags) are reported as found.
 */
export interface FrameFields {
  formatVer: number;
  frameSerial: number;
  type: number;
  screenWidth: number;
  screenHeight: number;
  dataWidth: number;
  dataHeight: number;
  frameWidth: number;
  frameHeight: number;
  rotation: number;
  stride: number;
  pitch: number;
  flags: number;
  /** Empty = the whole frame changed. */
  damageRects: Rect[];
}

/**
 * A frame as readFrame() validated it. Bounded: type is a known format; dataWidth, dataHeight,
 * frameWidth and frameHeight are 1..16384; rotation 0..3; pitch ≤ 131072 and holds a row of the
 * format (see pixelGeometry); the `dataBytes` at `dataOffset` and the u32 at `wpOffset` lie inside
 * both the message payload and the region; every damage rectangle kept lies inside
 * frameWidth × frameHeight. Not bounded: screenWidth/screenHeight, stride, frameSerial, formatVer,
 * flags. The offsets point into the region: the pixels stay the producer's and may still be being
 * written (follow the write pointer, e.g. copyOut with `wpOffset`) until the message is
 * acknowledged, and may be rewritten at once after it.
 */
export interface FrameInfo extends FrameFields {
  format: FormatInfo;
  /** Region offset of the KVMFRFrame struct. */
  frameOffset: number;
  /** Region offset of FrameBuffer.wp (bytes of pixel data written so far). */
  wpOffset: number;
  /** Region offset of the first pixel byte. */
  dataOffset: number;
  /** pitch * dataHeight: the bytes to copy. */
  dataBytes: number;
  /** The pixels' geometry (pixelGeometry): what every reader of the frame uses. */
  geometry: PixelGeometry;
  /** Damage rectangles that were dropped as invalid (the frame is then treated as fully damaged). */
  badDamage?: string;
}

/** Largest accepted width or height; anything above is a corrupt or hostile header. */
export const MAX_DIMENSION = 16384;

function bad(what: string): GlasspaneError {
  return new GlasspaneError('ERR_BAD_FRAME', `invalid frame from the producer: ${what}`, 'restart the guest application; if it persists, report it with the producer version');
}

/**
 * Reads the frame whose message payload is `payloadOffset`/`payloadSize` in a region of
 * `regionLength` bytes; `dv` is a DataView over the whole region. Reads the 1084-byte struct only
 * (never the pixels), copies nothing and writes nothing; runs wherever the relay consumes (the
 * relay worker when threaded). Trusted: only that `dv` covers the region. Everything the result
 * promises is listed in FrameInfo. Throws GlasspaneError ERR_BAD_FRAME naming the bad field and
 * its value; invalid damage rectangles do not throw, they are dropped and named in `badDamage`
 * (the frame then counts as fully damaged).
 */
export function readFrame(dv: DataView, regionLength: number, payloadOffset: number, payloadSize: number): FrameInfo {
  if (payloadSize < FRAME.SIZE || payloadOffset > regionLength - FRAME.SIZE) {
    throw bad(`the frame message is ${payloadSize} bytes at offset ${payloadOffset}; a KVMFRFrame needs ${FRAME.SIZE}`);
  }
  const u32 = (field: number) => dv.getUint32(payloadOffset + field, true);
  const type = u32(FRAME.type);
  const format = formatOf(type);
  if (!format) throw bad(`frame type ${type} (valid: 1 BGRA … 6 RGB_24)`);
  const f: FrameInfo = {
    formatVer: u32(FRAME.formatVer),
    frameSerial: u32(FRAME.frameSerial),
    type,
    format,
    screenWidth: u32(FRAME.screenWidth),
    screenHeight: u32(FRAME.screenHeight),
    dataWidth: u32(FRAME.dataWidth),
    dataHeight: u32(FRAME.dataHeight),
    frameWidth: u32(FRAME.frameWidth),
    frameHeight: u32(FRAME.frameHeight),
    rotation: u32(FRAME.rotation),
    stride: u32(FRAME.stride),
    pitch: u32(FRAME.pitch),
    flags: u32(FRAME.flags),
    damageRects: [],
    frameOffset: payloadOffset,
    wpOffset: 0,
    dataOffset: 0,
    dataBytes: 0,
    geometry: { width: 0, height: 0, bytesPerPixel: 4, stride: 0, bytes: 0 },
  };
  for (const k of ['dataWidth', 'dataHeight', 'frameWidth', 'frameHeight'] as const) {
    if (f[k] < 1 || f[k] > MAX_DIMENSION) throw bad(`${k} ${f[k]} (expected 1..${MAX_DIMENSION})`);
  }
  if (f.rotation > 3) throw bad(`rotation ${f.rotation} (expected 0..3)`);
  if (f.pitch > MAX_DIMENSION * 8) throw bad(`pitch ${f.pitch} bytes (at most ${MAX_DIMENSION * 8})`);
  const geometry = pixelGeometry(format, f);
  if (typeof geometry === 'string') throw bad(geometry);
  f.geometry = geometry;
  const fbOffset = u32(FRAME.offset);
  if (fbOffset < FRAME.SIZE || (payloadOffset + fbOffset) % 4 !== 0) throw bad(`FrameBuffer offset ${fbOffset} (must be ≥ ${FRAME.SIZE} and 4-byte aligned)`);
  const dataBytes = f.pitch * f.dataHeight;
  const end = payloadOffset + fbOffset + FRAMEBUFFER.data + dataBytes;
  if (fbOffset > payloadSize || end > payloadOffset + payloadSize || end > regionLength) {
    throw bad(`${f.dataWidth}x${f.dataHeight} ${format.name} pixels (${dataBytes} bytes at +${fbOffset}) run past the ${payloadSize}-byte frame buffer`);
  }
  f.wpOffset = payloadOffset + fbOffset + FRAMEBUFFER.wp;
  f.dataOffset = payloadOffset + fbOffset + FRAMEBUFFER.data;
  f.dataBytes = dataBytes;

  const count = u32(FRAME.damageRectsCount);
  if (count > KVMFR.MAX_DAMAGE_RECTS) {
    f.badDamage = `${count} damage rectangles (at most ${KVMFR.MAX_DAMAGE_RECTS})`;
  } else {
    for (let i = 0; i < count; i++) {
      const o = FRAME.damageRects + i * FRAME.DAMAGE_RECT_SIZE;
      const r = { x: u32(o), y: u32(o + 4), width: u32(o + 8), height: u32(o + 12) };
      if (r.width === 0 || r.height === 0 || r.x + r.width > f.frameWidth || r.y + r.height > f.frameHeight) {
        f.badDamage = `damage rectangle ${i} (${r.x},${r.y} ${r.width}x${r.height}) is outside the ${f.frameWidth}x${f.frameHeight} frame`;
        f.damageRects = [];
        break;
      }
      f.damageRects.push(r);
    }
  }
  return f;
}

/**
 * The u32 fields of KVMFRFrame that FrameFields carries one to one, in a fixed order (the frame
 * mailbox stores them in this order too). Damage rects and the frame's offset are not among them.
 */
export const FRAME_SCALAR_FIELDS = [
  'formatVer',
  'frameSerial',
  'type',
  'screenWidth',
  'screenHeight',
  'dataWidth',
  'dataHeight',
  'frameWidth',
  'frameHeight',
  'rotation',
  'stride',
  'pitch',
  'flags',
] as const satisfies ReadonlyArray<keyof FrameFields & keyof typeof FRAME>;

/**
 * Producer side: writes the KVMFRFrame fields at `offset` of `dv` (the FrameBuffer offset is set
 * once, separately). Values are stored as u32 (`>>> 0`: the caller keeps them in range); damage
 * rectangles beyond 64 are dropped. Throws RangeError (DataView) when the struct does not fit.
 */
export function writeFrame(dv: DataView, offset: number, f: FrameFields): void {
  const set = (field: number, v: number) => dv.setUint32(offset + field, v >>> 0, true);
  for (const k of FRAME_SCALAR_FIELDS) set(FRAME[k], f[k]);
  const n = Math.min(f.damageRects.length, KVMFR.MAX_DAMAGE_RECTS);
  set(FRAME.damageRectsCount, n);
  for (let i = 0; i < n; i++) {
    const o = FRAME.damageRects + i * FRAME.DAMAGE_RECT_SIZE;
    const r = f.damageRects[i]!;
    set(o, r.x);
    set(o + 4, r.y);
    set(o + 8, r.width);
    set(o + 12, r.height);
  }
}

/**
 * The smallest rectangle holding all of `rects` (at least one: with none the result is not
 * finite). For damage kept per buffer or texture: beyond a bound, its bounding box stands for it.
 */
export function boundingBox(rects: readonly Rect[]): Rect {
  let x0 = Infinity;
  let y0 = Infinity;
  let x1 = -Infinity;
  let y1 = -Infinity;
  for (const r of rects) {
    x0 = Math.min(x0, r.x);
    y0 = Math.min(y0, r.y);
    x1 = Math.max(x1, r.x + r.width);
    y1 = Math.max(y1, r.y + r.height);
  }
  return { x: x0, y: y0, width: x1 - x0, height: y1 - y0 };
}
