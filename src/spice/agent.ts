/**
 * The guest agent (spice-vdagent) as reached through the main channel, for clipboard text both
 * ways. Facts: spice-protocol `spice/vd_agent.h`; how glasspane uses it: docs/spice.md "Clipboard".
 *
 * Framing: AGENT_DATA carries a stream of `VDAgentMessage {u32 protocol = 1, u32 type,
 * u64 opaque, u32 size}` + data. We split what we send into AGENT_DATA messages of at most
 * VD_AGENT_MAX_DATA_SIZE bytes, each costing one server token (we may only send while we hold
 * tokens; the rest waits for AGENT_TOKEN). What we receive is reassembled from any split, and
 * every AGENT_DATA received is paid back with one AGENT_TOKEN.
 *
 * Clipboard flow (by demand, no selections): whoever copies sends GRAB with the types it has;
 * the other side sends REQUEST when it wants the data, answered by CLIPBOARD; RELEASE drops a
 * grab. Only UTF-8 text is handled. Windows guests (GUEST_LINEEND_CRLF) get CRLF line ends.
 */
import { debuglog } from 'node:util';
import { SpiceError } from './errors.js';
import { MainClientMsg } from './protocol.js';

const debug = debuglog('glasspane:spice');

/** VDAgentMessage.protocol: the one version there is. */
export const VD_AGENT_PROTOCOL = 1;
/** Most bytes of agent stream in one AGENT_DATA message (each costs one server token). */
export const VD_AGENT_MAX_DATA_SIZE = 2048;
/** Bytes of a VDAgentMessage header: u32 protocol, u32 type, u64 opaque, u32 size. */
export const VD_AGENT_HEADER_SIZE = 20;
/** Tokens we grant the server in AGENT_START (how many AGENT_DATA it may send before we pay back). */
export const CLIENT_AGENT_TOKENS = 10;
/** Largest agent message we accept (a clipboard bigger than this is skipped). */
export const MAX_AGENT_MESSAGE = 16 * 1024 * 1024;

/** VDAgentMessage types glasspane sends or handles (others are ignored). */
export const AgentMsg = {
  CLIPBOARD: 4,
  ANNOUNCE_CAPABILITIES: 6,
  CLIPBOARD_GRAB: 7,
  CLIPBOARD_REQUEST: 8,
  CLIPBOARD_RELEASE: 9,
} as const;

/** VDAgent capability bits glasspane announces or reads from the guest. */
export const AgentCap = {
  CLIPBOARD: 3,
  CLIPBOARD_BY_DEMAND: 5,
  CLIPBOARD_SELECTION: 6,
  GUEST_LINEEND_LF: 8,
  GUEST_LINEEND_CRLF: 9,
} as const;

/** VDAgent clipboard types; only UTF8_TEXT is ever requested or offered. */
export const ClipboardType = { NONE: 0, UTF8_TEXT: 1, PNG: 2 } as const;

/**
 * What the owner of the connection does with the guest's clipboard. Called on the main thread
 * from socket events; a throw ends the main channel (ERR_SPICE_PROTOCOL), so handlers catch their
 * own errors. Text is the guest's: any length up to MAX_AGENT_MESSAGE, any content.
 */
export interface ClipboardHandlers {
  /** The guest copied something; `types` are ClipboardType values. Call requestText() to get it. */
  guestGrab?(types: number[]): void;
  /** The guest no longer offers its clipboard. */
  guestRelease?(): void;
  /** The guest pastes what we grabbed: return the host's text (undefined = nothing). */
  hostText?(): string | undefined | Promise<string | undefined>;
  /** Agent (dis)appeared in the guest. */
  agentState?(connected: boolean): void;
}

type Send = (type: number, payload: Buffer) => void;

/**
 * The agent protocol over the main channel (see the module comment), made by MainChannel when
 * clipboard handlers are given. `send` writes one main-channel message. Incoming data is untrusted:
 * message sizes are bounded by MAX_AGENT_MESSAGE (larger ones are skipped, not buffered) and
 * pieces are reassembled without trusting their split.
 */
export class VdAgent {
  /** Agent capabilities the guest announced (bit numbers set). */
  guestCaps = new Set<number>();
  private tokens = 0;
  private readonly outbox: Buffer[] = [];
  private inbox: Buffer[] = [];
  private inboxBytes = 0;
  private skip = 0;
  private running = false;
  private pendingText: Array<{ resolve: (s: string) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }> = [];

  constructor(
    private readonly send: Send,
    private readonly handlers: ClipboardHandlers,
  ) {}

  /** True between start() (the guest agent is there) and stop(). */
  get connected(): boolean {
    return this.running;
  }

