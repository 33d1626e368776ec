/**
 * The SPICE fuzzer's server: a real SPICE 2.2 server for the parts a client uses (link with a
 * fresh-per-process RSA-1024 key and a checked ticket, main with INIT / CHANNELS_LIST / NAME /
 * UUID and a guest agent that grants tokens, inputs with MOTION_ACKs, playback with START and
 * DATA, record with START), which turns hostile for one case at a time (cases.ts) and clean again
 * with end(). It counts the KeyA presses (KEY_DOWN 0x1e) that reach an inputs channel: the
 * fuzzer's proof that a clean server gets a key through after the case.
 *
 * A case acts either on the running session (`inject` fields, header lies, floods, stages
 * `up-*`) or on the next one (`setup` fields, fragmentation, link and set-up stages); with
 * `nextSession` (the `send` target, which links a fresh session per run) every case waits for the
 * next session. end() drops every connection the case left unusable (a desynchronised stream, a
 * half-done handshake), resumes the ones it stopped reading, and stops its floods.
 */
import net from 'node:net';
import { prng } from '../mutations.js';
import { FakeConn } from '../../spice/fake-server.js';
import { bytesValue, numberValue, type BytesValue, type NumberValue, type SpiceCase, type Stage } from './cases.js';
import { encodeFields, encodeMessage, frame, MESSAGES, PCM_PACKET, type Chan, type Values } from './wire.js';

const CHAN_OF: Record<number, Chan> = { 1: 'main', 3: 'inputs', 5: 'playback', 6: 'record' };
const SETUP_STAGE_CHAN: Partial<Record<Stage, Chan>> = { accept: 'main', 'link-reply': 'main', auth: 'main', 'main-init': 'main', 'main-list': 'main', 'inputs-link': 'inputs', 'inputs-init': 'inputs', 'playback-link': 'playback', 'record-link': 'record' };
const KEY_A_DOWN = 0x1e;
/** The guest clipboard of a big-clipboard case: 8 MiB of text. */
const BIG_TEXT = Buffer.alloc(8 * 1024 * 1024, 0x61);

/** One client connection and what the current case did to it. */
interface Conn {
  c: FakeConn;
  chan?: Chan;
  up: boolean;
  /** Accepted or touched while a case ran (dropped by end() when it is not up or is spoiled). */
  inCase: boolean;
  /** Its stream can no longer be trusted (a header lie, garbage, a cut message). */
  spoiled: boolean;
  fragment?: 'byte' | 'random';
  /** The server stopped reading it (a flood that does not read, silence). */
  paused: boolean;
  /** No MOTION_ACK while set. */
  starve: boolean;
  /** The client's agent stream: the header being collected, and the bytes of a body still to skip. */
  agentHead: Buffer;
  agentSkip: number;
}

/** What the current case waits for (a `setup` or stage case that acts on the next session). */
interface Armed {
  spec: SpiceCase;
  chan: Chan;
  fired: boolean;
}

export class HostileServer {
  /** The address for --spice (127.0.0.1:PORT). */
  address = '';
  /** KeyA presses seen on inputs channels (see the module comment). */
  keysSeen = 0;
  /** Connections accepted since start. */
  accepted = 0;
  private server!: net.Server;
  private readonly conns = new Set<Conn>();
  private spec: SpiceCase | null = null;
  private armed: Armed | null = null;
  private nextSession = false;
  private r: () => number = Math.random;
  private floods = 0;
  private sessionId = 0x5eed;
  /** Resolved when the armed case fired and its connection is done with, or the session it spoiled came up. */
  private fired: (() => void) | null = null;

  static async start(): Promise<HostileServer> {
    const s = new HostileServer();
    s.server = net.createServer((sock) => void s.accept(sock));
    await new Promise<void>((r) => s.server.listen(0, '127.0.0.1', r));
    s.address = `127.0.0.1:${(s.server.address() as net.AddressInfo).port}`;
    return s;
  }

  /**
   * Starts a case. Returns a promise that resolves when its bad phase has done what it does (a
   * flood has run its time, an armed case has struck), at most `limitMs` later.
   */
  begin(spec: SpiceCase, o: { nextSession: boolean; limitMs?: number }): Promise<void> {
    this.spec = spec;
    this.r = prng(spec.random);
    this.nextSession = o.nextSession;
    const limit = new Promise<void>((r) => setTimeout(r, o.limitMs ?? 3000).unref());
    const onNext = o.nextSession || this.actsOnNextSession(spec);
    const struck = new Promise<void>((r) => (this.fired = r));
    if (onNext) {
      this.armed = { spec, chan: this.targetChan(spec), fired: false };
      // The viewer has a session: drop it, so that it links again into what is armed.
      if (!o.nextSession) for (const k of this.conns) k.c.sock.destroy();
    } else {
      void this.act(spec, [...this.conns].filter((k) => k.up && k.chan === this.targetChan(spec)));
    }
    return Promise.race([struck, limit]);
  }

