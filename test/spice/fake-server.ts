/**
 * Test helper: a scriptable SPICE server on 127.0.0.1 port 0 or a unix socket. It does the real
 * link handshake (RSA-1024 key, OAEP-SHA1 ticket decrypted and checked) so the client's crypto is
 * exercised, and lets each test decide what happens next: link errors, bad bytes, truncation,
 * disconnects, ACK behaviour, floods (`flood()`), a key of its choosing, or a whole well-behaved
 * session (`serveSession()`) with hooks per channel.
 */
import { constants, generateKeyPairSync, privateDecrypt, type KeyObject } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { capsWords, SPICE_MAGIC } from '../../src/spice/protocol.js';

const keys = generateKeyPairSync('rsa', { modulusLength: 1024 });
export const PUBLIC_DER = keys.publicKey.export({ format: 'der', type: 'spki' }) as Buffer;
const PRIVATE: KeyObject = keys.privateKey;

/** Reads exact byte counts from a socket (the server side of a test). */
export class ByteReader {
  private buf = Buffer.alloc(0);
  private waiters: Array<() => void> = [];
  ended = false;
  constructor(sock: net.Socket) {
    sock.on('data', (d: Buffer) => {
      this.buf = Buffer.concat([this.buf, d]);
      this.wake();
    });
    sock.on('close', () => {
      this.ended = true;
      this.wake();
    });
  }
  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }
  async read(n: number): Promise<Buffer> {
    while (this.buf.length < n) {
      if (this.ended) throw new Error(`client closed with ${this.buf.length} of ${n} bytes`);
      await new Promise<void>((r) => this.waiters.push(r));
    }
    const out = this.buf.subarray(0, n);
    this.buf = this.buf.subarray(n);
    return out;
  }
  /** Resolves true when the client closed its side. */
  async closed(): Promise<boolean> {
    while (!this.ended) await new Promise<void>((r) => this.waiters.push(r));
    return true;
  }
}

export interface LinkInfo {
  channelType: number;
  channelId: number;
  connectionId: number;
  commonCaps: number[];
  channelCaps: number[];
}

