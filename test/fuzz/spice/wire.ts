/**
 * Every message a SPICE client parses, as a layout of named fields: the link reply (its header,
 * its body, the auth result), the messages every channel may get (SET_ACK, PING, NOTIFY, ...), the
 * main channel's, the agent's clipboard messages inside AGENT_DATA, the inputs channel's, and the
 * playback and record channels'. The hostile server encodes them from these layouts, with one field
 * (or the message header) replaced by a hostile value, so every field of every message is reached.
 *
 * Facts: the SPICE 2.2 layouts in docs/spice.md and the project's protocol.ts; nothing here is the
 * client's code.
 */
import { PUBLIC_DER } from '../../spice/fake-server.js';

/** The channel a message belongs to ('link' = the handshake before any channel message). */
export type Chan = 'main' | 'inputs' | 'playback' | 'record';
/** A field: a little-endian integer of 1, 2, 4 or 8 bytes, or bytes. */
export type Width = 1 | 2 | 4 | 8 | 'bytes';
/** Field values: numbers (bigint for 8 bytes) or bytes. */
export type Values = Record<string, number | bigint | Buffer>;

/** One message: its wire type (-1 for the link messages), fields in order, and clean values. */
export interface Layout {
  type: number;
  fields: Array<[string, Width]>;
  clean(session: number): Values;
}

const u32s = (...v: number[]) => {
  const b = Buffer.alloc(4 * v.length);
  v.forEach((x, i) => b.writeUInt32LE(x >>> 0, 4 * i));
  return b;
};

/** A 10 ms stereo 48 kHz S16 packet of a quiet tone: what QEMU sends. */
export const PCM_PACKET = (() => {
  const b = Buffer.alloc(480 * 4);
  for (let i = 0; i < 480; i++) {
    const v = Math.round(Math.sin((2 * Math.PI * 440 * i) / 48000) * 2000);
    b.writeInt16LE(v, 4 * i);
    b.writeInt16LE(v, 4 * i + 2);
  }
  return b;
})();

/** Messages of every channel (numbers 1–8), by name. */
const COMMON: Record<string, Layout> = {
  set_ack: { type: 3, fields: [['generation', 4], ['window', 4]], clean: () => ({ generation: 1, window: 20 }) },
  ping: { type: 4, fields: [['id', 4], ['time', 8], ['padding', 'bytes']], clean: () => ({ id: 1, time: 123456789n, padding: Buffer.alloc(0) }) },
  disconnecting: { type: 6, fields: [['time', 8], ['reason', 4]], clean: () => ({ time: 1n, reason: 0 }) },
  notify: {
    type: 7,
    fields: [['time', 8], ['severity', 4], ['visibility', 4], ['what', 4], ['len', 4], ['text', 'bytes']],
    clean: () => ({ time: 1n, severity: 0, visibility: 0, what: 0, len: 6, text: Buffer.from('hello\0') }),
  },
  migrate: { type: 1, fields: [['flags', 4]], clean: () => ({ flags: 0 }) },
  wait_for_channels: { type: 5, fields: [['count', 1], ['list', 'bytes']], clean: () => ({ count: 0, list: Buffer.alloc(0) }) },
  list: { type: 8, fields: [['count', 4], ['entries', 'bytes']], clean: () => ({ count: 0, entries: Buffer.alloc(0) }) },
};

/** The agent's clipboard messages inside AGENT_DATA: VDAgentMessage header fields + body fields. */
const AGENT_HEADER: Array<[string, Width]> = [['protocol', 4], ['agentType', 4], ['opaque', 8], ['size', 4]];
function agent(agentType: number, body: Array<[string, Width]>, clean: () => Values): Layout {
  return { type: 109, fields: [...AGENT_HEADER, ...body], clean: () => ({ protocol: 1, agentType, opaque: 0n, size: -1, ...clean() }) };
}

