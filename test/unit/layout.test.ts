/**
 * glasspane's layout tables (src/lgmp/layout.ts, src/kvmfr/layout.ts) and docs/protocol.md
 * against the facts of Looking Glass B7's headers, transcribed with their file and line in
 * test/fixtures/b7-layout.ts (not from our docs or code). Three checks:
 * - a C compiler lays out structs declared from those rows, so an offset miscounted there fails;
 * - every entry of every exported table (and every constant and helper) equals what the facts
 *   say, and nothing is exported unchecked;
 * - every offset, size and struct size docs/protocol.md states equals the facts.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as lgmpLayout from '../../src/lgmp/layout.js';
import * as kvmfrLayout from '../../src/kvmfr/layout.js';
import { regionSizeMiB } from '../../src/kvmfr/sizing.js';
import { CONSTANTS, FIRST_FREE_AT, SOURCES, STRUCTS, type At, type CType, type FieldFact, type StructFact } from '../fixtures/b7-layout.js';
import { ROOT } from '../support/helpers.js';
import { needs } from '../support/system.js';

const cite = ([file, line]: At) => `${SOURCES[file]}:${line}`;
const struct = (name: string): StructFact => STRUCTS.find((s) => s.name === name) ?? expect.unreachable(`no struct ${name} in the facts`);
const field = (s: string, name: string): FieldFact => struct(s).fields.find((x) => x.name === name) ?? expect.unreachable(`no field ${s}.${name} in the facts`);
const off = (s: string, name: string) => field(s, name).offset;
const k = (name: string) => (CONSTANTS[name] ?? expect.unreachable(`no constant ${name} in the facts`)).value;
/** Every field's offset, by name, plus the struct's sizeof as SIZE. */
const offsets = (s: string, withSize = true): Record<string, number> => ({
  ...Object.fromEntries(struct(s).fields.map((x) => [x.name, x.offset])),
  ...(withSize ? { SIZE: struct(s).size } : {}),
});
const align = (n: number) => Math.ceil(n / (k('LGMP_ALIGN') as number)) * (k('LGMP_ALIGN') as number);

/**
 * What every export of the two layout modules must be, from the facts. A new export without an
 * entry here fails the last test: the tables are checked against B7, never against themselves.
 */
