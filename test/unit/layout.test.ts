/**
 * The layout tables (src/lgmp/layout.ts, src/kvmfr/layout.ts) checked twice: against every offset,
 * size and constant of docs/protocol.md, transcribed here by hand, and against a C compiler's layout
 * of the same structs (test/fixtures/protocol-layout.c, declared with the field types of the
 * Looking Glass B7 headers), field by field. A change to the tables that breaks B7 compatibility
 * fails here, and so does a table entry the C program does not describe.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as lgmpLayout from '../../src/lgmp/layout.js';
import * as kvmfrLayout from '../../src/kvmfr/layout.js';
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

describe('LGMP v6 layout (docs/protocol.md: LGMP header, queue header, ring messages, client mailbox)', () => {
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

describe('KVMFR v20 layout (docs/protocol.md: KVMFR header and records, frames, cursor)', () => {
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

  it('sizing rule (docs/protocol.md#sizing)', () => {
    expect(regionSizeMiB(1920, 1080)).toBe(32);
    expect(regionSizeMiB(2560, 1440)).toBe(64);
    expect(regionSizeMiB(3840, 2160)).toBe(128);
    expect(regionSizeMiB(1920, 1080, true)).toBe(64);
    expect(regionSizeMiB(3840, 2160, true)).toBe(256);
  });
});

// ---- The same tables against a C compiler's layout of the structs ----

/** What test/fixtures/protocol-layout.c prints: per table, fields as {offset, size}, constants as values. */
type CField = { offset: number; size: number };
type CTable = Record<string, CField | number | string>;

const FIXTURE = fileURLToPath(new URL('../fixtures/protocol-layout.c', import.meta.url));
const CC = process.env.CC || 'cc';

/** Why the C comparison cannot run here, or null. Only a missing compiler skips it; a broken one fails. */
function missingCompiler(): string | null {
  const r = spawnSync(CC, ['--version'], { stdio: 'ignore' });
  const code = (r.error as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ENOENT' ? `no C compiler (${CC}) on this machine; install gcc or set CC to run it` : null;
}
const skipReason = missingCompiler();
if (skipReason) console.warn(`layout.test.ts: the comparison with the C layout is skipped: ${skipReason}`);

/** Every table and value the two layout modules export. */
const TS_EXPORTS: Record<string, unknown> = { ...lgmpLayout, ...kvmfrLayout };
const TS_TABLES = Object.entries(TS_EXPORTS).filter(([, v]) => typeof v === 'object' && v !== null) as [string, Record<string, unknown>][];
/** Exported numbers, compared with the C program's `scalars` table. */
const TS_SCALARS = Object.fromEntries(Object.entries(TS_EXPORTS).filter(([, v]) => typeof v === 'number'));
/** Exported helpers, each compared with the C table of the same name: argument → result. */
const TS_HELPERS = { queueOffset: lgmpLayout.queueOffset, align4: lgmpLayout.align4, firstFreeOffset: lgmpLayout.firstFreeOffset };

/** One line per difference between a TS table and the C program's table of the same name. */
function differences(name: string, ts: Record<string, unknown>, c: CTable | undefined): string[] {
  if (!c) return [`${name}: the C program has no such table (describe it in test/fixtures/protocol-layout.c)`];
  const out: string[] = [];
  for (const [key, value] of Object.entries(ts)) {
    const cv = c[key];
    if (cv === undefined) out.push(`${name}.${key} = ${value}: unknown to the C program (add it to test/fixtures/protocol-layout.c)`);
    else if (typeof cv === 'object' ? value !== cv.offset : value !== cv) {
      out.push(`${name}.${key}: ${value} in the TS table, ${typeof cv === 'object' ? `offset ${cv.offset} (a ${cv.size}-byte field)` : cv} in C`);
    }
  }
  for (const key of Object.keys(c)) if (!(key in ts)) out.push(`${name}.${key}: in the C program, missing from the TS table`);
  return out;
}

describe.skipIf(skipReason !== null)('layout tables against the C compiler (test/fixtures/protocol-layout.c)', () => {
  let dir = '';
  let c: Record<string, CTable> = {};

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'glasspane-layout-'));
    const exe = join(dir, 'protocol-layout');
    execFileSync(CC, ['-std=gnu11', '-Wall', '-Wextra', '-o', exe, FIXTURE], { stdio: ['ignore', 'inherit', 'inherit'] });
    c = JSON.parse(execFileSync(exe, { encoding: 'utf8' })) as Record<string, CTable>;
  });
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it.each(TS_TABLES)('%s: every entry equals the compiler\'s', (name, table) => {
    expect(differences(name, table, c[name])).toEqual([]);
  });

  it('exported numbers (MAX_CURSOR_BYTES …)', () => {
    expect(differences('scalars', TS_SCALARS, c.scalars as CTable)).toEqual([]);
  });

  it('layout helpers: queue offsets, 4-byte rounding, the first free byte', () => {
    const out: string[] = [];
    for (const [name, fn] of Object.entries(TS_HELPERS)) {
      const table = c[name];
      if (!table || !Object.keys(table).length) out.push(`${name}: the C program has no cases for it`);
      else for (const [arg, want] of Object.entries(table)) if (fn(Number(arg)) !== want) out.push(`${name}(${arg}) = ${fn(Number(arg))}, C says ${want}`);
    }
    expect(out).toEqual([]);
  });

  it('nothing is exported or printed that the other side does not know', () => {
    const unchecked = Object.entries(TS_EXPORTS)
      .filter(([name, v]) => !(typeof v === 'object' && v !== null) && typeof v !== 'number' && !(name in TS_HELPERS))
      .map(([name]) => `${name}: exported by a layout module but not compared with C (add it to this test and the C program)`);
    const known = new Set([...TS_TABLES.map(([n]) => n), 'scalars', ...Object.keys(TS_HELPERS)]);
    const extra = Object.keys(c)
      .filter((n) => !known.has(n))
      .map((n) => `${n}: printed by the C program, exported by neither layout module`);
    // The two modules are compared as one namespace: a name in both would hide one of them.
    const clashes = Object.keys(lgmpLayout)
      .filter((n) => n in kvmfrLayout)
      .map((n) => `${n}: exported by both layout modules`);
    expect([...unchecked, ...extra, ...clashes]).toEqual([]);
  });
});