  /** Back to clean (see the module comment). */
  end(): void {
    this.spec = null;
    this.armed = null;
    this.fired = null;
    this.floods++;
    for (const k of this.conns) {
      if (k.inCase && (k.spoiled || !k.up)) {
        k.c.sock.destroy();
        continue;
      }
      k.inCase = false;
      k.starve = false;
      if (k.paused) {
        k.paused = false;
        k.c.sock.resume();
      }
    }
  }

  async close(): Promise<void> {
    for (const k of this.conns) k.c.sock.destroy();
    await new Promise((r) => this.server.close(r));
  }

  private actsOnNextSession(spec: SpiceCase): boolean {
    if (spec.kind === 'field') return spec.when === 'setup';
    if (spec.kind === 'fragment') return true;
    if (spec.kind === 'slowloris' || spec.kind === 'silence' || spec.kind === 'garbage' || spec.kind === 'reset') return !spec.stage.startsWith('up-');
    return false;
  }

  private targetChan(spec: SpiceCase): Chan {
    switch (spec.kind) {
      case 'field':
      case 'header':
        return spec.chan;
      case 'flood':
        return ['led', 'motion-ack-starve'].includes(spec.flood) ? 'inputs' : ['start-stop', 'playback-data', 'volume'].includes(spec.flood) ? 'playback' : spec.flood === 'record-start-stop' ? 'record' : 'main';
      case 'fragment':
        return 'main';
      default:
        return spec.stage.startsWith('up-') ? (spec.stage.slice(3) as Chan) : SETUP_STAGE_CHAN[spec.stage]!;
    }
  }

  /**
   * The armed case, if it strikes this connection here (it fires once): a stage-bound case at its
   * stage (`stage` given), a `setup` field or fragmentation case when the link arrives (`stage`
   * undefined). Cases that act on a set-up connection fire in isUp() instead.
   */
  private strikes(k: Conn, stage?: Stage): SpiceCase | null {
    const a = this.armed;
    if (!a || a.fired || a.chan !== k.chan || !this.actsOnNextSession(a.spec)) return null;
    const s = a.spec;
    const bound = 'stage' in s ? s.stage : undefined;
    if (bound !== stage) return null;
    a.fired = true;
    k.inCase = true;
    // Done when this connection closes, or (if it survives) shortly after it is up.
    const done = this.fired;
    k.c.sock.once('close', () => done?.());
    return s;
  }

  private async accept(sock: net.Socket): Promise<void> {
    sock.setNoDelay(true);
    sock.on('error', () => {});
    this.accepted++;
    const k: Conn = { c: new FakeConn(sock), up: false, inCase: this.spec !== null, spoiled: false, paused: false, starve: false, agentHead: Buffer.alloc(0), agentSkip: 0 };
    if (this.spec?.kind === 'fragment' && this.armed) k.fragment = this.spec.split;
    this.conns.add(k);
    sock.once('close', () => this.conns.delete(k));
    try {
      await this.serve(k);
    } catch {
      sock.destroy();
    }
  }

  /** Writes, fragmented when the connection is. */
  private async out(k: Conn, b: Buffer): Promise<void> {
    if (k.c.sock.destroyed) return;
    if (!k.fragment) {
      k.c.sock.write(b);
      return;
    }
    for (let o = 0; o < b.length; ) {
      const n = k.fragment === 'byte' ? 1 : 1 + Math.floor(this.r() * 16);
      k.c.sock.write(b.subarray(o, o + n));
      o += n;
      await new Promise((r) => setImmediate(r));
    }
  }

  /** The clean values of `msg`, with the case's field replaced when the case is a field case for it. */
  private values(msg: string, spec: SpiceCase | null): Values {
    const layout = MESSAGES[msg]!;
    const v = layout.clean(this.sessionId);
    if (spec?.kind !== 'field' || spec.msg !== msg) return v;
    const width = layout.fields.find(([n]) => n === spec.field)![1];
    if (width === 'bytes') v[spec.field] = bytesValue(spec.value as BytesValue, v[spec.field] as Buffer, this.r);
    else {
      const clean = v[spec.field] === -1 ? 0 : (v[spec.field] as number | bigint);
      const n = numberValue(spec.value as NumberValue, width, clean, this.r);
      v[spec.field] = width === 8 ? n : Number(n);
    }
    return v;
  }