const EXPECTED: Record<string, unknown> = {
  LGMP: {
    MAGIC: k('LGMP_PROTOCOL_MAGIC'),
    VERSION: k('LGMP_PROTOCOL_VERSION'),
    MAX_QUEUES: k('LGMP_MAX_QUEUES'),
    MAX_SUBS: k('LGMP_SUBSCRIBERS'),
    MSGS_MAX: k('LGMP_MSGS_MAX'),
    MSGS_SIZE: k('LGMP_MSGS_SIZE'),
    HEARTBEAT_TIMEOUT_MS: k('LGMP_HEARTBEAT_TIMEOUT'),
  },
  HEADER: offsets('LGMPHeader'),
  QUEUE: offsets('LGMPHeaderQueue'),
  CLIENT_MSG: offsets('LGMPClientMessage'),
  MESSAGE: offsets('LGMPHeaderMessage'),
  KVMFR: {
    MAGIC: k('KVMFR_MAGIC'),
    VERSION: k('KVMFR_VERSION'),
    MAX_DAMAGE_RECTS: k('KVMFR_MAX_DAMAGE_RECTS'),
    QUEUE_POINTER: k('LGMP_Q_POINTER'),
    QUEUE_FRAME: k('LGMP_Q_FRAME'),
    FRAME_QUEUE_LEN: k('LGMP_Q_FRAME_LEN'),
    POINTER_QUEUE_LEN: k('LGMP_Q_POINTER_LEN'),
    SUB_TIMEOUT_MS: k('FRAME_QUEUE_SUB_TIMEOUT'),
    POINTER_SHAPE_BUFFERS: k('POINTER_SHAPE_BUFFERS'),
    MAX_CURSOR_DIM: k('MAX_POINTER_SIDE'),
    FEATURE_SETCURSORPOS: k('KVMFR_FEATURE_SETCURSORPOS'),
    MESSAGE_SETCURSORPOS: k('KVMFR_MESSAGE_SETCURSORPOS'),
  },
  KVMFR_HEADER: { ...offsets('KVMFR'), HOSTVER_LEN: field('KVMFR', 'hostver').size },
  RECORD: { ...offsets('KVMFRRecord', false), HEADER_SIZE: struct('KVMFRRecord').size },
  RecordType: { VMINFO: k('KVMFR_RECORD_VMINFO'), OSINFO: k('KVMFR_RECORD_OSINFO') },
  VMINFO: { ...offsets('KVMFRRecord_VMInfo', false), UUID_LEN: field('KVMFRRecord_VMInfo', 'uuid').size, CAPTURE_LEN: field('KVMFRRecord_VMInfo', 'capture').size },
  OSINFO: offsets('KVMFRRecord_OSInfo', false),
  OsType: { LINUX: k('KVMFR_OS_LINUX'), BSD: k('KVMFR_OS_BSD'), MACOS: k('KVMFR_OS_OSX'), WINDOWS: k('KVMFR_OS_WINDOWS'), OTHER: k('KVMFR_OS_OTHER') },
  FRAME: { ...offsets('KVMFRFrame'), DAMAGE_RECT_SIZE: struct('FrameDamageRect').size },
  FRAMEBUFFER: offsets('FrameBuffer', false),
  FrameFlags: {
    BLOCK_SCREENSAVER: k('FRAME_FLAG_BLOCK_SCREENSAVER'),
    REQUEST_ACTIVATION: k('FRAME_FLAG_REQUEST_ACTIVATION'),
    TRUNCATED: k('FRAME_FLAG_TRUNCATED'),
    HDR: k('FRAME_FLAG_HDR'),
    HDR_PQ: k('FRAME_FLAG_HDR_PQ'),
  },
  FrameType: Object.fromEntries(['INVALID', 'BGRA', 'RGBA', 'RGBA10', 'RGBA16F', 'BGR_32', 'RGB_24'].map((t) => [t, k(`FRAME_TYPE_${t}`)])),
  CURSOR: offsets('KVMFRCursor'),
  CursorType: { COLOR: k('CURSOR_TYPE_COLOR'), MONOCHROME: k('CURSOR_TYPE_MONOCHROME'), MASKED_COLOR: k('CURSOR_TYPE_MASKED_COLOR') },
  CursorFlags: { POSITION: k('CURSOR_FLAG_POSITION'), VISIBLE: k('CURSOR_FLAG_VISIBLE'), SHAPE: k('CURSOR_FLAG_SHAPE') },
  SETCURSORPOS: { type: off('KVMFRSetCursorPos', 'msg') + off('KVMFRMessage', 'type'), x: off('KVMFRSetCursorPos', 'x'), y: off('KVMFRSetCursorPos', 'y'), SIZE: struct('KVMFRSetCursorPos').size },
  MAX_CURSOR_BYTES: struct('KVMFRCursor').size + (k('MAX_POINTER_SIDE') as number) ** 2 * 4,
};

/** The helpers, each against the rule it implements, on a spread of arguments. */
const HELPERS: Record<string, { fn: (n: number) => number; want: (n: number) => number; args: number[]; rule: string }> = {
  queueOffset: { fn: lgmpLayout.queueOffset, want: (i) => off('LGMPHeader', 'queues') + i * struct('LGMPHeaderQueue').size, args: [0, 1, 4], rule: cite(field('LGMPHeader', 'queues').at) },
  align4: { fn: lgmpLayout.align4, want: align, args: [0, 1, 3, 4, 5, 5757, 5760], rule: cite(CONSTANTS.LGMP_ALIGN!.at) },
  firstFreeOffset: { fn: lgmpLayout.firstFreeOffset, want: (u) => align(struct('LGMPHeader').size + u), args: [0, 1, 48, 171, 4096], rule: cite(FIRST_FREE_AT) },
};

const EXPORTS: Record<string, unknown> = { ...lgmpLayout, ...kvmfrLayout };

