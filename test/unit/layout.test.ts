/**
 * Every offset, size and constant of ../shared/spec/lgmp-kvmfr.md (checked there against the B7
 * headers with a C compiler), transcribed here by hand and compared with the one layout table
 * the code uses. A change to the tables that breaks B7 compatibility fails here.
 */
import { describe, expect, it } from 'vitest';
import { CLIENT_MSG, HEADER, LGMP, MESSAGE, QUEUE, firstFreeOffset, queueOffset } from '../../src/lgmp/layout.js';
import {
  CURSOR,
  CursorFlags,
  CursorType,
  FRAME,
  FRAMEBUFFER,
  FrameFlags,
  FrameType,
  KVMFR,
  KVMFR_HEADER,
  MAX_CURSOR_BYTES,
  OSINFO,
  OsType,
  RECORD,
  RecordType,
  SETCURSORPOS,
  VMINFO,
} from '../../src/kvmfr/layout.js';
import { regionSizeMiB } from '../../src/kvmfr/sizing.js';

describe('LGMP v6 layout (spec §2)', () => {
  it('header', () => {
    expect(LGMP.MAGIC).toBe(0x504d474c);
    expect(Buffer.from('LGMP', 'latin1').readUInt32LE(0)).toBe(LGMP.MAGIC);
    expect(LGMP.VERSION).toBe(6);
    expect(LGMP.MAX_QUEUES).toBe(5);
    expect(HEADER).toEqual({ magic: 0, version: 4, sessionID: 8, timestamp: 16, numQueues: 24, queues: 32, udataSize: 5752, udata: 5756, SIZE: 5760 });
    expect(HEADER.queues + LGMP.MAX_QUEUES * QUEUE.SIZE).toBe(HEADER.udataSize);
    expect(queueOffset(0)).toBe(32);
    expect(queueOffset(4)).toBe(32 + 4 * 1144);
  });

  it('queue', () => {
    expect(QUEUE).toEqual({
      queueID: 0,
      numMessages: 4,
      newSubCount: 8,
      maxTime: 12,
      position: 16,
      messagesOffset: 20,
      timeout: 24,
      clientID: 280,
      lock: 408,
      subs: 416,
      start: 424,
      msgTimeout: 432,
      count: 440,
      cMsgLock: 444,
      cMsgAvail: 448,
      cMsgWPos: 452,
      cMsgWSerial: 456,
      cMsgRSerial: 460,
      cMsgs: 464,
      SIZE: 1144,
    });
    expect(QUEUE.timeout + 32 * 8).toBe(QUEUE.clientID);
    expect(QUEUE.clientID + 32 * 4).toBe(QUEUE.lock);
    expect(QUEUE.cMsgs + LGMP.MSGS_MAX * CLIENT_MSG.SIZE).toBe(QUEUE.SIZE);
    expect(LGMP.MAX_SUBS).toBe(32);
    expect(LGMP.MSGS_MAX).toBe(10);
    expect(LGMP.MSGS_SIZE).toBe(64);
    expect(CLIENT_MSG).toEqual({ size: 0, data: 4, SIZE: 68 });
  });

  it('message and allocation', () => {
    expect(MESSAGE).toEqual({ udata: 0, size: 4, offset: 8, pendingSubs: 12, SIZE: 16 });
    expect(firstFreeOffset(0)).toBe(5760);
    expect(firstFreeOffset(171)).toBe(5932); // ALIGN4(5760 + udataSize)
    expect(LGMP.HEARTBEAT_TIMEOUT_MS).toBe(1000);
  });
});

describe('KVMFR v20 layout (spec §3-§5)', () => {
  it('header and records', () => {
    expect(KVMFR.MAGIC).toBe('KVMFR---');
    expect(KVMFR.VERSION).toBe(20);
    expect(KVMFR_HEADER).toEqual({ magic: 0, version: 8, hostver: 12, HOSTVER_LEN: 32, features: 44, SIZE: 48 });
    expect(KVMFR.FEATURE_SETCURSORPOS).toBe(1);
    expect(RECORD).toEqual({ type: 0, size: 4, data: 8, HEADER_SIZE: 8 });
    expect(RecordType).toEqual({ VMINFO: 1, OSINFO: 2 });
    expect(VMINFO).toEqual({ uuid: 0, UUID_LEN: 16, capture: 16, CAPTURE_LEN: 32, cpus: 48, cores: 49, sockets: 50, model: 51 });
    expect(OSINFO).toEqual({ os: 0, name: 1 });
    expect(OsType).toEqual({ LINUX: 0, BSD: 1, MACOS: 2, WINDOWS: 3, OTHER: 4 });
  });

  it('frames', () => {
    expect(FRAME).toEqual({
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
      damageRects: 56,
      DAMAGE_RECT_SIZE: 16,
      flags: 1080,
      SIZE: 1084,
    });
    expect(FRAME.damageRects + KVMFR.MAX_DAMAGE_RECTS * FRAME.DAMAGE_RECT_SIZE).toBe(FRAME.flags);
    expect(FRAMEBUFFER).toEqual({ wp: 0, data: 4 });
    expect(FrameType).toEqual({ INVALID: 0, BGRA: 1, RGBA: 2, RGBA10: 3, RGBA16F: 4, BGR_32: 5, RGB_24: 6 });
    expect(FrameFlags).toEqual({ BLOCK_SCREENSAVER: 1, REQUEST_ACTIVATION: 2, TRUNCATED: 4, HDR: 8, HDR_PQ: 16 });
    expect([KVMFR.QUEUE_POINTER, KVMFR.QUEUE_FRAME, KVMFR.FRAME_QUEUE_LEN, KVMFR.POINTER_QUEUE_LEN, KVMFR.SUB_TIMEOUT_MS]).toEqual([1, 2, 2, 20, 1000]);
  });

  it('cursor', () => {
    expect(CURSOR).toEqual({ x: 0, y: 2, type: 4, hx: 8, hy: 9, width: 12, height: 16, pitch: 20, SIZE: 24 });
    expect(CursorType).toEqual({ COLOR: 0, MONOCHROME: 1, MASKED_COLOR: 2 });
    expect(CursorFlags).toEqual({ POSITION: 1, VISIBLE: 2, SHAPE: 4 });
    expect(MAX_CURSOR_BYTES).toBe(24 + 512 * 512 * 4);
    expect(KVMFR.POINTER_SHAPE_BUFFERS).toBe(3);
    expect(SETCURSORPOS).toEqual({ type: 0, x: 4, y: 8, SIZE: 12 });
  });

  it('sizing rule (spec §6)', () => {
    expect(regionSizeMiB(1920, 1080)).toBe(32);
    expect(regionSizeMiB(2560, 1440)).toBe(64);
    expect(regionSizeMiB(3840, 2160)).toBe(128);
    expect(regionSizeMiB(1920, 1080, true)).toBe(64);
    expect(regionSizeMiB(3840, 2160, true)).toBe(256);
  });
});
