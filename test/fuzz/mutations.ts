/**
 * What the fuzzer does to the region: every field of every structure a consumer reads (LGMP
 * header, both queue headers, every ring slot, the KVMFR header and records, the frame struct and
 * its write pointer, the cursor struct and its message flags) set to boundary and random values;
 * random byte flips; whole-region garbage; and producer events (restart in the middle of a frame,
 * heartbeat stall, truncation, deletion and re-creation of the file).
 *
 * A mutation is plain data (`MutationSpec`, JSON for the regression file) turned into a tamper
 * hook (`tamperFor`) that the stub calls at the phases the mutation names.
 */
import { closeSync, openSync, renameSync, truncateSync, writeFileSync } from 'node:fs';
import type { TamperContext, TamperPhase } from '../../guest-stub/tamper.js';
import { HEADER, MESSAGE, QUEUE } from '../../src/lgmp/layout.js';
import { CURSOR, FRAME, FRAMEBUFFER, KVMFR_HEADER, RECORD } from '../../src/kvmfr/layout.js';

/** A small, seedable PRNG (mulberry32): the same seed gives the same sequence of cases. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Values a field is set to: boundaries, off-by-one around what was there, near the region end, random. */
export const VALUE_KINDS = ['zero', 'max', 'int-max', 'int-min', 'plus-one', 'minus-one', 'region-end', 'region-end-minus', 'random'] as const;
export type ValueKind = (typeof VALUE_KINDS)[number];

export type MutationSpec =
  | { kind: 'field'; struct: string; field: string; width: 1 | 2 | 4 | 8; value: ValueKind; random: number }
  | { kind: 'flip'; struct: string; flips: number; random: number }
  | { kind: 'garbage'; random: number }
  | { kind: 'event'; event: 'restart-mid-frame' | 'heartbeat-stall' | 'truncate' | 'truncate-small' | 'recreate' | 'wp-stall' };

/** Where a structure is in the current session, and at which phases a consumer can see it spoiled. */
interface Struct {
  phases: TamperPhase[];
  /** Region offset of the structure (undefined: not applicable at this moment). */
  at(ctx: TamperContext): number | undefined;
  /** Bytes the structure spans (for byte flips). */
  size(ctx: TamperContext): number;
  fields: Record<string, { offset: number; width: 1 | 2 | 4 | 8 }>;
}


const u32 = (offset: number) => ({ offset, width: 4 as const });
const u64 = (offset: number) => ({ offset, width: 8 as const });

function queueStruct(which: 'frameQueue' | 'pointerQueue'): Struct {
  const fields: Struct['fields'] = {};
  for (const [name, off] of Object.entries(QUEUE)) {
    if (name === 'SIZE' || name === 'timeout' || name === 'clientID' || name === 'cMsgs') continue;
    fields[name] = name === 'subs' || name === 'msgTimeout' ? u64(off) : u32(off);
  }
  for (let i = 0; i < 2; i++) {
    fields[`timeout${i}`] = u64(QUEUE.timeout + i * 8);
    fields[`clientID${i}`] = u32(QUEUE.clientID + i * 4);
  }
  fields.cMsg0size = u32(QUEUE.cMsgs);
  return { phases: ['tick-end', 'frame', 'frame-posted', 'cursor-posted'], at: (c) => c.layout[which].hq, size: () => QUEUE.SIZE, fields };
}

function ringStruct(which: 'frameQueue' | 'pointerQueue', slot: number): Struct {
  const fields: Struct['fields'] = {};
  for (const name of ['udata', 'size', 'offset', 'pendingSubs'] as const) fields[name] = u32(MESSAGE[name]);
  return {
    phases: which === 'frameQueue' ? ['frame-posted', 'frame-written'] : ['cursor-posted', 'tick-end'],
    at: (c) => (slot < c.layout[which].numMessages ? c.layout[which].messagesOffset + slot * MESSAGE.SIZE : undefined),
    size: () => MESSAGE.SIZE,
    fields,
  };
}

