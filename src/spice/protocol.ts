/**
 * SPICE protocol numbers used by glasspane: one table, so every module and test names the same
 * values. Facts from spice-protocol `spice/protocol.h` / `spice/enums.h`; what glasspane relies on
 * is summarised in docs/spice.md ("Protocol notes"). All wire integers are little-endian, all
 * structs packed.
 */

/** "REDQ" read as a little-endian u32. */
export const SPICE_MAGIC = 0x51444552;
/** The protocol version glasspane speaks: 2.2 (a server with another major version is refused). */
export const SPICE_VERSION_MAJOR = 2;
/** The minor version we announce in the link header. */
export const SPICE_VERSION_MINOR = 2;

/** Size of the link header: magic, major, minor, size. */
export const LINK_HEADER_SIZE = 16;
/** Size of SpiceLinkMess without caps (the value of caps_offset we send). */
export const LINK_MESS_SIZE = 18;
/** SpiceLinkReply without caps: error, 162-byte public key, ncommon, nchannel, caps_offset. */
export const LINK_REPLY_SIZE = 178;
/** Bytes of the server's RSA public key (X.509 SubjectPublicKeyInfo DER) in the link reply. */
export const LINK_PUBKEY_SIZE = 162;
/** RSA-1024 ciphertext size of the ticket. */
export const TICKET_SIZE = 128;
/** spice-server refuses passwords longer than this (SPICE_MAX_PASSWORD_LENGTH). */
export const MAX_PASSWORD_BYTES = 60;

/**
 * Message header sizes: mini (u16 type, u32 size) and full (u64 serial, u16 type, u32 size, u32 sub_list).
 */
export const MINI_HEADER_SIZE = 6;
/** The full header's size (used when the server does not accept the mini header). */
export const FULL_HEADER_SIZE = 18;

/** SPICE channel types (u8 on the wire); glasspane links MAIN, INPUTS, PLAYBACK and RECORD. */
export const ChannelType = {
  MAIN: 1,
  DISPLAY: 2,
  INPUTS: 3,
  CURSOR: 4,
  PLAYBACK: 5,
  RECORD: 6,
  USBREDIR: 9,
  PORT: 10,
} as const;
/** One of the ChannelType numbers. */
export type ChannelTypeValue = (typeof ChannelType)[keyof typeof ChannelType];

/** Common caps (bit numbers). */
export const CommonCap = { AUTH_SELECTION: 0, AUTH_SPICE: 1, AUTH_SASL: 2, MINI_HEADER: 3 } as const;
/** Main channel caps (bit numbers). The migration caps are never offered: we cannot migrate. */
export const MainCap = { NAME_AND_UUID: 1, AGENT_CONNECTED_TOKENS: 2 } as const;
/** Inputs channel caps (bit numbers); KEY_SCANCODE is never offered (see inputs-channel.ts). */
export const InputsCap = { KEY_SCANCODE: 0 } as const;
/** Playback channel caps (bit numbers). CELT (0) and OPUS (3) are never offered: we take raw PCM only. */
export const PlaybackCap = { VOLUME: 1, LATENCY: 2 } as const;
/** Record channel caps (bit numbers). CELT (0) and OPUS (2) are never offered. */
export const RecordCap = { VOLUME: 1 } as const;

/** Link errors as the server sends them, with the names used in messages and error codes. */
export const LinkError = {
  OK: 0,
  ERROR: 1,
  INVALID_MAGIC: 2,
  INVALID_DATA: 3,
  VERSION_MISMATCH: 4,
  NEED_SECURED: 5,
  NEED_UNSECURED: 6,
  PERMISSION_DENIED: 7,
  BAD_CONNECTION_ID: 8,
  CHANNEL_NOT_AVAILABLE: 9,
} as const;
/** LinkError number → name, for messages. */
export const LINK_ERROR_NAMES: Record<number, string> = Object.fromEntries(
  Object.entries(LinkError).map(([k, v]) => [v, k]),
);