  /** Does a stage-bound armed case strike here? Returns true when the connection's script must stop. */
  private async stage(k: Conn, stage: Stage): Promise<boolean> {
    const s = this.strikes(k, stage);
    if (!s) return false;
    await this.stageAction(k, s);
    return true;
  }

  private async stageAction(k: Conn, s: SpiceCase): Promise<void> {
    k.inCase = true;
    k.spoiled = true;
    const sock = k.c.sock;
    switch (s.kind) {
      case 'reset':
        if (s.how === 'rst') sock.resetAndDestroy();
        else sock.end();
        return;
      case 'garbage': {
        const n = 1 + Math.floor(this.r() * 4096);
        sock.write(Buffer.from(Array.from({ length: n }, () => Math.floor(this.r() * 256))));
        return;
      }
      case 'silence':
        k.paused = true;
        sock.pause();
        return;
      case 'slowloris': {
        // A plausible message, one byte at a time, until end() drops the connection.
        const msg = frame(999, Buffer.alloc(64 * 1024));
        for (let i = 0; i < msg.length && !sock.destroyed && this.spec === s; i++) {
          sock.write(msg.subarray(i, i + 1));
          await new Promise((r) => setTimeout(r, 50));
        }
        return;
      }
      default:
        return;
    }
  }

  private async serve(k: Conn): Promise<void> {
    const c = k.c;
    // 'accept' strikes the first connection after arming, whatever it is.
    if (this.armed && !this.armed.fired && this.armed.spec.kind !== 'field' && 'stage' in this.armed.spec && this.armed.spec.stage === 'accept') {
      k.chan = 'main';
      if (await this.stage(k, 'accept')) return;
    }
    const link = await c.readLink();
    k.chan = CHAN_OF[link.channelType];
    if (!k.chan) return void c.sock.destroy();
    const spec = this.strikes(k);
    const linkStage: Stage = k.chan === 'main' ? 'link-reply' : (`${k.chan}-link` as Stage);
    if (await this.stage(k, linkStage)) return;
    if (spec) k.inCase = true;
    // Link reply (header + body), possibly spoiled.
    const body = encodeFields(MESSAGES['link.body']!, this.values('link.body', spec));
    const hv = this.values('link.header', spec);
    if (hv.size === -1) hv.size = body.length;
    const header = encodeFields(MESSAGES['link.header']!, hv);
    await this.out(k, Buffer.concat([header, body]));
    if (spec?.kind === 'field' && spec.msg.startsWith('link.') && spec.msg !== 'link.auth') k.spoiled = true;
    if (body.readUInt32LE(0) !== 0) return;
    await c.readTicket().catch(() => undefined);
    if (k.chan === 'main' && (await this.stage(k, 'auth'))) return;
    const auth = encodeFields(MESSAGES['link.auth']!, this.values('link.auth', spec));
    await this.out(k, auth);
    if (auth.readUInt32LE(0) !== 0) return;
    switch (k.chan) {
      case 'main':
        return this.serveMain(k, spec);
      case 'inputs':
        return this.serveInputs(k, spec);
      case 'playback':
        return this.servePlayback(k, spec);
      case 'record':
        return this.serveRecord(k, spec);
    }
  }

  /** The connection is set up: a case waiting for this session's channel acts now. */
  private async isUp(k: Conn, spec: SpiceCase | null): Promise<void> {
    k.up = true;
    if (spec) setTimeout(() => this.fired?.(), 300).unref();
    const a = this.armed;
    if (a && !a.fired && a.chan === k.chan && !this.actsOnNextSession(a.spec)) {
      a.fired = true;
      await this.act(a.spec, [k]);
    }
  }

  private async serveMain(k: Conn, spec: SpiceCase | null): Promise<void> {
    const c = k.c;
    if (await this.stage(k, 'main-init')) return;
    await this.out(k, encodeMessage('main.init', this.values('main.init', spec)));
    for (;;) {
      const m = await c.readMsg();
      if (m.type === 104) break;
    }
    if (await this.stage(k, 'main-list')) return;
    await this.out(k, Buffer.concat(['main.channels_list', 'main.name', 'main.uuid'].map((n) => encodeMessage(n, this.values(n, spec)))));
    void this.isUp(k, spec);
    // The agent side: pay back every AGENT_DATA with a token; answer a REQUEST for our text.
    for (;;) {
      const m = await c.readMsg();
      if (m.type !== 107) continue;
      if (!k.paused) c.sendMsg(110, u32(1));
      for (const type of agentTypes(k, m.payload)) {
        if (type !== 8) continue;
        const s = this.spec;
        // Our clipboard, as asked: 8 MiB in 2 KiB pieces during a big-clipboard case.
        if (s?.kind === 'flood' && s.flood === 'big-clipboard') await this.out(k, encodeMessage('agent.clipboard', { ...this.values('agent.clipboard', null), text: BIG_TEXT }));
        else if (!s) await this.out(k, encodeMessage('agent.clipboard', this.values('agent.clipboard', null)));
      }
    }
  }