const frameFields: Struct['fields'] = {};
for (const [name, off] of Object.entries(FRAME)) {
  if (name === 'SIZE' || name === 'DAMAGE_RECT_SIZE' || name === 'damageRects') continue;
  frameFields[name] = u32(off);
}
for (let i = 0; i < 2; i++) for (const [k, d] of [['x', 0], ['y', 4], ['w', 8], ['h', 12]] as const) frameFields[`damage${i}${k}`] = u32(FRAME.damageRects + i * FRAME.DAMAGE_RECT_SIZE + d);

export const STRUCTS: Record<string, Struct> = {
  lgmpHeader: {
    phases: ['tick-end', 'frame'],
    at: () => 0,
    size: () => HEADER.udata,
    fields: { magic: u32(HEADER.magic), version: u32(HEADER.version), sessionID: u32(HEADER.sessionID), timestamp: u64(HEADER.timestamp), numQueues: u32(HEADER.numQueues), udataSize: u32(HEADER.udataSize) },
  },
  kvmfrHeader: {
    phases: ['tick-end'],
    at: (c) => c.layout.udataOffset,
    size: (c) => c.layout.udataSize,
    fields: {
      magic: u32(KVMFR_HEADER.magic),
      magic2: u32(KVMFR_HEADER.magic + 4),
      version: u32(KVMFR_HEADER.version),
      hostver: u32(KVMFR_HEADER.hostver),
      features: u32(KVMFR_HEADER.features),
      record0type: { offset: KVMFR_HEADER.SIZE + RECORD.type, width: 1 },
      record0size: u32(KVMFR_HEADER.SIZE + RECORD.size),
    },
  },
  frameQueue: queueStruct('frameQueue'),
  pointerQueue: queueStruct('pointerQueue'),
  frameRing0: ringStruct('frameQueue', 0),
  frameRing1: ringStruct('frameQueue', 1),
  frameRing2: ringStruct('frameQueue', 2),
  pointerRing0: ringStruct('pointerQueue', 0),
  frame: { phases: ['frame'], at: (c) => c.slot?.offset, size: () => FRAME.SIZE, fields: frameFields },
  frameBuffer: {
    phases: ['frame-posted', 'frame-written'],
    // wp sits at the FrameBuffer offset the stub writes once per session (page-aligned pixels).
    at: (c) => (c.slot ? c.slot.offset + c.region.load32(c.slot.offset + FRAME.offset) : undefined),
    size: () => 4096,
    fields: { wp: u32(FRAMEBUFFER.wp) },
  },
  cursor: {
    phases: ['cursor'],
    at: (c) => c.slot?.offset,
    size: () => CURSOR.SIZE,
    fields: {
      x: { offset: CURSOR.x, width: 2 },
      y: { offset: CURSOR.y, width: 2 },
      type: u32(CURSOR.type),
      hx: { offset: CURSOR.hx, width: 1 },
      hy: { offset: CURSOR.hy, width: 1 },
      width: u32(CURSOR.width),
      height: u32(CURSOR.height),
      pitch: u32(CURSOR.pitch),
    },
  },
};

/** Every field mutation, flip and event, for replaying them all or drawing from them. */
export function allSpecs(random: () => number): MutationSpec[] {
  const out: MutationSpec[] = [];
  for (const [struct, s] of Object.entries(STRUCTS)) {
    for (const [field, f] of Object.entries(s.fields)) for (const value of VALUE_KINDS) out.push({ kind: 'field', struct, field, width: f.width, value, random: Math.floor(random() * 2 ** 32) });
    out.push({ kind: 'flip', struct, flips: 1 + Math.floor(random() * 8), random: Math.floor(random() * 2 ** 32) });
  }
  out.push({ kind: 'garbage', random: Math.floor(random() * 2 ** 32) });
  for (const event of ['restart-mid-frame', 'heartbeat-stall', 'truncate', 'truncate-small', 'recreate', 'wp-stall'] as const) out.push({ kind: 'event', event });
  return out;
}