/** Messages every channel's server side may send (numbers 1–8). */
export const ServerMsg = {
  MIGRATE: 1,
  MIGRATE_DATA: 2,
  SET_ACK: 3,
  PING: 4,
  WAIT_FOR_CHANNELS: 5,
  DISCONNECTING: 6,
  NOTIFY: 7,
  LIST: 8,
} as const;

/** Messages every channel's client side may send. */
export const ClientMsg = { ACK_SYNC: 1, ACK: 2, PONG: 3 } as const;

/** Main channel, server → client. */
export const MainServerMsg = {
  INIT: 103,
  CHANNELS_LIST: 104,
  MOUSE_MODE: 105,
  MULTI_MEDIA_TIME: 106,
  AGENT_CONNECTED: 107,
  AGENT_DISCONNECTED: 108,
  AGENT_DATA: 109,
  AGENT_TOKEN: 110,
  NAME: 113,
  UUID: 114,
  AGENT_CONNECTED_TOKENS: 115,
} as const;

/** Main channel, client → server. */
export const MainClientMsg = {
  ATTACH_CHANNELS: 104,
  MOUSE_MODE_REQUEST: 105,
  AGENT_START: 106,
  AGENT_DATA: 107,
  AGENT_TOKEN: 108,
} as const;

/** Inputs channel, server → client. */
export const InputsServerMsg = { INIT: 101, KEY_MODIFIERS: 102, MOUSE_MOTION_ACK: 111 } as const;

/** Inputs channel, client → server. */
export const InputsClientMsg = {
  KEY_DOWN: 101,
  KEY_UP: 102,
  KEY_MODIFIERS: 103,
  KEY_SCANCODE: 104,
  MOUSE_MOTION: 111,
  MOUSE_POSITION: 112,
  MOUSE_PRESS: 113,
  MOUSE_RELEASE: 114,
} as const;

/** Mouse modes (bits in MAIN_INIT / MOUSE_MODE): SERVER = relative motion, CLIENT = absolute position. */
export const MouseMode = { SERVER: 1, CLIENT: 2 } as const;

/** Playback channel, server → client. */
export const PlaybackServerMsg = { DATA: 101, MODE: 102, START: 103, STOP: 104, VOLUME: 105, MUTE: 106, LATENCY: 107 } as const;
/** Record channel, server → client. */
export const RecordServerMsg = { START: 101, STOP: 102, VOLUME: 103, MUTE: 104 } as const;
/** Record channel, client → server. */
export const RecordClientMsg = { DATA: 101, MODE: 102, START_MARK: 103 } as const;
/** audio_data_mode (u16 on the wire). */
export const AudioDataMode = { INVALID: 0, RAW: 1, CELT_0_5_1: 2, OPUS: 3 } as const;
/** audio_fmt (u16 on the wire): S16 is signed 16-bit little-endian, channels interleaved. */
export const AudioFmt = { INVALID: 0, S16: 1 } as const;

/** SPICE button ids (the state mask bit is `1 << (id - 1)`). */
export const SpiceButton = { LEFT: 1, MIDDLE: 2, RIGHT: 3, UP: 4, DOWN: 5, SIDE: 6, EXTRA: 7 } as const;

/** Lock-key LED bits in KEY_MODIFIERS / INPUTS_INIT. */
export const Leds = { SCROLL: 1, NUM: 2, CAPS: 4 } as const;

/** The server sends one MOUSE_MOTION_ACK per this many MOTION/POSITION messages. */
export const MOTION_ACK_BUNCH = 4;

/** Returns the caps words with the given bit numbers set. */
export function capsWords(bits: readonly number[]): number[] {
  const words: number[] = [];
  for (const bit of bits) {
    const w = bit >>> 5;
    while (words.length <= w) words.push(0);
    words[w] = (words[w]! | (1 << (bit & 31))) >>> 0;
  }
  return words;
}

/** True when cap `bit` is set in `words`. */
export function hasCap(words: readonly number[], bit: number): boolean {
  const w = words[bit >>> 5];
  return w !== undefined && (w & (1 << (bit & 31))) !== 0;
}
