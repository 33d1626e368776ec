/**
 * What the hostile SPICE server does in one fuzz case, as plain data (JSON for the regression
 * file), and how cases are drawn:
 * - `field`: one field of one message (wire.ts) set to a boundary or random value; `setup` cases
 *   spoil the next session's handshake or set-up messages, `inject` cases send the message into a
 *   running session;
 * - `header`: a message whose mini header lies about its type or size;
 * - `flood`: a message (or pair) sent as fast as the socket takes it for a while, the server reading
 *   or not reading what the client answers; the clipboard cases (an 8 MiB clipboard, a GRAB loop,
 *   agent flapping) and the audio START/STOP flood are floods too;
 * - `fragment`: a whole session set up one byte (or a few) per write;
 * - `slowloris`, `silence`, `reset`, `garbage`: at one stage of the link or session, the server
 *   trickles, stops, drops the connection (RST or FIN), or sends random bytes.
 * Which cases a target can meet: `send` links main and inputs only, the viewer every channel.
 */
import { MESSAGES, type Chan, type Width } from './wire.js';

/** Values a numeric field is set to: boundaries, off by one from the clean value, random. */
export const NUMBER_VALUES = ['zero', 'one', 'max', 'max-minus-one', 'half', 'plus-one', 'minus-one', 'small', 'big', 'random'] as const;
/** What a bytes field becomes: empty, cut, lengthened, random of the same length, 64 KiB, zeros. */
export const BYTES_VALUES = ['empty', 'cut', 'longer', 'random', 'huge', 'zeros'] as const;
export type NumberValue = (typeof NUMBER_VALUES)[number];
export type BytesValue = (typeof BYTES_VALUES)[number];

/** Where in a connection's life a stage-bound case strikes. */
export const STAGES = ['accept', 'link-reply', 'auth', 'main-init', 'main-list', 'inputs-link', 'inputs-init', 'playback-link', 'record-link', 'up-main', 'up-inputs', 'up-playback', 'up-record'] as const;
export type Stage = (typeof STAGES)[number];

/** Floods: what is sent, as fast as the socket takes it. */
export const FLOODS = ['ping', 'big-ping', 'set-ack', 'notify', 'led', 'mouse-mode', 'name', 'agent-flap', 'grab-loop', 'request-loop', 'big-clipboard', 'agent-junk', 'unknown-type', 'start-stop', 'record-start-stop', 'playback-data', 'volume', 'motion-ack-starve', 'disconnecting'] as const;
export type Flood = (typeof FLOODS)[number];

/** Header lies. */
export const HEADER_LIES = ['type', 'size-minus-one', 'size-plus-one', 'size-zero', 'size-over-limit', 'size-max'] as const;
export type HeaderLie = (typeof HEADER_LIES)[number];

/** One fuzz case (see the module comment). `random` seeds whatever the case draws while it runs. */
export type SpiceCase =
  | { kind: 'field'; msg: string; chan: Chan; field: string; value: NumberValue | BytesValue; when: 'setup' | 'inject'; random: number }
  | { kind: 'header'; msg: string; chan: Chan; lie: HeaderLie; random: number }
  | { kind: 'flood'; flood: Flood; read: boolean; ms: number; random: number }
  | { kind: 'fragment'; split: 'byte' | 'random'; random: number }
  | { kind: 'slowloris' | 'silence' | 'garbage'; stage: Stage; random: number }
  | { kind: 'reset'; stage: Stage; how: 'rst' | 'fin'; random: number };

/** Who runs a case: the long-running viewer or a `glasspane send` run. */
export type Target = 'viewer' | 'send';

/** A case for the regression file: the target and the case. */
export interface CaseRecord {
  target: Target;
  spec: SpiceCase;
}

/** Messages that are part of setting a session up (a `setup` case spoils them in the next session). */
const SETUP_MESSAGES = new Set(['link.header', 'link.body', 'link.auth', 'main.init', 'main.channels_list', 'main.name', 'main.uuid', 'inputs.init', 'playback.start', 'record.start']);

const pick = <T>(r: () => number, list: readonly T[]): T => list[Math.floor(r() * list.length)]!;

/** The channels a target links. */
function channelsOf(target: Target): Chan[] {
  return target === 'send' ? ['main', 'inputs'] : ['main', 'inputs', 'playback', 'record'];
}

