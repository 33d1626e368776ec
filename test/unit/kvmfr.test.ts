import { describe, expect, it } from 'vitest';
import { buildKvmfrUdata, parseKvmfrUdata } from '../../src/kvmfr/header.js';
import { readFrame, writeFrame, type FrameFields } from '../../src/kvmfr/frame.js';
import { readCursor, writeCursor } from '../../src/kvmfr/cursor.js';
import { CURSOR, FRAME, FrameType, KVMFR_HEADER, RECORD } from '../../src/kvmfr/layout.js';
import { coded } from '../support/errors.js';

const vmInfo = { uuid: '0123456789abcdef0123456789abcdef', capture: 'DXGI', cpus: 8, cores: 4, sockets: 1, model: 'AMD Ryzen 7' };

describe('KVMFR header and records', () => {
  it('round-trips header, VMINFO and OSINFO in the B7 byte layout', () => {
    const u = buildKvmfrUdata({ producerVersion: 'B7', features: 1, vmInfo, osInfo: { os: 3, name: 'Windows 11' } });
    expect(Buffer.from(u.subarray(0, 8)).toString('latin1')).toBe('KVMFR---');
    expect(u[48 + RECORD.type]).toBe(1);
    expect(Buffer.from(u).readUInt32LE(48 + RECORD.size)).toBe(51 + 'AMD Ryzen 7'.length + 1);
    expect(Buffer.from(u.subarray(56 + 51, 56 + 51 + 11)).toString()).toBe('AMD Ryzen 7');
    expect(parseKvmfrUdata(u)).toEqual({
      version: 20,
      producerVersion: 'B7',
      features: 1,
      vmInfo,
      osInfo: { os: 'Windows', name: 'Windows 11' },
    });
  });

  it('skips unknown records and reports one running past the end', () => {
    const u = Buffer.from(buildKvmfrUdata({ producerVersion: 'x' }));
    const unknown = Buffer.alloc(8 + 3);
    unknown[0] = 99;
    unknown.writeUInt32LE(3, 4);
    expect(parseKvmfrUdata(Buffer.concat([u, unknown])).producerVersion).toBe('x');
    unknown.writeUInt32LE(1000, 4);
    expect(() => parseKvmfrUdata(Buffer.concat([u, unknown]))).toThrow(coded('ERR_KVMFR_CORRUPT', /claims 1000 bytes, past the end/));
    expect(() => parseKvmfrUdata(Buffer.concat([u, Buffer.from([1, 0, 0])]))).toThrow(coded('ERR_KVMFR_CORRUPT', /record header .* runs past/));
  });

  it('refuses another magic or version, naming both and the producer version', () => {
    const u = Buffer.from(buildKvmfrUdata({ producerVersion: 'B6-rc1' }));
    u.writeUInt32LE(19, KVMFR_HEADER.version);
    expect(() => parseKvmfrUdata(u)).toThrow(coded('ERR_KVMFR_VERSION', 'KVMFR version 19 found (producer "B6-rc1"); glasspane speaks version 20 (Looking Glass B7)'));
    u.write('KVMFR+++', 0, 'latin1');
    expect(() => parseKvmfrUdata(u)).toThrow(coded('ERR_KVMFR_MAGIC', /magic "KVMFR\+\+\+" found, "KVMFR---" expected/));
    expect(() => parseKvmfrUdata(u.subarray(0, 20))).toThrow(coded('ERR_KVMFR_CORRUPT', /smaller than the 48-byte KVMFR header/));
  });
});

