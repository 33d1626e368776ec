/**
 * Bytes in, events out: the link encoding, the reader state machine (whole and one byte at a
 * time), framing, key encoding, address and argument parsing. No sockets.
 */
import { describe, expect, it } from 'vitest';
import { keyCodeU32 } from '../../src/spice/inputs-channel.js';
import { encodeLinkRequest, encryptTicket } from '../../src/spice/link.js';
import { SpiceReader, type ReaderEvent } from '../../src/spice/reader.js';
import { SpiceError } from '../../src/spice/errors.js';
import { encodeMessage } from '../../src/spice/framing.js';
import { parseSpiceAddress } from '../../src/spice/address.js';
import { scancodeForCode, scancodeForHid, SET1_BY_CODE } from '../../src/input/scancodes.js';
import { parseKeyArgs, parseMouseArgs } from '../../src/spice/input-steps.js';
import { readSpicePassword as readPassword } from '../../src/spice/password.js';
import { linkHeader, miniMsg, PUBLIC_DER } from './fake-server.js';
import { constants, privateDecrypt } from 'node:crypto';
import { coded } from '../support/errors.js';
import { runCli } from '../support/helpers.js';

function linkReplyBytes(error = 0, commonCaps = 0x0b): Buffer {
  const body = Buffer.alloc(182);
  body.writeUInt32LE(error, 0);
  PUBLIC_DER.copy(body, 4);
  body.writeUInt32LE(1, 166);
  body.writeUInt32LE(0, 170);
  body.writeUInt32LE(178, 174);
  body.writeUInt32LE(commonCaps, 178);
  return Buffer.concat([linkHeader(body.length), body]);
}

function u32(v: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(v, 0);
  return b;
}

/** A whole server stream: link reply, auth OK, then three messages, one of 300,000 bytes. */
function serverStream(): { bytes: Buffer; big: Buffer } {
  const big = Buffer.alloc(300_000);
  for (let i = 0; i < big.length; i++) big[i] = i & 0xff;
  const bytes = Buffer.concat([linkReplyBytes(), u32(0), miniMsg(103, Buffer.alloc(32, 7)), miniMsg(111), miniMsg(4, big)]);
  return { bytes, big };
}

function summarize(events: ReaderEvent[]) {
  return events.map((e) => (e.kind === 'message' ? { kind: e.kind, type: e.type, len: e.payload.length, sum: checksum(e.payload) } : e.kind === 'auth' ? e : { kind: e.kind, error: e.reply.error, caps: e.reply.commonCaps }));
}
function checksum(b: Buffer): number {
  let s = 0;
  for (const x of b) s = (s * 31 + x) >>> 0;
  return s;
}