describe('the layout tables against Looking Glass B7 (test/fixtures/b7-layout.ts)', () => {
  it.each(Object.keys(EXPECTED))('%s', (name) => {
    expect(EXPORTS[name], `${name} differs from B7's headers`).toEqual(EXPECTED[name]);
  });

  it('the helpers follow LGMP\'s rules', () => {
    const wrong = Object.entries(HELPERS).flatMap(([name, h]) => h.args.filter((a) => h.fn(a) !== h.want(a)).map((a) => `${name}(${a}) = ${h.fn(a)}, ${h.rule} gives ${h.want(a)}`));
    expect(wrong).toEqual([]);
  });

  it('every export is checked, and no name is exported by both modules', () => {
    const unchecked = Object.keys(EXPORTS).filter((n) => !(n in EXPECTED) && !(n in HELPERS));
    const clashes = Object.keys(lgmpLayout).filter((n) => n in kvmfrLayout);
    expect({ unchecked, clashes }).toEqual({ unchecked: [], clashes: [] });
  });

  it('sizing rule (docs/protocol.md#sizing)', () => {
    expect(regionSizeMiB(1920, 1080)).toBe(32);
    expect(regionSizeMiB(2560, 1440)).toBe(64);
    expect(regionSizeMiB(3840, 2160)).toBe(128);
    expect(regionSizeMiB(1920, 1080, true)).toBe(64);
    expect(regionSizeMiB(3840, 2160, true)).toBe(256);
  });
});

// ---- The facts against a C compiler: structs declared from the rows, offsets printed ----

const C_TYPES: Record<Exclude<CType, { struct: string }>, string> = {
  u8: 'uint8_t',
  i8: 'int8_t',
  char: 'char',
  i16: 'int16_t',
  u32: 'uint32_t',
  i32: 'int32_t',
  u64: 'uint64_t',
  enum: 'enum fact_enum',
};

/** A C program declaring every struct of the facts and printing each field's offset and size and each sizeof, as JSON. */
function cProgram(): string {
  const decl = (x: FieldFact) => {
    const base = typeof x.type === 'string' ? C_TYPES[x.type] : `struct ${x.type.struct}`;
    const type = x.atomic ? `_Atomic(${base})` : base;
    return `  ${type} ${x.name}${x.count === undefined ? '' : x.count === 0 ? '[]' : `[${x.count}]`};`;
  };
  const structs = STRUCTS.map((s) => `struct ${s.name} {\n${s.fields.map(decl).join('\n')}\n}${s.aligned4 ? ' __attribute__((aligned(4)))' : ''};`);
  const prints = STRUCTS.flatMap((s, i) => [
    `  printf("%s\\"${s.name}\\": {\\"sizeof\\": %zu", ${i ? '","' : '""'}, sizeof(struct ${s.name}));`,
    ...s.fields.map((x) => {
      const size = x.count === 0 ? '(size_t)0' : `sizeof(((struct ${s.name} *)0)->${x.name})`;
      return `  printf(", \\"${x.name}\\": [%zu, %zu]", offsetof(struct ${s.name}, ${x.name}), ${size});`;
    }),
    '  printf("}");',
  ]);
  return [
    '#include <stdatomic.h>',
    '#include <stddef.h>',
    '#include <stdint.h>',
    '#include <stdio.h>',
    '_Static_assert(sizeof(void *) == 8, "the format is laid out for LP64 (x86-64)");',
    'enum fact_enum { FACT_ENUM_ZERO };',
    ...structs,
    'int main(void) {',
    '  printf("{");',
    ...prints,
    '  printf("}\\n");',
    '  return 0;',
    '}',
    '',
  ].join('\n');
}

describe.skipIf(needs('cc'))('the facts against a C compiler', () => {
  let dir = '';
  let c: Record<string, Record<string, number | [number, number]>> = {};
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'glasspane-layout-'));
    writeFileSync(join(dir, 'b7-layout.c'), cProgram());
    execFileSync(process.env.CC || 'cc', ['-std=gnu11', '-Wall', '-Wextra', '-Werror', '-o', join(dir, 'b7-layout'), join(dir, 'b7-layout.c')], { stdio: ['ignore', 'inherit', 'inherit'] });
    c = JSON.parse(execFileSync(join(dir, 'b7-layout'), { encoding: 'utf8' })) as typeof c;
  });
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it.each(STRUCTS.map((s) => [s.name, s] as const))('%s: every offset and size, and sizeof', (_, s) => {
    const wrong = [
      ...(c[s.name]!.sizeof === s.size ? [] : [`sizeof: ${s.size} in the facts, ${String(c[s.name]!.sizeof)} by the compiler (${cite(s.at)})`]),
      ...s.fields.flatMap((x) => {
        const [offset, size] = c[s.name]![x.name] as [number, number];
        return offset === x.offset && size === x.size ? [] : [`${x.name}: offset ${x.offset}, size ${x.size} in the facts; ${offset}, ${size} by the compiler (${cite(x.at)})`];
      }),
    ];
    expect(wrong).toEqual([]);
  });
});

