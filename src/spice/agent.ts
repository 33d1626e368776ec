/**
 * The guest agent (spice-vdagent) as reached through the main channel, for clipboard text both
 * ways. Facts: spice-protocol `spice/vd_agent.h`; how glasspane uses it: docs/spice.md "Clipboard".
 *
 * Framing: AGENT_DATA carries a stream of `VDAgentMessage {u32 protocol = 1, u32 type,
 * u64 opaque, u32 size}` + data. We split what we send into AGENT_DATA messages of at most
 * VD_AGENT_MAX_DATA_SIZE bytes, each costing one server token (we may only send while we hold
 * tokens; the rest waits for AGENT_TOKEN). What we receive is reassembled from any split, and
 * every AGENT_DATA received is paid back with one token (the tokens owed after one read go back
 * in one AGENT_TOKEN).
 *
 * Bounds (the guest and the server are untrusted): reassembly is linear (the pieces of a message
 * are collected and concatenated once, when the last one arrives); a CLIPBOARD is kept only while
 * we wait for one and only up to MAX_AGENT_MESSAGE, other messages up to MAX_CONTROL_MESSAGE,
 * anything else is skipped as it streams by; one clipboard request is in flight at a time (later
 * callers share it); the guest's requests are answered one at a time, at most one per
 * ANSWER_INTERVAL_MS (requests meanwhile share the next answer); what waits for tokens is at most
 * MAX_OUTBOX_BYTES (more is refused, and said once through `problem`).
 *
 * Clipboard flow (by demand, no selections): whoever copies sends GRAB with the types it has;
 * the other side sends REQUEST when it wants the data, answered by CLIPBOARD; RELEASE drops a
 * grab. Only UTF-8 text is handled. Windows guests (GUEST_LINEEND_CRLF) get CRLF line ends.
 */
import { debuglog } from 'node:util';
import { SpiceError } from './errors.js';
import { AgentStreamReader, VD_AGENT_HEADER_SIZE, VD_AGENT_PROTOCOL } from './agent-stream.js';
import { MainClientMsg } from './protocol.js';

export { VD_AGENT_HEADER_SIZE, VD_AGENT_PROTOCOL } from './agent-stream.js';

const debug = debuglog('glasspane:spice');
/** Checked before each debug line on a per-message path: a disabled debuglog still costs its call. */
const debugOn = debug.enabled;

/** Most bytes of agent stream in one AGENT_DATA message (each costs one server token). */
export const VD_AGENT_MAX_DATA_SIZE = 2048;
/** Tokens we grant the server in AGENT_START (how many AGENT_DATA it may send before we pay back). */
export const CLIENT_AGENT_TOKENS = 10;
/** Largest agent message we accept (a clipboard bigger than this is skipped). */
export const MAX_AGENT_MESSAGE = 16 * 1024 * 1024;
/** Largest GRAB, REQUEST, RELEASE or ANNOUNCE_CAPABILITIES kept (real ones are a few words). */
export const MAX_CONTROL_MESSAGE = 64 * 1024;
/** Least time between two answers to the guest's clipboard requests (ms); requests meanwhile get one answer. */
export const ANSWER_INTERVAL_MS = 250;
/** Most bytes of agent stream waiting for server tokens: one largest clipboard and some small messages. */
export const MAX_OUTBOX_BYTES = MAX_AGENT_MESSAGE + 64 * 1024;

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
  /**
   * Something the user should know about the clipboard (host text over the limit, a server that
   * gives no tokens), each kind once per agent connection.
   */
  problem?(err: SpiceError): void;
}

type Send = (type: number, payload: Buffer) => void;

/** The clipboard request in flight (see requestText). */
interface PendingText {
  promise: Promise<string>;
  resolve: (s: string) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
}

/**
 * The agent protocol over the main channel (see the module comment), made by MainChannel when
 * clipboard handlers are given. `send` writes one main-channel message. Incoming data is untrusted
 * and bounded as the module comment says; pieces are reassembled without trusting their split.
 */