describe('SpiceReader', () => {
  it('decodes a whole stream in one chunk', () => {
    const { bytes, big } = serverStream();
    const r = new SpiceReader();
    const ev = r.feed(bytes);
    expect(ev.map((e) => e.kind)).toEqual(['link', 'auth', 'message', 'message', 'message']);
    const last = ev[4] as Extract<ReaderEvent, { kind: 'message' }>;
    expect(last.type).toBe(4);
    expect(last.payload.equals(big)).toBe(true);
    expect(r.miniHeader).toBe(true);
    expect(() => r.end()).not.toThrow();
  });

  it('gives the same events when fed one byte at a time', () => {
    const { bytes } = serverStream();
    const whole = summarize(new SpiceReader().feed(bytes));
    const r = new SpiceReader();
    const got: ReaderEvent[] = [];
    for (let i = 0; i < bytes.length; i++) got.push(...r.feed(bytes.subarray(i, i + 1)));
    expect(summarize(got)).toEqual(whole);
  });

  it('keeps only what the owner reads of a message and skips the rest unbuffered, whole or one byte at a time', () => {
    const { bytes, big } = serverStream();
    const keep = (type: number) => (type === 4 ? 12 : type === 103 ? 0 : Infinity);
    for (const step of [bytes.length, 1, 7]) {
      const r = new SpiceReader({ keep });
      const got: ReaderEvent[] = [];
      for (let i = 0; i < bytes.length; i += step) got.push(...r.feed(bytes.subarray(i, i + step)));
      const msgs = got.filter((e): e is Extract<ReaderEvent, { kind: 'message' }> => e.kind === 'message');
      expect(msgs.map((m) => [m.type, m.payload.length]), `step ${step}`).toEqual([[103, 0], [111, 0], [4, 12]]);
      expect(msgs[2]!.payload).toEqual(big.subarray(0, 12));
      expect(r.where, `step ${step}`).toMatch(/^HEADER \(0 of 6/); // the 299,988 skipped bytes are gone, not buffered
      // A message after the skipped one is read from the right place.
      const after = r.feed(miniMsg(102, Buffer.from([5, 0])));
      expect(after).toEqual([{ kind: 'message', type: 102, payload: Buffer.from([5, 0]) }]);
    }
    // Cut in the middle of the skipped part: the end says how much was missing.
    const r = new SpiceReader({ keep });
    r.feed(bytes.subarray(0, bytes.length - 100));
    expect(() => r.end()).toThrow(coded('ERR_SPICE_CLOSED', /got 299900 of 300000 bytes/));
  });

  it('copies what it keeps: a caller reusing one buffer for every read (the socket does) spoils no payload', () => {
    const { bytes } = serverStream();
    const whole = summarize(new SpiceReader().feed(bytes));
    for (const step of [1, 7, 4096, 65536]) {
      const r = new SpiceReader();
      const reused = Buffer.alloc(step);
      const got: ReaderEvent[] = [];
      for (let i = 0; i < bytes.length; i += step) {
        const n = bytes.copy(reused, 0, i, i + step);
        got.push(...r.feed(reused.subarray(0, n)));
        reused.fill(0xee); // the next read overwrites it
      }
      expect(summarize(got), `step ${step}`).toEqual(whole);
    }
  });

  it('uses the 18-byte header when the server does not offer the mini header', () => {
    const r = new SpiceReader();
    const full = Buffer.alloc(18 + 2);
    full.writeBigUInt64LE(1n, 0);
    full.writeUInt16LE(102, 8);
    full.writeUInt32LE(2, 10);
    full.writeUInt16LE(5, 18);
    const ev = r.feed(Buffer.concat([linkReplyBytes(0, 0x03), u32(0), full]));
    expect(r.miniHeader).toBe(false);
    expect(ev[2]).toMatchObject({ kind: 'message', type: 102 });
    expect(encodeMessage(102, Buffer.from([5, 0]), false, 9n).subarray(0, 18).readBigUInt64LE(0)).toBe(9n);
  });

  it('rejects a bad magic after 4 bytes, naming what it got', () => {
    const r = new SpiceReader();
    expect(r.feed(Buffer.from('RF'))).toEqual([]);
    let err: unknown;
    try {
      r.feed(Buffer.from('B 003.008\n'));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(SpiceError);
    expect((err as SpiceError).code).toBe('ERR_SPICE_MAGIC');
    expect((err as SpiceError).message).toContain('"RFB "');
  });

  it('rejects another major version', () => {
    const h = linkHeader(178);
    h.writeUInt32LE(1, 4);
    expect(() => new SpiceReader().feed(h)).toThrow(expect.objectContaining({ code: 'ERR_SPICE_VERSION' }));
  });

  it('reports a link error without reading further', () => {
    const ev = new SpiceReader().feed(linkReplyBytes(9));
    expect(ev).toEqual([{ kind: 'link', reply: { error: 9, publicKey: Buffer.alloc(0), commonCaps: [], channelCaps: [] } }]);
  });

  it('rejects caps pointing outside the reply', () => {
    const b = linkReplyBytes();
    b.writeUInt32LE(5, 16 + 166);
    expect(() => new SpiceReader().feed(b)).toThrow(expect.objectContaining({ code: 'ERR_SPICE_PROTOCOL' }));
  });

  it('rejects a message over the size limit', () => {
    const r = new SpiceReader({ maxMessage: 1000 });
    const h = Buffer.alloc(6);
    h.writeUInt16LE(4, 0);
    h.writeUInt32LE(1001, 2);
    expect(() => r.feed(Buffer.concat([linkReplyBytes(), u32(0), h]))).toThrow(expect.objectContaining({ code: 'ERR_SPICE_PROTOCOL' }));
  });

  it.each([
    ['inside the link reply', 40, /link reply/],
    ['before the password check answer', 16 + 182 + 2, /password check/],
    ['inside a header', 16 + 182 + 4 + 3, /message header/],
    ['inside a body', 16 + 182 + 4 + 6 + 10, /body of message type 103/],
  ])('end() %s throws ERR_SPICE_CLOSED', (_what, cut, re) => {
    const r = new SpiceReader();
    r.feed(serverStream().bytes.subarray(0, cut));
    expect(() => r.end()).toThrow(expect.objectContaining({ code: 'ERR_SPICE_CLOSED', message: expect.stringMatching(re) }));
  });
});

describe('link request and ticket', () => {
  it('encodes header, link message and caps as the spec lays them out', () => {
    const b = encodeLinkRequest({ channelType: 3, channelId: 0, connectionId: 0x12345678, channelCaps: [0] });
    expect(b.subarray(0, 4).toString('latin1')).toBe('REDQ');
    expect([b.readUInt32LE(4), b.readUInt32LE(8), b.readUInt32LE(12)]).toEqual([2, 2, 18 + 8]);
    expect(b.readUInt32LE(16)).toBe(0x12345678);
    expect([b[20], b[21]]).toEqual([3, 0]);
    expect([b.readUInt32LE(22), b.readUInt32LE(26), b.readUInt32LE(30)]).toEqual([1, 1, 18]);
    expect([b.readUInt32LE(34), b.readUInt32LE(38)]).toEqual([0x0b, 0x01]);
    expect(b.length).toBe(42);
  });

  it('main channel caps are NAME_AND_UUID + AGENT_CONNECTED_TOKENS = 0x06', () => {
    const b = encodeLinkRequest({ channelType: 1, channelId: 0, connectionId: 0, channelCaps: [1, 2] });
    expect(b.readUInt32LE(38)).toBe(0x06);
  });

  it('encrypts password + NUL with OAEP-SHA1, also for the empty password', async () => {
    const { generateKeyPairSync } = await import('node:crypto');
    const k = generateKeyPairSync('rsa', { modulusLength: 1024 });
    const der = k.publicKey.export({ format: 'der', type: 'spki' }) as Buffer;
    expect(der.length).toBe(162);
    for (const pw of ['', 'sesame']) {
      const t = encryptTicket(der, pw);
      expect(t.length).toBe(128);
      const plain = privateDecrypt({ key: k.privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha1' }, t);
      expect(plain.toString('utf8')).toBe(pw + '\0');
    }
  });

  it('refuses a password over 60 bytes before sending it', () => {
    expect(() => encryptTicket(PUBLIC_DER, 'x'.repeat(61))).toThrow(expect.objectContaining({ code: 'ERR_SPICE_PASSWORD' }));
  });
});

describe('keys', () => {
  it('encodes set-1 bytes low byte first with the break bit set by us', () => {
    expect(keyCodeU32(0x1e, true)).toBe(0x1e);
    expect(keyCodeU32(0x1e, false)).toBe(0x9e);
    expect(keyCodeU32(0xe01d, true)).toBe(0x1de0);
    expect(keyCodeU32(0xe01d, false)).toBe(0x9de0);
    expect(keyCodeU32(0xe046, true)).toBe(0x46e0);
    expect(keyCodeU32(0xe046, false)).toBe(0xc6e0);
  });

  it('maps KeyboardEvent.code names and HID usages from keymaps.csv', () => {
    expect(scancodeForCode('KeyA')).toBe(0x1e);
    expect(scancodeForCode('ControlRight')).toBe(0xe01d);
    expect(scancodeForCode('NumpadEnter')).toBe(0xe01c);
    expect(scancodeForCode('Pause')).toBe(0xe046);
    expect(scancodeForCode('PrintScreen')).toBe(0x54);
    expect(scancodeForCode('ArrowUp')).toBe(0xe048);
    expect(scancodeForCode('Control')).toBe(0x1d);
    expect(scancodeForCode('toString')).toBeUndefined();
    expect(scancodeForHid(4)).toBe(0x1e); // SDL_SCANCODE_A
    expect(scancodeForHid(228)).toBe(0xe01d); // SDL_SCANCODE_RCTRL
    // Every entry is one byte, or E0 + one byte, and never has the break bit already set.
    for (const v of Object.values(SET1_BY_CODE)) {
      expect(v >>> 8 === 0 || v >>> 8 === 0xe0).toBe(true);
      expect(v & 0x80).toBe(0);
    }
    expect(Object.keys(SET1_BY_CODE).length).toBeGreaterThan(150);
  });
});

describe('addresses and send arguments', () => {
  it('parses HOST:PORT, [v6]:PORT and unix:PATH', () => {
    expect(parseSpiceAddress('127.0.0.1:5900')).toEqual({ kind: 'tcp', host: '127.0.0.1', port: 5900 });
    expect(parseSpiceAddress('[::1]:5901')).toEqual({ kind: 'tcp', host: '::1', port: 5901 });
    expect(parseSpiceAddress('unix:/run/vm/spice.sock')).toEqual({ kind: 'unix', path: '/run/vm/spice.sock' });
    for (const bad of ['localhost', 'h:0', 'h:70000', 'unix:']) expect(() => parseSpiceAddress(bad)).toThrow(expect.objectContaining({ code: 'ERR_SPICE_ADDRESS' }));
  });

  it('parses keys and chords, and names an unknown key with suggestions', () => {
    expect(parseKeyArgs(['KeyA', 'Control+Alt+Delete'])).toEqual([
      { names: ['KeyA'], scancodes: [0x1e] },
      { names: ['Control', 'Alt', 'Delete'], scancodes: [0x1d, 0x38, 0xe053] },
    ]);
    expect(() => parseKeyArgs(['keya'])).toThrow(coded('ERR_SPICE_KEY', /unknown key "keya"/));
    try {
      parseKeyArgs(['keya']);
    } catch (e) {
      expect((e as SpiceError).fix).toContain('KeyA');
    }
  });

  it('parses mouse actions in order', () => {
    expect(parseMouseArgs(['move', '10', '-5', 'click', 'left', 'wheel', 'up', 'wheel', 'down', '2', 'press', 'side', 'release', 'side'])).toEqual([
      { op: 'move', dx: 10, dy: -5 },
      { op: 'click', button: 1 },
      { op: 'wheel', notches: -1 },
      { op: 'wheel', notches: 2 },
      { op: 'press', button: 6 },
      { op: 'release', button: 6 },
    ]);
    expect(() => parseMouseArgs(['move', '10'])).toThrow(coded('ERR_SPICE_KEY', /move DY/));
    expect(() => parseMouseArgs(['click', 'thumb'])).toThrow(coded('ERR_SPICE_KEY', /unknown button "thumb"/));
    expect(() => parseMouseArgs(['click', 'constructor'])).toThrow(coded('ERR_SPICE_KEY', /unknown button "constructor"/)); // not Object.prototype's
    expect(() => parseMouseArgs(['jump'])).toThrow(coded('ERR_SPICE_KEY', /unknown mouse action "jump"/));
  });

  it('reads the password from the environment when no file is given', () => {
    expect(readPassword(undefined, { GLASSPANE_SPICE_PASSWORD: 'pw' })).toBe('pw');
    expect(readPassword(undefined, {})).toBe('');
    expect(() => readPassword('/nonexistent/pw')).toThrow(expect.objectContaining({ code: 'ERR_SPICE_PASSWORD' }));
  });
});

describe('glasspane send (as a process)', () => {
  it('--help shows examples', async () => {
    const r = await runCli(['send', '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/Examples?:\n\s+glasspane send /);
  });

  it('refuses an unknown key before connecting, with exit status 2 and a suggestion', async () => {
    // Port 1 has no server: a connection attempt would fail with ERR_SPICE_CONNECT instead.
    const r = await runCli(['send', '--spice', '127.0.0.1:1', 'key', 'KeyA', 'Ctrl+Alt+Del']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/unknown key "Del" in "Ctrl\+Alt\+Del"\n\s+fix: did you mean Delete\?/);
  });
});