// ---- docs/protocol.md against the facts ----

/** The sections of docs/protocol.md whose field table describes a struct. */
const DOC_TABLES: Record<string, string> = {
  'LGMP header': 'LGMPHeader',
  'Queue header': 'LGMPHeaderQueue',
  'Ring messages': 'LGMPHeaderMessage',
  'KVMFR header and records': 'KVMFR',
  Frames: 'KVMFRFrame',
  Cursor: 'KVMFRCursor',
};

/** Each section of the page by its heading. */
function sections(md: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of md.split(/^## /m).slice(1)) out.set(part.slice(0, part.indexOf('\n')).trim(), part);
  return out;
}

/**
 * What a field table row says, against the facts: "| x, y | 0, 2 | 2 each | ..." is two fields;
 * a size is the field's ("8"), per element ("8 each"), or count x element ("5 x 1144"); tables
 * without a size column (Frames) state offsets only.
 */
function checkRow(structName: string, cells: string[], hasSize: boolean): string[] {
  const names = cells[0]!.split(',').map((n) => n.trim().replace(/\[\d+\]$/, ''));
  const offs = cells[1]!.split(',').map((o) => Number(o.trim()));
  const out: string[] = [];
  names.forEach((name, i) => {
    const fact = struct(structName).fields.find((x) => x.name === name);
    if (!fact) return void out.push(`${structName}: the page names a field ${name} that B7 does not have`);
    if (offs[i] !== fact.offset) out.push(`${structName}.${name}: offset ${offs[i]} on the page, ${fact.offset} in B7 (${cite(fact.at)})`);
    if (!hasSize) return;
    const size = cells[2]!.trim();
    const each = /^(\d+) each$/.exec(size);
    const times = /^(\d+) x (\d+)$/.exec(size);
    const stated = each ? Number(each[1]) * (fact.count || 1) : times ? Number(times[1]) * Number(times[2]) : /^\d+$/.test(size) ? Number(size) : null;
    if (stated === null) {
      if (fact.count !== 0) out.push(`${structName}.${name}: size "${size}" on the page, ${fact.size} in B7`);
    } else if (stated !== fact.size) out.push(`${structName}.${name}: size ${stated} on the page, ${fact.size} in B7 (${cite(fact.at)})`);
  });
  return out;
}

/** Fields written inline on the page as "`type name` @offset" (records, SETCURSORPOS). */
function inlineOffsets(text: string, structName: string, names: string[]): string[] {
  return names.flatMap((name) => {
    const m = new RegExp(`\`[^\`]*\\b${name}(?:\\[\\w+\\])?\`? @(\\d+)`).exec(text);
    const fact = struct(structName).fields.find((x) => x.name === name)!;
    if (!m) return [`${structName}.${name}: the page gives no "@offset" for it`];
    return Number(m[1]) === fact.offset ? [] : [`${structName}.${name}: @${m[1]} on the page, ${fact.offset} in B7 (${cite(fact.at)})`];
  });
}

describe('docs/protocol.md against the facts', () => {
  const md = readFileSync(join(ROOT, 'docs', 'protocol.md'), 'utf8');
  const bySection = sections(md);

  it.each(Object.entries(DOC_TABLES))('%s: every row of the field table, and the struct size', (section, structName) => {
    const text = bySection.get(section) ?? expect.unreachable(`docs/protocol.md has no section "${section}"`);
    const lines = text.split('\n').filter((l) => l.startsWith('| ') && !l.startsWith('| field') && !l.startsWith('|---'));
    const hasSize = /^\| field \| offset \| size \|/m.test(text);
    const wrong = lines.flatMap((l) => checkRow(structName, l.split('|').slice(1, -1), hasSize));
    const described = new Set(lines.flatMap((l) => l.split('|')[1]!.split(',').map((n) => n.trim().replace(/\[\d+\]$/, ''))));
    const missing = struct(structName).fields.filter((x) => !described.has(x.name)).map((x) => `${structName}.${x.name}: not on the page`);
    const sizeStated = new RegExp(`\`struct ${structName}\`, (\\d+) bytes`).exec(text)?.[1];
    const size = Number(sizeStated) === struct(structName).size ? [] : [`sizeof ${structName}: "${sizeStated ?? 'not stated'}" on the page, ${struct(structName).size} in B7 (${cite(struct(structName).at)})`];
    expect([...wrong, ...missing, ...size]).toEqual([]);
  });

  it('the records, SETCURSORPOS and the mailbox written inline', () => {
    const records = bySection.get('KVMFR header and records')!;
    const setCursor = bySection.get('SETCURSORPOS')!;
    const mailbox = bySection.get('Client mailbox')!;
    const wrong = [
      ...inlineOffsets(records, 'KVMFRRecord', ['type', 'size', 'data']),
      ...inlineOffsets(records, 'KVMFRRecord_VMInfo', ['uuid', 'capture', 'cpus', 'cores', 'sockets']),
      ...inlineOffsets(records, 'KVMFRRecord_OSInfo', ['os']),
      ...inlineOffsets(setCursor, 'KVMFRSetCursorPos', ['x', 'y']),
    ];
    expect(wrong).toEqual([]);
    expect(records).toContain(`(${struct('KVMFRRecord').size}-byte record header)`);
    expect(records).toContain(`**type ${k('KVMFR_RECORD_VMINFO')}, VMINFO** (${struct('KVMFRRecord_VMInfo').size} fixed bytes)`);
    expect(records).toContain(`**type ${k('KVMFR_RECORD_OSINFO')}, OSINFO** (${struct('KVMFRRecord_OSInfo').size} fixed byte)`);
    expect(setCursor).toContain(`(${struct('KVMFRSetCursorPos').size} bytes: \`type\` @0`);
    expect(mailbox).toContain(`(\`u32 size\` at ${off('LGMPClientMessage', 'size')}, \`u8 data[${k('LGMP_MSGS_SIZE')}]\` at ${off('LGMPClientMessage', 'data')}; ${struct('LGMPClientMessage').size} bytes)`);
  });

  it('the constants the page states', () => {
    const stated = [
      [`\`0x${(k('LGMP_PROTOCOL_MAGIC') as number).toString(16)}\`, the bytes "LGMP"`, 'LGMP_PROTOCOL_MAGIC'],
      [`| version | ${off('LGMPHeader', 'version')} | 4 | ${k('LGMP_PROTOCOL_VERSION')} |`, 'LGMP_PROTOCOL_VERSION'],
      [`| version | ${off('KVMFR', 'version')} | 4 | ${k('KVMFR_VERSION')} |`, 'KVMFR_VERSION'],
      [`\`${k('KVMFR_MAGIC')}\` (no NUL)`, 'KVMFR_MAGIC'],
      [`The frame queue has ID ${k('LGMP_Q_FRAME')} and length ${k('LGMP_Q_FRAME_LEN')}`, 'LGMP_Q_FRAME'],
      [`The pointer queue has ID ${k('LGMP_Q_POINTER')} and length ${k('LGMP_Q_POINTER_LEN')}`, 'LGMP_Q_POINTER'],
      [`A queue has ${k('LGMP_SUBSCRIBERS')} slots`, 'LGMP_SUBSCRIBERS'],
      [`${k('POINTER_SHAPE_BUFFERS')} shape buffers of \`${struct('KVMFRCursor').size} + ${k('MAX_POINTER_SIDE')}*${k('MAX_POINTER_SIDE')}*4\` bytes`, 'POINTER_SHAPE_BUFFERS'],
      [`for more than ${k('LGMP_HEARTBEAT_TIMEOUT')} ms of the consumer's own clock`, 'LGMP_HEARTBEAT_TIMEOUT'],
      [`\`ALIGN${k('LGMP_ALIGN')}(${struct('LGMPHeader').size} + udataSize)\``, 'LGMP_ALIGN'],
    ] as const;
    const missing = stated.filter(([text]) => !md.includes(text)).map(([text, name]) => `the page should say "${text}" (${cite(CONSTANTS[name]!.at)})`);
    expect(missing).toEqual([]);
  });
});
