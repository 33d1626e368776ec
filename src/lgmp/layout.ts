/**
 * LGMP protocol version 6 (gnif/LGMP at de89c63, as used by Looking Glass B7): the one table of
 * offsets, sizes and constants. Nothing else in glasspane writes an LGMP number literally.
 * Little-endian, natural x86-64 alignment (u64 on 8). Asserted field by field in
 * test/unit/layout.test.ts against the facts of LGMP's headers (test/fixtures/b7-layout.ts).
 */
export const LGMP = {
  MAGIC: 0x504d474c, // "LGMP"
  VERSION: 6,
  MAX_QUEUES: 5,
  MAX_SUBS: 32,
  /** Consumer→producer mailbox: slots per queue and bytes per message. */
  MSGS_MAX: 10,
  MSGS_SIZE: 64,
  /** A consumer treats the producer as gone when its heartbeat stalls this long (ms). */
  HEARTBEAT_TIMEOUT_MS: 1000,
} as const;

/** struct LGMPHeader: 5760 bytes with padding; udata starts at 5756. */
export const HEADER = {
  magic: 0,
  version: 4,
  sessionID: 8,
  timestamp: 16, // u64, producer monotonic ms
  numQueues: 24,
  queues: 32,
  udataSize: 5752,
  udata: 5756,
  SIZE: 5760,
} as const;

/** struct LGMPHeaderQueue, offsets relative to the queue. */
export const QUEUE = {
  queueID: 0,
  numMessages: 4,
  newSubCount: 8,
  maxTime: 12,
  position: 16,
  messagesOffset: 20,
  timeout: 24, // u64[32]
  clientID: 280, // u32[32]
  lock: 408,
  subs: 416, // u64: high 32 = ON, low 32 = BAD
  start: 424,
  msgTimeout: 432, // u64
  count: 440,
  cMsgLock: 444,
  cMsgAvail: 448,
  cMsgWPos: 452,
  cMsgWSerial: 456,
  cMsgRSerial: 460,
  cMsgs: 464, // LGMPClientMessage[10]
  SIZE: 1144,
} as const;

/** struct LGMPClientMessage { u32 size; u8 data[64] }. */
export const CLIENT_MSG = { size: 0, data: 4, SIZE: 68 } as const;

/** struct LGMPHeaderMessage (one ring slot). */
export const MESSAGE = { udata: 0, size: 4, offset: 8, pendingSubs: 12, SIZE: 16 } as const;

/** Region offset of queue `index`'s header. */
export const queueOffset = (index: number): number => HEADER.queues + index * QUEUE.SIZE;

/** LGMP's own 4-byte alignment for bump allocations. */
export const align4 = (n: number): number => (n + 3) & ~3;

/** The first allocatable byte after a header carrying `udataSize` bytes of user data. */
export const firstFreeOffset = (udataSize: number): number => align4(HEADER.SIZE + udataSize);