  /** The agent is there: grant the server tokens, take ours, announce what we do. */
  start(serverTokens: number): void {
    this.stop('restarted');
    this.running = true;
    this.tokens = serverTokens;
    const b = Buffer.alloc(4);
    b.writeUInt32LE(CLIENT_AGENT_TOKENS, 0);
    this.send(MainClientMsg.AGENT_START, b);
    this.announce(true);
    debug('agent: started with %d tokens', serverTokens);
    this.handlers.agentState?.(true);
  }

  /** Agent gone (or main channel closed): drop queued data, fail waiting requests. */
  stop(why = 'the guest agent disconnected'): void {
    const was = this.running;
    this.running = false;
    this.outbox.length = 0;
    this.inbox = [];
    this.inboxBytes = 0;
    this.skip = 0;
    this.guestCaps.clear();
    for (const p of this.pendingText.splice(0)) {
      clearTimeout(p.timer);
      p.reject(new SpiceError('ERR_SPICE_CLOSED', `clipboard request failed: ${why}`, 'check that spice-vdagent runs in the guest'));
    }
    if (was) this.handlers.agentState?.(false);
  }

  /** AGENT_TOKEN from the server: we may send that many more AGENT_DATA. */
  addTokens(n: number): void {
    this.tokens += n;
    this.flush();
  }

  /** One AGENT_DATA from the server: reassemble, dispatch, pay the token back. */
  receive(chunk: Buffer): void {
    const t = Buffer.alloc(4);
    t.writeUInt32LE(1, 0);
    this.send(MainClientMsg.AGENT_TOKEN, t);
    if (!this.running) return;
    if (this.skip) {
      const k = Math.min(this.skip, chunk.length);
      this.skip -= k;
      chunk = chunk.subarray(k);
    }
    if (chunk.length) {
      this.inbox.push(chunk);
      this.inboxBytes += chunk.length;
    }
    while (this.inboxBytes >= VD_AGENT_HEADER_SIZE) {
      const all = this.inbox.length === 1 ? this.inbox[0]! : Buffer.concat(this.inbox, this.inboxBytes);
      this.inbox = [all];
      const protocol = all.readUInt32LE(0);
      const type = all.readUInt32LE(4);
      const size = all.readUInt32LE(16);
      if (protocol !== VD_AGENT_PROTOCOL || size > MAX_AGENT_MESSAGE) {
        // Skip this message (or, with a bad protocol, everything buffered): we cannot use it.
        debug('agent: dropping message type %d protocol %d size %d', type, protocol, size);
        const drop = protocol !== VD_AGENT_PROTOCOL ? all.length : Math.min(all.length, VD_AGENT_HEADER_SIZE + size);
        this.skip = protocol !== VD_AGENT_PROTOCOL ? 0 : VD_AGENT_HEADER_SIZE + size - drop;
        this.inbox = drop < all.length ? [all.subarray(drop)] : [];
        this.inboxBytes = all.length - drop;
        continue;
      }
      if (all.length < VD_AGENT_HEADER_SIZE + size) break;
      const data = all.subarray(VD_AGENT_HEADER_SIZE, VD_AGENT_HEADER_SIZE + size);
      const rest = all.subarray(VD_AGENT_HEADER_SIZE + size);
      this.inbox = rest.length ? [rest] : [];
      this.inboxBytes = rest.length;
      this.dispatch(type, Buffer.from(data));
    }
  }

  /** Tells the guest the host clipboard has text (it will REQUEST it when pasting). */
  grabText(): void {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(ClipboardType.UTF8_TEXT, 0);
    this.sendMessage(AgentMsg.CLIPBOARD_GRAB, b);
  }

  /** Tells the guest the host clipboard is empty / no longer ours. */
  release(): void {
    this.sendMessage(AgentMsg.CLIPBOARD_RELEASE, Buffer.alloc(0));
  }