/** Draws one case: mostly field mutations, some flips and garbage, a few (slow) producer events. */
export function drawSpec(random: () => number, fields: MutationSpec[]): MutationSpec {
  const r = random();
  const seed = Math.floor(random() * 2 ** 32);
  if (r < 0.8) return { ...(fields[Math.floor(random() * fields.length)] as Extract<MutationSpec, { kind: 'field' }>), random: seed };
  if (r < 0.92) {
    const names = Object.keys(STRUCTS);
    return { kind: 'flip', struct: names[Math.floor(random() * names.length)]!, flips: 1 + Math.floor(random() * 8), random: seed };
  }
  if (r < 0.96) return { kind: 'garbage', random: seed };
  const events = ['restart-mid-frame', 'heartbeat-stall', 'truncate', 'truncate-small', 'recreate', 'wp-stall'] as const;
  return { kind: 'event', event: events[Math.floor(random() * events.length)]! };
}

export function describeSpec(s: MutationSpec): string {
  switch (s.kind) {
    case 'field':
      return `${s.struct}.${s.field} = ${s.value}`;
    case 'flip':
      return `${s.flips} byte flips in ${s.struct}`;
    case 'garbage':
      return 'garbage over the header, queues and rings';
    case 'event':
      return s.event;
  }
}

function valueFor(kind: ValueKind, width: 1 | 2 | 4 | 8, current: bigint, regionBytes: number, random: () => number): bigint {
  const bits = BigInt(width * 8);
  const mask = (1n << bits) - 1n;
  const v = (() => {
    switch (kind) {
      case 'zero':
        return 0n;
      case 'max':
        return mask;
      case 'int-max':
        return mask >> 1n;
      case 'int-min':
        return 1n << (bits - 1n);
      case 'plus-one':
        return current + 1n;
      case 'minus-one':
        return current - 1n;
      case 'region-end':
        return BigInt(regionBytes);
      case 'region-end-minus':
        return BigInt(regionBytes - [1, 4, 16, FRAME.SIZE, 4096][Math.floor(random() * 5)]!);
      case 'random':
        return (BigInt(Math.floor(random() * 2 ** 32)) << 32n) | BigInt(Math.floor(random() * 2 ** 32));
    }
  })();
  return ((v % (mask + 1n)) + (mask + 1n)) & mask;
}

function readField(region: TamperContext['region'], at: number, width: number): bigint {
  const dv = new DataView(region.buffer);
  switch (width) {
    case 1:
      return BigInt(dv.getUint8(at));
    case 2:
      return BigInt(dv.getUint16(at, true));
    case 4:
      return BigInt(region.load32(at));
    default:
      return region.load64(at);
  }
}

function writeField(region: TamperContext['region'], at: number, width: number, v: bigint): void {
  const dv = new DataView(region.buffer);
  if (width === 1) dv.setUint8(at, Number(v));
  else if (width === 2) dv.setUint16(at, Number(v), true);
  else if (width === 4) region.store32(at, Number(v));
  else region.store64(at, v);
}

/** What the driver needs to run one case. */
export interface ActiveMutation {
  tamper(ctx: TamperContext): void | 'skip';
  /** Called once when the case starts (events that act on the file). */
  start?(): void;
  /** How long the case lasts (ms). */
  durationMs: number;
}

/** A case of `caseMs` that calls `spoil` with the structure's offset at every phase it is visible in. */
function spoilStruct(s: Struct, caseMs: number, spoil: (base: number, ctx: TamperContext) => void): ActiveMutation {
  return {
    durationMs: caseMs,
    tamper(ctx) {
      const base = s.phases.includes(ctx.phase) ? s.at(ctx) : undefined;
      if (base !== undefined) spoil(base, ctx);
    },
  };
}