export class VdAgent {
  /** Agent capabilities the guest announced (bit numbers set). */
  guestCaps = new Set<number>();
  private tokens = 0;
  private outbox: Buffer[] = [];
  private outboxBytes = 0;
  private readonly stream = new AgentStreamReader(
    (type) => this.limitFor(type),
    (type, data) => this.dispatch(type, data),
    debugOn ? (what) => debug('agent: %s', what) : undefined,
  );
  private running = false;
  private pending: PendingText | null = null;
  /** Tokens owed to the server, paid back together at the end of the current turn. */
  private owed = 0;
  /** A clipboard request is being answered (or the last answer is younger than ANSWER_INTERVAL_MS); a request meanwhile is kept in answerAgain. */
  private answering = false;
  private answerAgain: number | undefined;
  private answerTimer?: NodeJS.Timeout;
  /** Problems said this connection (kind → true), so each is said once. */
  private said = new Set<string>();

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
    this.tokens = Math.min(serverTokens, 0x7fffffff);
    const b = Buffer.alloc(4);
    b.writeUInt32LE(CLIENT_AGENT_TOKENS, 0);
    this.send(MainClientMsg.AGENT_START, b);
    this.announce(true);
    if (debugOn) debug('agent: started with %d tokens', serverTokens);
    this.handlers.agentState?.(true);
  }

  /** Agent gone (or main channel closed): drop queued data, fail the waiting request. */
  stop(why = 'the guest agent disconnected'): void {
    const was = this.running;
    this.running = false;
    this.outbox = [];
    this.outboxBytes = 0;
    this.stream.reset();
    this.answerAgain = undefined;
    clearTimeout(this.answerTimer);
    this.answerTimer = undefined;
    this.answering = false;
    this.guestCaps.clear();
    this.said.clear();
    const p = this.pending;
    this.pending = null;
    if (p) {
      clearTimeout(p.timer);
      p.reject(new SpiceError('ERR_SPICE_CLOSED', `clipboard request failed: ${why}`, 'check that spice-vdagent runs in the guest'));
    }
    if (was) this.handlers.agentState?.(false);
  }

  /** AGENT_TOKEN from the server: we may send that many more AGENT_DATA. */
  addTokens(n: number): void {
    this.tokens = Math.min(this.tokens + n, 0x7fffffff);
    this.flush();
  }

  /** One AGENT_DATA from the server: reassemble (see the module comment), dispatch, pay the token back. */
  receive(chunk: Buffer): void {
    this.payBack();
    if (this.running) this.stream.push(chunk);
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

  /**
   * Asks the guest for its clipboard text (after a guestGrab with UTF8_TEXT). One request is in
   * flight at a time: a call while one waits gets the same answer. Rejects with ERR_SPICE_TIMEOUT
   * after `timeoutMs`, ERR_SPICE_CLOSED when the agent goes.
   */
  requestText(timeoutMs = 5000): Promise<string> {
    if (!this.running) return Promise.reject(new SpiceError('ERR_SPICE_CLOSED', 'no SPICE guest agent is connected', 'install and start spice-vdagent in the guest, with a virtserialport named com.redhat.spice.0'));
    if (this.pending) return this.pending.promise;
    let resolve!: (s: string) => void;
    let reject!: (e: Error) => void;
    const promise = new Promise<string>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    const timer = setTimeout(() => {
      if (this.pending?.timer === timer) this.pending = null;
      reject(new SpiceError('ERR_SPICE_TIMEOUT', `the guest agent did not send its clipboard within ${timeoutMs} ms`, 'check spice-vdagent in the guest'));
    }, timeoutMs);
    this.pending = { promise, resolve, reject, timer };
    const b = Buffer.alloc(4);
    b.writeUInt32LE(ClipboardType.UTF8_TEXT, 0);
    this.sendMessage(AgentMsg.CLIPBOARD_REQUEST, b);
    return promise;
  }

  private announce(request: boolean): void {
    const caps = (1 << AgentCap.CLIPBOARD_BY_DEMAND) >>> 0;
    const b = Buffer.alloc(8);
    b.writeUInt32LE(request ? 1 : 0, 0);
    b.writeUInt32LE(caps, 4);
    this.sendMessage(AgentMsg.ANNOUNCE_CAPABILITIES, b);
  }

  private dispatch(type: number, data: Buffer): void {
    if (debugOn) debug('agent: message type %d, %d bytes', type, data.length);
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
        // One answer at a time: requests that come while one is made are answered once after it.
        if (this.answering) {
          this.answerAgain = wanted;
          return;
        }
        void this.answer(wanted);
        return;
      }
      case AgentMsg.CLIPBOARD: {
        const p = this.pending;
        if (!p) return; // kept only while one is waited for (limitFor), but a short one may come anyway
        this.pending = null;
        clearTimeout(p.timer);
        const ctype = data.length >= 4 ? data.readUInt32LE(0) : ClipboardType.NONE;
        if (ctype !== ClipboardType.UTF8_TEXT) {
          p.reject(new SpiceError('ERR_SPICE_CLOSED', `the guest agent answered the clipboard request with type ${ctype}, not text`, 'copy text in the guest; images are not shared'));
          return;
        }
        let text = data.subarray(4).toString('utf8');
        if (this.guestCaps.has(AgentCap.GUEST_LINEEND_CRLF)) text = text.replace(/\r\n/g, '\n');
        const nul = text.indexOf('\0');
        p.resolve(nul >= 0 ? text.slice(0, nul) : text);
        return;
      }
      default:
        return; // mouse state, monitors, file transfer, ...: not ours
    }
  }

  private async answer(wanted: number): Promise<void> {
    this.answering = true;
    try {
      await this.answerRequest(wanted);
    } catch (err) {
      if (debugOn) debug('agent: answering a clipboard request failed: %s', (err as Error).message);
    }
    // The next answer (to requests that came meanwhile) waits ANSWER_INTERVAL_MS: a guest that asks
    // in a loop gets the host text a few times a second, not as fast as it can ask.
    this.answerTimer = setTimeout(() => {
      this.answerTimer = undefined;
      this.answering = false;
      const again = this.answerAgain;
      this.answerAgain = undefined;
      if (again !== undefined && this.running) void this.answer(again);
    }, ANSWER_INTERVAL_MS);
  }

  private async answerRequest(wanted: number): Promise<void> {
    if (this.outboxBytes > MAX_CONTROL_MESSAGE) {
      // The last answer still waits for tokens: the guest gets that one; a second copy would only fill memory.
      debug('agent: clipboard request while the last answer waits for tokens: not answered again');
      return;
    }
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
    if (body.length + 4 > MAX_AGENT_MESSAGE) {
      this.problem('big', new SpiceError('ERR_SPICE_PROTOCOL', `the host clipboard text is ${body.length} bytes; at most ${MAX_AGENT_MESSAGE - 4} go to the guest`, 'copy less text at once'));
      const none = Buffer.alloc(4);
      none.writeUInt32LE(ClipboardType.NONE, 0);
      this.sendMessage(AgentMsg.CLIPBOARD, none);
      return;
    }
    const b = Buffer.alloc(4 + body.length);
    b.writeUInt32LE(ClipboardType.UTF8_TEXT, 0);
    body.copy(b, 4);
    this.sendMessage(AgentMsg.CLIPBOARD, b);
  }

  /** How large a message of `type` may be to be kept; 0 = skipped as it streams by. */
  private limitFor(type: number): number {
    switch (type) {
      case AgentMsg.CLIPBOARD:
        return this.pending ? MAX_AGENT_MESSAGE : 0;
      case AgentMsg.ANNOUNCE_CAPABILITIES:
      case AgentMsg.CLIPBOARD_GRAB:
      case AgentMsg.CLIPBOARD_REQUEST:
      case AgentMsg.CLIPBOARD_RELEASE:
        return MAX_CONTROL_MESSAGE;
      default:
        return 0; // mouse state, monitors, file transfer, ...: not ours
    }
  }

  /** One token per AGENT_DATA received, all of one turn paid in one AGENT_TOKEN. */
  private payBack(): void {
    if (this.owed++ > 0) return;
    queueMicrotask(() => {
      const t = Buffer.alloc(4);
      t.writeUInt32LE(this.owed, 0);
      this.owed = 0;
      this.send(MainClientMsg.AGENT_TOKEN, t);
    });
  }

  private problem(kind: string, err: SpiceError): void {
    debug('agent: %s', err.message);
    if (this.said.has(kind)) return;
    this.said.add(kind);
    this.handlers.problem?.(err);
  }

  /** Frames one agent message and queues its ≤ 2048-byte AGENT_DATA pieces (refused when the outbox is full). */
  private sendMessage(type: number, data: Buffer): void {
    if (!this.running) return;
    const msg = Buffer.alloc(VD_AGENT_HEADER_SIZE + data.length);
    msg.writeUInt32LE(VD_AGENT_PROTOCOL, 0);
    msg.writeUInt32LE(type, 4);
    msg.writeBigUInt64LE(0n, 8);
    msg.writeUInt32LE(data.length, 16);
    data.copy(msg, VD_AGENT_HEADER_SIZE);
    if (this.outboxBytes + msg.length > MAX_OUTBOX_BYTES) {
      this.problem('tokens', new SpiceError('ERR_SPICE_TIMEOUT', `the SPICE server gives no agent tokens: ${this.outboxBytes} bytes of clipboard messages wait, newer ones are dropped`, 'check that QEMU and spice-vdagent in the guest are not hung'));
      return;
    }
    for (let o = 0; o < msg.length; o += VD_AGENT_MAX_DATA_SIZE) this.outbox.push(msg.subarray(o, o + VD_AGENT_MAX_DATA_SIZE));
    this.outboxBytes += msg.length;
    this.flush();
  }

  private flush(): void {
    let sent = 0;
    while (sent < this.outbox.length && this.tokens > 0) {
      this.tokens--;
      const piece = this.outbox[sent++]!;
      this.outboxBytes -= piece.length;
      this.send(MainClientMsg.AGENT_DATA, piece);
    }
    // One splice, not a shift per piece: a 16 MiB clipboard is 8,000 pieces.
    if (sent) this.outbox.splice(0, sent);
  }
}