  /** Asks the guest for its clipboard text (after a guestGrab with UTF8_TEXT). */
  requestText(timeoutMs = 5000): Promise<string> {
    if (!this.running) return Promise.reject(new SpiceError('ERR_SPICE_CLOSED', 'no SPICE guest agent is connected', 'install and start spice-vdagent in the guest, with a virtserialport named com.redhat.spice.0'));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pendingText = this.pendingText.filter((p) => p.timer !== timer);
        reject(new SpiceError('ERR_SPICE_TIMEOUT', `the guest agent did not send its clipboard within ${timeoutMs} ms`, 'check spice-vdagent in the guest'));
      }, timeoutMs);
      this.pendingText.push({ resolve, reject, timer });
      const b = Buffer.alloc(4);
      b.writeUInt32LE(ClipboardType.UTF8_TEXT, 0);
      this.sendMessage(AgentMsg.CLIPBOARD_REQUEST, b);
    });
  }

  private announce(request: boolean): void {
    const caps = (1 << AgentCap.CLIPBOARD_BY_DEMAND) >>> 0;
    const b = Buffer.alloc(8);
    b.writeUInt32LE(request ? 1 : 0, 0);
    b.writeUInt32LE(caps, 4);
    this.sendMessage(AgentMsg.ANNOUNCE_CAPABILITIES, b);
  }

  private dispatch(type: number, data: Buffer): void {
    debug('agent: message type %d, %d bytes', type, data.length);
    switch (type) {
      case AgentMsg.ANNOUNCE_CAPABILITIES: {
        if (data.length < 4) return;
        const request = data.readUInt32LE(0);
        this.guestCaps.clear();
        for (let w = 0; 4 + 4 * w + 4 <= data.length; w++) {
          const word = data.readUInt32LE(4 + 4 * w);
          for (let bit = 0; bit < 32; bit++) if (word & (1 << bit)) this.guestCaps.add(32 * w + bit);
        }
        if (request) this.announce(false);
        return;
      }
      case AgentMsg.CLIPBOARD_GRAB: {
        const types: number[] = [];
        for (let o = 0; o + 4 <= data.length; o += 4) types.push(data.readUInt32LE(o));
        this.handlers.guestGrab?.(types);
        return;
      }
      case AgentMsg.CLIPBOARD_RELEASE:
        this.handlers.guestRelease?.();
        return;
      case AgentMsg.CLIPBOARD_REQUEST: {
        const wanted = data.length >= 4 ? data.readUInt32LE(0) : 0;
        void this.answerRequest(wanted);
        return;
      }
      case AgentMsg.CLIPBOARD: {
        if (data.length < 4) return;
        const ctype = data.readUInt32LE(0);
        if (ctype !== ClipboardType.UTF8_TEXT) return;
        let text = data.subarray(4).toString('utf8');
        if (this.guestCaps.has(AgentCap.GUEST_LINEEND_CRLF)) text = text.replace(/\r\n/g, '\n');
        text = text.replace(/\0+$/, '');
        const p = this.pendingText.shift();
        if (p) {
          clearTimeout(p.timer);
          p.resolve(text);
        }
        return;
      }
      default:
        return; // mouse state, monitors, file transfer, ...: not ours
    }
  }

  private async answerRequest(wanted: number): Promise<void> {
    let text: string | undefined;
    if (wanted === ClipboardType.UTF8_TEXT) {
      try {
        text = await this.handlers.hostText?.();
      } catch (err) {
        debug('agent: hostText failed: %s', (err as Error).message);
      }
    }
    if (text === undefined) {
      // Nothing to give: an empty CLIPBOARD of type NONE ends the guest's wait.
      const b = Buffer.alloc(4);
      b.writeUInt32LE(ClipboardType.NONE, 0);
      this.sendMessage(AgentMsg.CLIPBOARD, b);
      return;
    }
    if (this.guestCaps.has(AgentCap.GUEST_LINEEND_CRLF)) text = text.replace(/\r?\n/g, '\r\n');
    const body = Buffer.from(text, 'utf8');
    const b = Buffer.alloc(4 + body.length);
    b.writeUInt32LE(ClipboardType.UTF8_TEXT, 0);
    body.copy(b, 4);
    this.sendMessage(AgentMsg.CLIPBOARD, b);
  }

  /** Frames one agent message and queues its ≤ 2048-byte AGENT_DATA pieces. */
  private sendMessage(type: number, data: Buffer): void {
    if (!this.running) return;
    const msg = Buffer.alloc(VD_AGENT_HEADER_SIZE + data.length);
    msg.writeUInt32LE(VD_AGENT_PROTOCOL, 0);
    msg.writeUInt32LE(type, 4);
    msg.writeBigUInt64LE(0n, 8);
    msg.writeUInt32LE(data.length, 16);
    data.copy(msg, VD_AGENT_HEADER_SIZE);
    for (let o = 0; o < msg.length; o += VD_AGENT_MAX_DATA_SIZE) this.outbox.push(msg.subarray(o, o + VD_AGENT_MAX_DATA_SIZE));
    this.flush();
  }

  private flush(): void {
    while (this.outbox.length && this.tokens > 0) {
      this.tokens--;
      this.send(MainClientMsg.AGENT_DATA, this.outbox.shift()!);
    }
  }
}