/** Draws one case for `target` from the whole catalogue (fields weigh most: there are most of them). */
export function drawCase(r: () => number, target: Target): SpiceCase {
  const chans = channelsOf(target);
  const random = Math.floor(r() * 2 ** 32);
  const roll = r();
  if (roll < 0.5) {
    const names = Object.keys(MESSAGES).filter((n) => {
      const c = MESSAGES[n]!.chan;
      if (target === 'send' && (n.startsWith('agent.') || n.startsWith('main.agent'))) return false;
      return c === 'link' || chans.includes(c);
    });
    const msg = pick(r, names);
    const layout = MESSAGES[msg]!;
    const [field, width] = pick(r, layout.fields) as [string, Width];
    const value = width === 'bytes' ? pick(r, BYTES_VALUES) : pick(r, NUMBER_VALUES);
    // Link and common messages go to any channel; the others to their own.
    const chan = layout.chan === 'link' || msg.startsWith('common.') ? pick(r, chans) : layout.chan;
    const when = layout.chan === 'link' ? 'setup' : SETUP_MESSAGES.has(msg) && r() < 0.5 ? 'setup' : 'inject';
    return { kind: 'field', msg, chan, field, value, when, random };
  }
  if (roll < 0.6) {
    const names = Object.keys(MESSAGES).filter((n) => MESSAGES[n]!.type >= 0 && (n.startsWith('common.') || chans.includes(MESSAGES[n]!.chan as Chan)) && !(target === 'send' && n.startsWith('agent.')));
    const msg = pick(r, names);
    const chan = msg.startsWith('common.') ? pick(r, chans) : (MESSAGES[msg]!.chan as Chan);
    return { kind: 'header', msg, chan, lie: pick(r, HEADER_LIES), random };
  }
  if (roll < 0.8) {
    const floods = FLOODS.filter((f) => target === 'viewer' || !['agent-flap', 'grab-loop', 'request-loop', 'big-clipboard', 'agent-junk', 'start-stop', 'record-start-stop', 'playback-data', 'volume'].includes(f));
    return { kind: 'flood', flood: pick(r, floods), read: r() < 0.5, ms: 300 + Math.floor(r() * 900), random };
  }
  if (roll < 0.85) return { kind: 'fragment', split: r() < 0.5 ? 'byte' : 'random', random };
  const stages = STAGES.filter((s) => target === 'viewer' || !/playback|record/.test(s));
  const stage = pick(r, stages);
  const k = pick(r, ['slowloris', 'silence', 'garbage', 'reset', 'reset'] as const);
  if (k === 'reset') return { kind: 'reset', stage, how: r() < 0.5 ? 'rst' : 'fin', random };
  return { kind: k, stage, random };
}

/** One line naming a case, for logs and failure reports. */
export function describeCase(s: SpiceCase): string {
  switch (s.kind) {
    case 'field':
      return `${s.when} ${s.msg}.${s.field} = ${s.value}${s.msg.startsWith('link.') || s.msg.startsWith('common.') ? ` on ${s.chan}` : ''}`;
    case 'header':
      return `${s.msg} on ${s.chan} with header ${s.lie}`;
    case 'flood':
      return `flood ${s.flood} for ${s.ms} ms (server ${s.read ? 'reads' : 'does not read'})`;
    case 'fragment':
      return `session set up ${s.split === 'byte' ? 'one byte' : 'a few bytes'} per write`;
    case 'reset':
      return `${s.how === 'rst' ? 'RST' : 'FIN'} at ${s.stage}`;
    default:
      return `${s.kind} at ${s.stage}`;
  }
}

/** The value a numeric field of `width` bytes gets for `v`, given its clean value. */
export function numberValue(v: NumberValue, width: 1 | 2 | 4 | 8, clean: number | bigint, r: () => number): bigint {
  const bits = BigInt(8 * width);
  const max = (1n << bits) - 1n;
  const c = BigInt(clean);
  switch (v) {
    case 'zero':
      return 0n;
    case 'one':
      return 1n;
    case 'max':
      return max;
    case 'max-minus-one':
      return max - 1n;
    case 'half':
      return 1n << (bits - 1n);
    case 'plus-one':
      return (c + 1n) & max;
    case 'minus-one':
      return (c - 1n) & max;
    case 'small':
      return BigInt(Math.floor(r() * 256)) & max;
    case 'big':
      return BigInt(1 << 20) & max;
    case 'random':
      return BigInt(Math.floor(r() * 2 ** 32)) * (width === 8 ? BigInt(Math.floor(r() * 2 ** 32)) : 1n) & max;
  }
}

/** The bytes a bytes field gets for `v`, given its clean value. */
export function bytesValue(v: BytesValue, clean: Buffer, r: () => number): Buffer {
  const rand = (n: number) => Buffer.from(Array.from({ length: n }, () => Math.floor(r() * 256)));
  switch (v) {
    case 'empty':
      return Buffer.alloc(0);
    case 'cut':
      return clean.subarray(0, Math.floor(clean.length / 2));
    case 'longer':
      return Buffer.concat([clean, rand(1 + Math.floor(r() * 64))]);
    case 'random':
      return rand(clean.length);
    case 'huge':
      return rand(64 * 1024);
    case 'zeros':
      return Buffer.alloc(Math.max(1, clean.length));
  }
}