describe('KVMFRFrame validation', () => {
  const regionLength = 64 << 20;
  const payload = 1 << 20;
  const payloadSize = 16 << 20;
  const good: FrameFields = {
    formatVer: 3,
    frameSerial: 42,
    type: FrameType.BGRA,
    screenWidth: 1920,
    screenHeight: 1080,
    dataWidth: 1920,
    dataHeight: 1080,
    frameWidth: 1920,
    frameHeight: 1080,
    rotation: 0,
    stride: 1920,
    pitch: 7680,
    flags: 0,
    damageRects: [{ x: 0, y: 0, width: 10, height: 10 }],
  };
  const frameWith = (patch: Partial<FrameFields>, fbOffset = 4092) => {
    const dv = new DataView(new ArrayBuffer(regionLength));
    writeFrame(dv, payload, { ...good, ...patch });
    dv.setUint32(payload + FRAME.offset, fbOffset, true);
    return dv;
  };

  it('reads a valid frame and locates wp and pixels', () => {
    const f = readFrame(frameWith({}), regionLength, payload, payloadSize);
    expect(f).toMatchObject({ frameSerial: 42, formatVer: 3, pitch: 7680, dataBytes: 7680 * 1080 });
    expect(f.wpOffset).toBe(payload + 4092);
    expect(f.dataOffset).toBe(payload + 4096);
    expect(f.damageRects).toEqual([{ x: 0, y: 0, width: 10, height: 10 }]);
    expect(f.format.name).toBe('BGRA');
  });

  it.each([
    ['type 0', { type: 0 }, /frame type 0/],
    ['type 7', { type: 7 }, /frame type 7/],
    ['width 0', { dataWidth: 0 }, /dataWidth 0/],
    ['height max', { dataHeight: 0xffffffff }, /dataHeight 4294967295/],
    ['frame height 0', { frameHeight: 0 }, /frameHeight 0/],
    ['pitch too small', { pitch: 100 }, /pitch 100 .*at least 7680/],
    ['pitch max', { pitch: 0xffffffff }, /pitch 4294967295/],
    ['rotation 4', { rotation: 4 }, /rotation 4/],
    ['pixels past the buffer', { dataHeight: 3000, frameHeight: 3000 }, /run past the 16777216-byte frame buffer/],
  ])('refuses %s', (_name, patch, msg) => {
    expect(() => readFrame(frameWith(patch as Partial<FrameFields>), regionLength, payload, payloadSize)).toThrow(coded('ERR_BAD_FRAME', msg));
  });

  it('refuses a FrameBuffer offset inside the struct, unaligned or past the end, and a payload too small or past the region', () => {
    expect(() => readFrame(frameWith({}, 0), regionLength, payload, payloadSize)).toThrow(coded('ERR_BAD_FRAME', /FrameBuffer offset 0/));
    expect(() => readFrame(frameWith({}, 4093), regionLength, payload, payloadSize)).toThrow(coded('ERR_BAD_FRAME', /4-byte aligned/));
    expect(() => readFrame(frameWith({}, 0xfffffff0), regionLength, payload, payloadSize)).toThrow(coded('ERR_BAD_FRAME', /run past/));
    expect(() => readFrame(frameWith({}), regionLength, payload, 100)).toThrow(coded('ERR_BAD_FRAME', /needs 1084/));
    expect(() => readFrame(frameWith({}), regionLength, regionLength - 10, payloadSize)).toThrow(coded('ERR_BAD_FRAME', /needs 1084/));
  });

  it('24-bit frames: the geometry readers use is the one validated, and rows that do not fit their pitch are refused', () => {
    // B7's BGR_32: 1920 3-byte pixels packed into 1440 32-bit texels, pitch 5760.
    const ok = readFrame(frameWith({ type: FrameType.BGR_32, dataWidth: 1440, pitch: 5760 }), regionLength, payload, payloadSize);
    expect(ok.geometry).toEqual({ width: 1920, height: 1080, bytesPerPixel: 3, stride: 5760, bytes: 5760 * 1079 + 1920 * 3 });
    const rgb24 = readFrame(frameWith({ type: FrameType.RGB_24, dataWidth: 1920, pitch: 5760 }), regionLength, payload, payloadSize);
    expect(rgb24.geometry).toMatchObject({ width: 1920, bytesPerPixel: 3, stride: 5760 });
    // The hostile frame that used to pass: 16384 pixels wide in 4 texels and a 16-byte pitch.
    for (const type of [FrameType.BGR_32, FrameType.RGB_24]) {
      expect(() => readFrame(frameWith({ type, frameWidth: 16384, dataWidth: 4, pitch: 16 }), regionLength, payload, payloadSize)).toThrow(coded('ERR_BAD_FRAME', /pitch 16 bytes for 16384 .* pixels of 3 bytes/));
    }
    // BGR_32 whose pixels do not fit the texels it declares (the pitch alone would allow them).
    expect(() => readFrame(frameWith({ type: FrameType.BGR_32, frameWidth: 1920, dataWidth: 100, pitch: 7680 }), regionLength, payload, payloadSize)).toThrow(coded('ERR_BAD_FRAME', /1920 BGR_32 pixels do not fit in 100 32-bit texels/));
    // The 32-bit formats are dataWidth pixels wide.
    expect(readFrame(frameWith({}), regionLength, payload, payloadSize).geometry).toMatchObject({ width: 1920, bytesPerPixel: 4, stride: 7680 });
  });

  it('drops damage rectangles that are out of the frame or too many (full update instead)', () => {
    const f = readFrame(frameWith({ damageRects: [{ x: 1900, y: 0, width: 100, height: 1 }] }), regionLength, payload, payloadSize);
    expect(f.damageRects).toEqual([]);
    expect(f.badDamage).toMatch(/outside the 1920x1080 frame/);
    const dv = frameWith({});
    dv.setUint32(payload + FRAME.damageRectsCount, 65, true);
    const g = readFrame(dv, regionLength, payload, payloadSize);
    expect(g.damageRects).toEqual([]);
    expect(g.badDamage).toMatch(/65 damage rectangles/);
  });
});