  private async serveInputs(k: Conn, spec: SpiceCase | null): Promise<void> {
    const c = k.c;
    if (await this.stage(k, 'inputs-init')) return;
    await this.out(k, encodeMessage('inputs.init', this.values('inputs.init', spec)));
    void this.isUp(k, spec);
    let motions = 0;
    for (;;) {
      const m = await c.readMsg();
      if (m.type === 101 && m.payload.length >= 4 && m.payload.readUInt32LE(0) === KEY_A_DOWN) this.keysSeen++;
      if ((m.type === 111 || m.type === 112) && ++motions % 4 === 0 && !k.starve) c.sendMsg(111);
    }
  }

  private async servePlayback(k: Conn, spec: SpiceCase | null): Promise<void> {
    await this.out(k, encodeMessage('playback.start', this.values('playback.start', spec)));
    for (let i = 0; i < 5; i++) await this.out(k, encodeMessage('playback.data', this.values('playback.data', null)));
    void this.isUp(k, spec);
    for (;;) await k.c.readMsg();
  }

  private async serveRecord(k: Conn, spec: SpiceCase | null): Promise<void> {
    await this.out(k, encodeMessage('record.start', this.values('record.start', spec)));
    void this.isUp(k, spec);
    for (;;) await k.c.readMsg();
  }

  /** Runs a case that acts on set-up connections (`inject` fields, header lies, floods, `up-*` stages). */
  private async act(spec: SpiceCase, targets: Conn[]): Promise<void> {
    const done = this.fired;
    for (const k of targets) k.inCase = true;
    try {
      switch (spec.kind) {
        case 'field':
          for (const k of targets) for (let i = 0; i < 3; i++) await this.out(k, encodeMessage(spec.msg, this.values(spec.msg, spec)));
          await sleep(200);
          return;
        case 'header':
          for (const k of targets) {
            k.spoiled = true;
            await this.out(k, this.headerLie(spec.msg, spec.lie));
          }
          await sleep(200);
          return;
        case 'flood':
          await Promise.all(targets.map((k) => this.flood(k, spec)));
          return;
        default:
          await Promise.all(targets.map((k) => this.stageAction(k, spec)));
          await sleep(spec.kind === 'silence' || spec.kind === 'slowloris' ? 1000 : 100);
          return;
      }
    } finally {
      done?.();
    }
  }

  private headerLie(msg: string, lie: string): Buffer {
    const layout = MESSAGES[msg]!;
    const payload = encodeFields(layout, this.values(msg, null));
    const type = layout.type;
    switch (lie) {
      case 'type':
        return frame(Math.floor(this.r() * 65536), payload);
      case 'size-minus-one':
        return frame(type, payload, Math.max(0, payload.length - 1));
      case 'size-plus-one':
        return frame(type, payload, payload.length + 1);
      case 'size-zero':
        return frame(type, payload, 0);
      case 'size-over-limit':
        return frame(type, payload, 1024 * 1024 + 1);
      default:
        return frame(type, payload, 0xffffffff);
    }
  }