/** Every message by "channel.name" (link messages as "link.header", "link.body", "link.auth"). */
export const MESSAGES: Record<string, Layout & { chan: Chan | 'link' }> = {
  'link.header': { chan: 'link', type: -1, fields: [['magic', 4], ['major', 4], ['minor', 4], ['size', 4]], clean: () => ({ magic: 0x51444552, major: 2, minor: 2, size: -1 }) },
  'link.body': {
    chan: 'link',
    type: -1,
    fields: [['error', 4], ['pubKey', 'bytes'], ['numCommonCaps', 4], ['numChannelCaps', 4], ['capsOffset', 4], ['caps', 'bytes']],
    clean: () => ({ error: 0, pubKey: PUBLIC_DER, numCommonCaps: 1, numChannelCaps: 0, capsOffset: 178, caps: u32s(0b1011) }),
  },
  'link.auth': { chan: 'link', type: -1, fields: [['result', 4]], clean: () => ({ result: 0 }) },
  ...Object.fromEntries(Object.entries(COMMON).map(([k, v]) => [`common.${k}`, { ...v, chan: 'main' as const }])),
  'main.init': {
    chan: 'main',
    type: 103,
    fields: [['sessionId', 4], ['displayChannelsHint', 4], ['supportedMouseModes', 4], ['currentMouseMode', 4], ['agentConnected', 4], ['agentTokens', 4], ['multiMediaTime', 4], ['ramHint', 4]],
    clean: (s) => ({ sessionId: s, displayChannelsHint: 1, supportedMouseModes: 3, currentMouseMode: 1, agentConnected: 1, agentTokens: 10, multiMediaTime: 1000, ramHint: 0 }),
  },
  'main.channels_list': { chan: 'main', type: 104, fields: [['numOfChannels', 4], ['channels', 'bytes']], clean: () => ({ numOfChannels: 4, channels: Buffer.from([1, 0, 3, 0, 5, 0, 6, 0]) }) },
  'main.mouse_mode': { chan: 'main', type: 105, fields: [['supportedModes', 2], ['currentMode', 2]], clean: () => ({ supportedModes: 3, currentMode: 1 }) },
  'main.multi_media_time': { chan: 'main', type: 106, fields: [['time', 4]], clean: () => ({ time: 1000 }) },
  'main.agent_connected': { chan: 'main', type: 107, fields: [['extra', 'bytes']], clean: () => ({ extra: Buffer.alloc(0) }) },
  'main.agent_disconnected': { chan: 'main', type: 108, fields: [['errorCode', 4]], clean: () => ({ errorCode: 0 }) },
  'main.agent_token': { chan: 'main', type: 110, fields: [['numTokens', 4]], clean: () => ({ numTokens: 10 }) },
  'main.name': { chan: 'main', type: 113, fields: [['nameLen', 4], ['name', 'bytes']], clean: () => ({ nameLen: 10, name: Buffer.from('fuzz-vm-1\0') }) },
  'main.uuid': { chan: 'main', type: 114, fields: [['uuid', 'bytes']], clean: () => ({ uuid: Buffer.from('00112233445566778899aabbccddeeff', 'hex') }) },
  'main.agent_connected_tokens': { chan: 'main', type: 115, fields: [['numTokens', 4]], clean: () => ({ numTokens: 10 }) },
  'agent.grab': { chan: 'main', ...agent(7, [['clipboardType', 4], ['moreTypes', 'bytes']], () => ({ clipboardType: 1, moreTypes: Buffer.alloc(0) })) },
  'agent.request': { chan: 'main', ...agent(8, [['clipboardType', 4]], () => ({ clipboardType: 1 })) },
  'agent.release': { chan: 'main', ...agent(9, [['extra', 'bytes']], () => ({ extra: Buffer.alloc(0) })) },
  'agent.clipboard': { chan: 'main', ...agent(4, [['clipboardType', 4], ['text', 'bytes']], () => ({ clipboardType: 1, text: Buffer.from('guest text ✓') })) },
  'agent.announce': { chan: 'main', ...agent(6, [['request', 4], ['caps', 'bytes']], () => ({ request: 1, caps: u32s(1 << 5) })) },
  'inputs.init': { chan: 'inputs', type: 101, fields: [['keyboardModifiers', 2]], clean: () => ({ keyboardModifiers: 0 }) },
  'inputs.key_modifiers': { chan: 'inputs', type: 102, fields: [['modifiers', 2]], clean: () => ({ modifiers: 2 }) },
  'inputs.motion_ack': { chan: 'inputs', type: 111, fields: [['extra', 'bytes']], clean: () => ({ extra: Buffer.alloc(0) }) },
  'playback.start': { chan: 'playback', type: 103, fields: [['channels', 4], ['format', 2], ['frequency', 4], ['time', 4]], clean: () => ({ channels: 2, format: 1, frequency: 48000, time: 1000 }) },
  'playback.data': { chan: 'playback', type: 101, fields: [['time', 4], ['data', 'bytes']], clean: () => ({ time: 1000, data: PCM_PACKET }) },
  'playback.mode': { chan: 'playback', type: 102, fields: [['time', 4], ['mode', 2], ['data', 'bytes']], clean: () => ({ time: 1000, mode: 1, data: Buffer.alloc(0) }) },
  'playback.stop': { chan: 'playback', type: 104, fields: [['extra', 'bytes']], clean: () => ({ extra: Buffer.alloc(0) }) },
  'playback.volume': { chan: 'playback', type: 105, fields: [['nchannels', 1], ['volume', 'bytes']], clean: () => ({ nchannels: 2, volume: Buffer.from([0xff, 0xff, 0, 0x80]) }) },
  'playback.mute': { chan: 'playback', type: 106, fields: [['mute', 1]], clean: () => ({ mute: 0 }) },
  'playback.latency': { chan: 'playback', type: 107, fields: [['latencyMs', 4]], clean: () => ({ latencyMs: 40 }) },
  'record.start': { chan: 'record', type: 101, fields: [['channels', 4], ['format', 2], ['frequency', 4]], clean: () => ({ channels: 2, format: 1, frequency: 48000 }) },
  'record.stop': { chan: 'record', type: 102, fields: [['extra', 'bytes']], clean: () => ({ extra: Buffer.alloc(0) }) },
  'record.volume': { chan: 'record', type: 103, fields: [['nchannels', 1], ['volume', 'bytes']], clean: () => ({ nchannels: 2, volume: Buffer.from([0xff, 0xff, 0xff, 0xff]) }) },
  'record.mute': { chan: 'record', type: 104, fields: [['mute', 1]], clean: () => ({ mute: 0 }) },
};