export class FakeConn {
  readonly reader: ByteReader;
  constructor(readonly sock: net.Socket) {
    this.reader = new ByteReader(sock);
  }
  async readLink(): Promise<LinkInfo> {
    const h = await this.reader.read(16);
    if (h.readUInt32LE(0) !== SPICE_MAGIC) throw new Error('client sent a bad magic');
    const body = await this.reader.read(h.readUInt32LE(12));
    const nc = body.readUInt32LE(6);
    const nch = body.readUInt32LE(10);
    const off = body.readUInt32LE(14);
    const words = (s: number, n: number) => Array.from({ length: n }, (_, i) => body.readUInt32LE(s + 4 * i));
    return { connectionId: body.readUInt32LE(0), channelType: body[4]!, channelId: body[5]!, commonCaps: words(off, nc), channelCaps: words(off + 4 * nc, nch) };
  }
  /** Sends a link reply: OK with our key (or `key`, cut or padded to 162 bytes) and mini-header caps, or just an error. */
  sendLinkReply(error = 0, opts: { mini?: boolean; key?: Buffer } = {}): void {
    const common = capsWords(opts.mini === false ? [0, 1] : [0, 1, 3]);
    const body = Buffer.alloc(178 + 4 * common.length);
    body.writeUInt32LE(error, 0);
    (opts.key ?? PUBLIC_DER).copy(body, 4, 0, 162);
    body.writeUInt32LE(common.length, 166);
    body.writeUInt32LE(0, 170);
    body.writeUInt32LE(178, 174);
    common.forEach((w, i) => body.writeUInt32LE(w, 178 + 4 * i));
    this.sock.write(Buffer.concat([linkHeader(body.length), body]));
  }
  /** Reads auth selection + ticket; returns the decrypted password. */
  async readTicket(): Promise<string> {
    const sel = await this.reader.read(4);
    if (sel.readUInt32LE(0) !== 1) throw new Error(`auth selection ${sel.readUInt32LE(0)}`);
    const ticket = await this.reader.read(128);
    const plain = privateDecrypt({ key: PRIVATE, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha1' }, ticket);
    if (plain[plain.length - 1] !== 0) throw new Error('ticket not NUL-terminated');
    return plain.subarray(0, plain.length - 1).toString('utf8');
  }
  sendAuth(result: number): void {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(result, 0);
    this.sock.write(b);
  }
  /** Full accept: link OK, ticket checked against `password`, auth OK. Returns the link request. */
  async accept(password = ''): Promise<LinkInfo> {
    const link = await this.readLink();
    this.sendLinkReply(0);
    const pw = await this.readTicket();
    this.sendAuth(pw === password ? 0 : 7);
    return link;
  }
  sendMsg(type: number, payload: Buffer = Buffer.alloc(0)): void {
    this.sock.write(miniMsg(type, payload));
  }
  async readMsg(): Promise<{ type: number; payload: Buffer }> {
    const h = await this.reader.read(6);
    const size = h.readUInt32LE(2);
    return { type: h.readUInt16LE(0), payload: size ? Buffer.from(await this.reader.read(size)) : Buffer.alloc(0) };
  }
  /** Reads client messages for as long as the connection lives, calling `on` for each. */
  async readAll(on: (m: { type: number; payload: Buffer }) => void): Promise<void> {
    for (;;) {
      let m;
      try {
        m = await this.readMsg();
      } catch {
        return;
      }
      on(m);
    }
  }
}

/** One VDAgentMessage (header + data) as the agent stream carries it, unsplit. */
export function agentMsg(type: number, data: Buffer): Buffer {
  const h = Buffer.alloc(20);
  h.writeUInt32LE(1, 0);
  h.writeUInt32LE(type, 4);
  h.writeUInt32LE(data.length, 16);
  return Buffer.concat([h, data]);
}

/**
 * Writes what `make()` returns (one or more whole messages) again and again, respecting the
 * socket's own backpressure, until `bytes` were written or the peer stopped reading: the bytes
 * waiting in our socket stayed at `blockedAt` or more for `blockedMs`. Resolves with what
 * happened; never throws (a closed socket ends it).
 */
export async function flood(sock: net.Socket, make: () => Buffer, opts: { bytes: number; blockedAt?: number; blockedMs?: number }): Promise<{ written: number; blocked: boolean }> {
  const blockedAt = opts.blockedAt ?? 4 * 1024 * 1024;
  let written = 0;
  let blockedSince = 0;
  while (written < opts.bytes && !sock.destroyed) {
    if (sock.writableLength >= blockedAt) {
      blockedSince ||= Date.now();
      if (Date.now() - blockedSince >= (opts.blockedMs ?? 500)) return { written, blocked: true };
      await new Promise((r) => setTimeout(r, 20));
      continue;
    }
    blockedSince = 0;
    const parts: Buffer[] = [];
    let n = 0;
    while (n < 64 * 1024) {
      const m = make();
      parts.push(m);
      n += m.length;
    }
    sock.write(Buffer.concat(parts));
    written += n;
    // Let the event loop run (the client may be in this process).
    await new Promise((r) => setImmediate(r));
  }
  return { written, blocked: false };
}

/** Hooks of serveSession(), one per channel type, run once that channel is set up. */
export interface SessionHooks {
  /** Runs when a link request arrives, before it is answered (to misbehave in the middle of a link). */
  onLink?: (c: FakeConn, link: LinkInfo) => void | Promise<void>;
  main?: (c: FakeConn) => void | Promise<void>;
  inputs?: (c: FakeConn) => void | Promise<void>;
  playback?: (c: FakeConn) => void | Promise<void>;
  record?: (c: FakeConn) => void | Promise<void>;
  /** MAIN_INIT payload (default mainInit(sessionId)). */
  init?: Buffer;
  /** Channel types in CHANNELS_LIST (default main and inputs). */
  channels?: number[];
  password?: string;
}

/** A well-behaved session on connection `c`: main (INIT → ATTACH → CHANNELS_LIST), inputs (INPUTS_INIT), sound channels linked; then the hook of that channel. */
export async function serveSession(c: FakeConn, sessionId: number, hooks: SessionHooks = {}): Promise<void> {
  const link = await c.readLink();
  await hooks.onLink?.(c, link);
  c.sendLinkReply(0);
  const pw = await c.readTicket();
  c.sendAuth(pw === (hooks.password ?? '') ? 0 : 7);
  switch (link.channelType) {
    case 1: {
      c.sendMsg(103, hooks.init ?? mainInit(sessionId));
      const attach = await c.readMsg();
      if (attach.type !== 104) throw new Error(`expected ATTACH_CHANNELS, got ${attach.type}`);
      c.sendMsg(104, channelsList(hooks.channels));
      return hooks.main?.(c);
    }
    case 3:
      c.sendMsg(101, Buffer.from([0, 0]));
      return hooks.inputs?.(c);
    case 5:
      return hooks.playback?.(c);
    case 6:
      return hooks.record?.(c);
    default:
      return undefined;
  }
}

export function linkHeader(size: number): Buffer {
  const h = Buffer.alloc(16);
  h.writeUInt32LE(SPICE_MAGIC, 0);
  h.writeUInt32LE(2, 4);
  h.writeUInt32LE(2, 8);
  h.writeUInt32LE(size, 12);
  return h;
}

export function miniMsg(type: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const h = Buffer.alloc(6);
  h.writeUInt16LE(type, 0);
  h.writeUInt32LE(payload.length, 2);
  return Buffer.concat([h, payload]);
}

/** MAIN INIT payload (8 × u32). */
export function mainInit(sessionId: number, mouseModes = 1, current = 1): Buffer {
  const b = Buffer.alloc(32);
  b.writeUInt32LE(sessionId, 0);
  b.writeUInt32LE(1, 4);
  b.writeUInt32LE(mouseModes, 8);
  b.writeUInt32LE(current, 12);
  return b;
}

/** CHANNELS_LIST payload with main and inputs. */
export function channelsList(types: number[] = [1, 3]): Buffer {
  const b = Buffer.alloc(4 + 2 * types.length);
  b.writeUInt32LE(types.length, 0);
  types.forEach((t, i) => b.writeUInt8(t, 4 + 2 * i));
  return b;
}

export interface FakeServer {
  /** glasspane address string */
  address: string;
  close(): Promise<void>;
}

/** Starts a server calling `onConn` for each connection (in order, with its index). */
export async function fakeServer(onConn: (c: FakeConn, index: number) => void | Promise<void>, transport: 'tcp' | 'unix' = 'tcp'): Promise<FakeServer> {
  const socks = new Set<net.Socket>();
  let n = 0;
  const server = net.createServer((sock) => {
    socks.add(sock);
    sock.on('close', () => socks.delete(sock));
    sock.on('error', () => {});
    const c = new FakeConn(sock);
    Promise.resolve(onConn(c, n++)).catch(() => sock.destroy());
  });
  let dir: string | undefined;
  let address: string;
  if (transport === 'unix') {
    dir = mkdtempSync(join(tmpdir(), 'glasspane-fake-'));
    const path = join(dir, 'spice.sock');
    await new Promise<void>((r) => server.listen(path, r));
    address = `unix:${path}`;
  } else {
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    address = `127.0.0.1:${(server.address() as net.AddressInfo).port}`;
  }
  return {
    address,
    async close() {
      for (const s of socks) s.destroy();
      await new Promise((r) => server.close(r));
      if (dir) rmSync(dir, { recursive: true, force: true });
    },
  };
}
