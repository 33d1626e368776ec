/**
 * KVMFR version 20 (Looking Glass B7 common/include/common/KVMFR.h): the one table of offsets,
 * sizes and constants for the data carried inside LGMP. Asserted in test/unit/layout.test.ts
 * against the facts of B7's headers (test/fixtures/b7-layout.ts).
 */
export const KVMFR = {
  MAGIC: 'KVMFR---',
  VERSION: 20,
  MAX_DAMAGE_RECTS: 64,
  QUEUE_POINTER: 1,
  QUEUE_FRAME: 2,
  FRAME_QUEUE_LEN: 2,
  POINTER_QUEUE_LEN: 20,
  /** Subscriber timeout of both queues, ms. */
  SUB_TIMEOUT_MS: 1000,
  /** B7 keeps 3 cursor shape buffers of at most 512x512 BGRA. */
  POINTER_SHAPE_BUFFERS: 3,
  MAX_CURSOR_DIM: 512,
  FEATURE_SETCURSORPOS: 0x1,
  MESSAGE_SETCURSORPOS: 0,
} as const;

/** struct KVMFR (48 bytes) at the start of LGMP udata. */
export const KVMFR_HEADER = { magic: 0, version: 8, hostver: 12, HOSTVER_LEN: 32, features: 44, SIZE: 48 } as const;

/** struct KVMFRRecord { u8 type; u32 size; u8 data[] }. */
export const RECORD = { type: 0, size: 4, data: 8, HEADER_SIZE: 8 } as const;
/** KVMFRRecord types after the header (u8). Others may appear; consumers skip them by size. */
export const RecordType = { VMINFO: 1, OSINFO: 2 } as const;

/** struct KVMFRRecord_VMInfo (51 bytes, then the NUL-terminated model string). */
export const VMINFO = { uuid: 0, UUID_LEN: 16, capture: 16, CAPTURE_LEN: 32, cpus: 48, cores: 49, sockets: 50, model: 51 } as const;

/** struct KVMFRRecord_OSInfo (1 byte, then the NUL-terminated name). */
export const OSINFO = { os: 0, name: 1 } as const;
/** KVMFRRecord_OSInfo `os` values (u8). */
export const OsType = { LINUX: 0, BSD: 1, MACOS: 2, WINDOWS: 3, OTHER: 4 } as const;

/** struct KVMFRFrame (1084 bytes). */
export const FRAME = {
  formatVer: 0,
  frameSerial: 4,
  type: 8,
  screenWidth: 12,
  screenHeight: 16,
  dataWidth: 20,
  dataHeight: 24,
  frameWidth: 28,
  frameHeight: 32,
  rotation: 36,
  stride: 40,
  pitch: 44,
  offset: 48,
  damageRectsCount: 52,
  damageRects: 56, // FrameDamageRect[64] { u32 x, y, width, height }
  DAMAGE_RECT_SIZE: 16,
  flags: 1080,
  SIZE: 1084,
} as const;

/** struct FrameBuffer { u32 wp; u8 data[] } at KVMFRFrame.offset. */
export const FRAMEBUFFER = { wp: 0, data: 4 } as const;

/**
 * KVMFRFrame `flags` bits. glasspane's producer sets TRUNCATED when its frame buffers hold fewer
 * rows than the screen; the consumer passes the flags on unchecked.
 */
export const FrameFlags = {
  BLOCK_SCREENSAVER: 0x1,
  REQUEST_ACTIVATION: 0x2,
  TRUNCATED: 0x4,
  HDR: 0x8,
  HDR_PQ: 0x10,
} as const;

/** FrameType: 0 invalid; 7 and above invalid. */
export const FrameType = { INVALID: 0, BGRA: 1, RGBA: 2, RGBA10: 3, RGBA16F: 4, BGR_32: 5, RGB_24: 6 } as const;
/** The names of the valid FrameType values (1..6), as FormatInfo carries them. */
export type FrameTypeName = 'BGRA' | 'RGBA' | 'RGBA10' | 'RGBA16F' | 'BGR_32' | 'RGB_24';

/** struct KVMFRCursor (24 bytes), shape pixels follow at byte 24. */
export const CURSOR = { x: 0, y: 2, type: 4, hx: 8, hy: 9, width: 12, height: 16, pitch: 20, SIZE: 24 } as const;
/** KVMFRCursor `type` values (u32); readCursor() rejects any other. */
export const CursorType = { COLOR: 0, MONOCHROME: 1, MASKED_COLOR: 2 } as const;
/**
 * Cursor message flags, carried in the pointer message's LGMP udata: POSITION (x, y are valid),
 * VISIBLE, SHAPE (a shape follows the struct).
 */
export const CursorFlags = { POSITION: 0x1, VISIBLE: 0x2, SHAPE: 0x4 } as const;

/** KVMFRSetCursorPos { u32 type; i32 x; i32 y } sent through the pointer queue's mailbox. */
export const SETCURSORPOS = { type: 0, x: 4, y: 8, SIZE: 12 } as const;

/** Largest cursor message: the struct plus 512x512 BGRA. */
export const MAX_CURSOR_BYTES = CURSOR.SIZE + KVMFR.MAX_CURSOR_DIM * KVMFR.MAX_CURSOR_DIM * 4;