describe('KVMFRCursor validation', () => {
  const dv = new DataView(new ArrayBuffer(4 << 20));
  it('reads position, visibility and shape', () => {
    writeCursor(dv, 0, { x: -5, y: 300 }, { type: 0, width: 32, height: 32, pitch: 128, hotX: 3, hotY: -2 });
    const u = readCursor(dv, 4 << 20, 0x7, 0, CURSOR.SIZE + 128 * 32);
    expect(u).toEqual({
      visible: true,
      position: { x: -5, y: 300 },
      shape: { type: 'color', width: 32, height: 32, pitch: 128, hotX: 3, hotY: -2, dataOffset: 24, dataBytes: 4096 },
    });
    expect(readCursor(dv, 4 << 20, 0x1, 0, CURSOR.SIZE)).toEqual({ visible: false, position: { x: -5, y: 300 } });
  });

  it('refuses bad types, sizes and pitches', () => {
    writeCursor(dv, 0, { x: 0, y: 0 }, { type: 3, width: 32, height: 32, pitch: 128, hotX: 0, hotY: 0 });
    expect(() => readCursor(dv, 4 << 20, 0x4, 0, 1 << 20)).toThrow(coded('ERR_BAD_CURSOR', /cursor type 3/));
    writeCursor(dv, 0, { x: 0, y: 0 }, { type: 0, width: 513, height: 32, pitch: 4000, hotX: 0, hotY: 0 });
    expect(() => readCursor(dv, 4 << 20, 0x4, 0, 1 << 20)).toThrow(coded('ERR_BAD_CURSOR', /at most 512x512/));
    writeCursor(dv, 0, { x: 0, y: 0 }, { type: 0, width: 32, height: 32, pitch: 64, hotX: 0, hotY: 0 });
    expect(() => readCursor(dv, 4 << 20, 0x4, 0, 1 << 20)).toThrow(coded('ERR_BAD_CURSOR', /pitch 64/));
    writeCursor(dv, 0, { x: 0, y: 0 }, { type: 0, width: 32, height: 32, pitch: 128, hotX: 0, hotY: 0 });
    expect(() => readCursor(dv, 4 << 20, 0x4, 0, 100)).toThrow(coded('ERR_BAD_CURSOR', /does not fit/));
    expect(() => readCursor(dv, 4 << 20, 0x4, (4 << 20) - 10, 100)).toThrow(coded('ERR_BAD_CURSOR', /needs 24/));
  });
});