/** Fields with size -1 in the clean values are filled with the length of what follows (the link header's `size`, the agent header's `size`). */
export function encodeFields(layout: Layout, values: Values): Buffer {
  const parts: Buffer[] = [];
  let sizeAt = -1;
  for (const [name, width] of layout.fields) {
    const v = values[name]!;
    if (width === 'bytes') {
      parts.push(v as Buffer);
      continue;
    }
    const b = Buffer.alloc(width);
    if (v === -1 && name === 'size') sizeAt = parts.length;
    if (width === 8) b.writeBigUInt64LE(BigInt.asUintN(64, BigInt(v as number | bigint)));
    else b.writeUIntLE(Number(BigInt.asUintN(8 * width, BigInt(v as number | bigint))), 0, width);
    parts.push(b);
  }
  if (sizeAt >= 0) {
    const rest = parts.slice(sizeAt + 1).reduce((n, p) => n + p.length, 0);
    parts[sizeAt]!.writeUInt32LE(rest, 0);
  }
  return Buffer.concat(parts);
}

/** A mini-header message: u16 type, u32 size, payload. `size` replaces the true size when given. */
export function frame(type: number, payload: Buffer, size = payload.length): Buffer {
  const h = Buffer.alloc(6);
  h.writeUInt16LE(type & 0xffff, 0);
  h.writeUInt32LE(size >>> 0, 2);
  return Buffer.concat([h, payload]);
}

/**
 * The wire bytes of one message with `values` (the clean ones with a field replaced): link
 * messages as they are (the header's size filled in by encodeLinkReply), channel messages framed
 * (agent messages inside one AGENT_DATA per 2048 bytes).
 */
export function encodeMessage(name: string, values: Values): Buffer {
  const layout = MESSAGES[name]!;
  const body = encodeFields(layout, values);
  if (layout.type < 0) return body;
  if (name.startsWith('agent.')) {
    const parts: Buffer[] = [];
    for (let o = 0; o < body.length; o += 2048) parts.push(frame(109, body.subarray(o, o + 2048)));
    return Buffer.concat(parts);
  }
  return frame(layout.type, body);
}