  /** Sends the flood's messages as fast as the socket takes them for `ms`; not reading the client unless `read`. */
  private async flood(k: Conn, spec: Extract<SpiceCase, { kind: 'flood' }>): Promise<void> {
    const sock = k.c.sock;
    const gen = this.floods;
    if (!spec.read) {
      k.paused = true;
      sock.pause();
    }
    if (spec.flood === 'motion-ack-starve') {
      k.starve = true;
      await sleep(spec.ms);
      return;
    }
    if (spec.flood === 'big-clipboard') {
      // The guest copies 8 MiB: a GRAB; the client's REQUEST is answered in serveMain.
      if (!spec.read) {
        k.paused = false;
        sock.resume();
      }
      await this.out(k, encodeMessage('agent.grab', this.values('agent.grab', null)));
      await sleep(Math.max(spec.ms, 1000));
      return;
    }
    const make = this.floodMessage(spec.flood);
    const end = Date.now() + spec.ms;
    // Blocks of 64 KiB (at least 256 messages), made ahead and written again and again: the
    // server floods as fast as the socket takes it, not as fast as it can encode messages.
    const blocks: Buffer[] = [];
    for (let b = 0, i = 0; b < 4; b++) {
      const parts: Buffer[] = [];
      let n = 0;
      for (let k = 0; n < 64 * 1024 || (k < 256 && n < 1024 * 1024); k++) {
        const m = make(i++);
        parts.push(m);
        n += m.length;
      }
      blocks.push(Buffer.concat(parts));
    }
    for (let b = 0; Date.now() < end && !sock.destroyed && this.floods === gen; b++) {
      if (sock.writableLength > 4 * 1024 * 1024) {
        await sleep(10);
        continue;
      }
      sock.write(blocks[b % blocks.length]!);
      if (b % 4 === 3) await new Promise((r) => setImmediate(r));
    }
  }

  /** The flood's message (or messages) number `i`. */
  private floodMessage(f: string): (i: number) => Buffer {
    const msg = (name: string, patch: Values = {}) => encodeMessage(name, { ...MESSAGES[name]!.clean(this.sessionId), ...patch });
    const r = this.r;
    switch (f) {
      case 'ping':
        return (i) => msg('common.ping', { id: i });
      case 'big-ping': {
        const pad = Buffer.alloc(256_000);
        return (i) => msg('common.ping', { id: i, padding: pad });
      }
      case 'set-ack':
        return (i) => msg('common.set_ack', { generation: i, window: 1 });
      case 'notify': {
        const text = Buffer.alloc(60_000, 0x41);
        return () => msg('common.notify', { len: text.length, text });
      }
      case 'led':
        return (i) => msg('inputs.key_modifiers', { modifiers: [1, 2, 4, 0][i % 4]! });
      case 'mouse-mode':
        return (i) => msg('main.mouse_mode', { currentMode: 1 + (i % 2) });
      case 'name':
        return (i) => msg('main.name', { nameLen: 12, name: Buffer.from(`vm-${i % 100000}`.padEnd(12, '\0')) });
      case 'agent-flap':
        return () => Buffer.concat([msg('main.agent_disconnected'), msg('main.agent_connected_tokens')]);
      case 'grab-loop':
        return () => msg('agent.grab');
      case 'request-loop':
        return () => msg('agent.request');

      case 'agent-junk':
        return () => frame(109, Buffer.from(Array.from({ length: 1 + Math.floor(r() * 2048) }, () => Math.floor(r() * 256))));
      case 'unknown-type':
        return (i) => frame(200 + (i % 300), Buffer.alloc(i % 64));
      case 'start-stop':
        return (i) => Buffer.concat([msg('playback.start', { frequency: i % 2 ? 44100 : 48000 }), msg('playback.stop')]);
      case 'record-start-stop':
        return (i) => Buffer.concat([msg('record.start', { frequency: i % 2 ? 44100 : 48000 }), msg('record.stop')]);
      case 'playback-data':
        return (i) => msg('playback.data', { time: i, data: PCM_PACKET });
      case 'volume':
        return (i) => msg('playback.volume', { volume: Buffer.from([i & 0xff, 0xff, 0, i & 0x7f]) });
      case 'disconnecting':
        return (i) => msg('common.disconnecting', { reason: i });
      default:
        return () => msg('common.ping');
    }
  }
}

/**
 * The types of the agent messages (VDAgentMessage headers) that complete in one AGENT_DATA the
 * client sent: headers collected, bodies skipped. Linear in what arrives (a client may upload a
 * 16 MiB clipboard in 8,000 pieces).
 */
function agentTypes(k: Conn, piece: Buffer): number[] {
  const types: number[] = [];
  let off = 0;
  while (off < piece.length) {
    if (k.agentSkip > 0) {
      const n = Math.min(k.agentSkip, piece.length - off);
      k.agentSkip -= n;
      off += n;
      continue;
    }
    const n = Math.min(20 - k.agentHead.length, piece.length - off);
    k.agentHead = Buffer.concat([k.agentHead, piece.subarray(off, off + n)]);
    off += n;
    if (k.agentHead.length < 20) break;
    types.push(k.agentHead.readUInt32LE(4));
    k.agentSkip = k.agentHead.readUInt32LE(16);
    k.agentHead = Buffer.alloc(0);
  }
  return types;
}

function u32(v: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(v >>> 0, 0);
  return b;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