/**
 * Turns a spec into a tamper hook. The fields are set at every phase the structure is visible in,
 * for the whole case, so the consumer meets the spoiled value however its reads fall.
 */
export function tamperFor(spec: MutationSpec, shmPath: string, caseMs: number): ActiveMutation {
  switch (spec.kind) {
    case 'field': {
      const s = STRUCTS[spec.struct]!;
      const f = s.fields[spec.field]!;
      const random = prng(spec.random);
      return spoilStruct(s, caseMs, (base, ctx) => {
        const at = base + f.offset;
        if (at + f.width > ctx.region.byteLength || (f.width >= 4 && at % f.width)) return;
        writeField(ctx.region, at, f.width, valueFor(spec.value, f.width, readField(ctx.region, at, f.width), ctx.layout.regionBytes, random));
      });
    }
    case 'flip': {
      const s = STRUCTS[spec.struct]!;
      const random = prng(spec.random);
      return spoilStruct(s, caseMs, (base, ctx) => {
        const bytes = new Uint8Array(ctx.region.buffer);
        const size = Math.max(1, Math.min(s.size(ctx), ctx.region.byteLength - base));
        for (let i = 0; i < spec.flips; i++) bytes[base + Math.floor(random() * size)]! ^= 1 << Math.floor(random() * 8);
      });
    }
    case 'garbage': {
      const random = prng(spec.random);
      return {
        durationMs: caseMs,
        tamper(ctx) {
          if (ctx.phase !== 'tick-end' && ctx.phase !== 'frame-posted') return;
          // Everything a consumer parses lives in the first pages: header, queues, rings, cursors.
          const n = Math.min(ctx.region.byteLength, 64 << 10);
          const words = new Uint32Array(ctx.region.buffer, 0, n / 4);
          for (let i = 0; i < words.length; i++) words[i] = Math.floor(random() * 2 ** 32);
        },
      };
    }
    case 'event':
      return eventMutation(spec.event, shmPath, caseMs);
  }
}

function eventMutation(event: Extract<MutationSpec, { kind: 'event' }>['event'], shmPath: string, caseMs: number): ActiveMutation {
  switch (event) {
    case 'restart-mid-frame': {
      let done = false;
      return {
        durationMs: caseMs,
        // Spoils the wp so the consumer waits inside its copy, then a new session starts under it.
        tamper(ctx) {
          if (ctx.phase === 'frame-written' && ctx.slot && !done) {
            done = true;
            ctx.region.store32(ctx.slot.offset + ctx.region.load32(ctx.slot.offset + FRAME.offset), 64);
          }
        },
      };
    }
    case 'wp-stall':
      return {
        durationMs: caseMs,
        tamper(ctx) {
          if (ctx.phase === 'frame-written' && ctx.slot) ctx.region.store32(ctx.slot.offset + ctx.region.load32(ctx.slot.offset + FRAME.offset), 4);
        },
      };
    case 'heartbeat-stall':
      // Longer than LGMP's 1 s heartbeat timeout: the consumer must declare the producer gone.
      return { durationMs: 1300, tamper: (ctx) => (ctx.phase === 'tick-start' ? 'skip' : undefined) };
    case 'truncate':
    case 'truncate-small':
      return { durationMs: caseMs, tamper: () => undefined, start: () => truncateSync(shmPath, event === 'truncate' ? 0 : 4096) };
    case 'recreate':
      return {
        durationMs: caseMs,
        tamper: () => undefined,
        // A host script making the region anew: a new file (new inode) at the same path.
        start() {
          const tmp = `${shmPath}.new`;
          writeFileSync(tmp, '');
          const fd = openSync(tmp, 'r+');
          closeSync(fd);
          truncateSync(tmp, 8 << 20);
          renameSync(tmp, shmPath);
        },
      };
  }
}
