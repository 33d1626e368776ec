/**
 * One SPICE channel over one socket: connect, link, ticket, then messages. Handles what every
 * channel must (PING → PONG, SET_ACK → ACK_SYNC + one ACK per window, NOTIFY logged,
 * DISCONNECTING noted) and hands the channel's own messages to `onMessage`.
 *
 * Contract: `SpiceChannel.open()` resolves once the server accepted the ticket, or rejects with a
 * SpiceError naming the problem (also when its `signal` aborts: a closed client never waits for a
 * link). After that, `onClose(err)` is called exactly once: `err` is undefined when we closed it,
 * else why it ended. `close()` is safe to call twice.
 * Only message types the server knows are ever sent (the server drops a channel on unknown ones).
 *
 * The server is untrusted, so everything it can make us hold is bounded: writes are gathered per
 * turn and reading stops while the server does not read them (SocketFlow), a message is at most
 * `maxMessage` bytes (the reader), at most MAX_EARLY messages wait for attach(), and a big read
 * gives the window's thread a turn before the next.
 */
import net from 'node:net';
import { debuglog } from 'node:util';
import type { SpiceAddress } from './address.js';
import { formatSpiceAddress } from './address.js';
import { linkRefused, SpiceError } from './errors.js';
import { encodeMessage } from './framing.js';
import { encodeAuthSelection, encodeLinkRequest, encryptTicket, type LinkReply } from './link.js';
import { ClientMsg, LinkError, ServerMsg } from './protocol.js';
import { SpiceReader, type ReaderEvent } from './reader.js';
import { SocketFlow } from './socket-flow.js';

export { MAX_WRITE_BACKLOG, WRITE_HIGH_WATER } from './socket-flow.js';

const debug = debuglog('glasspane:spice');
/** Checked before each debug line on a per-message path: a disabled debuglog still costs its call. */
const debugOn = debug.enabled;

/**
 * Where and how to link one channel: the address, the channel type and id (ChannelType; id 0),
 * the session's connection id (0 for main, MAIN_INIT's session_id for the others), the channel
 * caps we offer (bit numbers), and the password (empty: a server without ticketing).
 */
export interface ChannelOptions {
  address: SpiceAddress;
  channelType: number;
  channelId?: number;
  connectionId?: number;
  channelCaps?: readonly number[];
  password?: string;
  /** Name used in messages ("main", "inputs"). */
  name: string;
  /** Link timeout (connect + link + ticket), default 10 s. */
  timeoutMs?: number;
  /** Offer the mini header (default true). */
  miniHeader?: boolean;
  /** Largest message accepted from the server (default DEFAULT_MAX_MESSAGE, 1 MiB). */
  maxMessage?: number;
  /** Aborting it ends a link in flight at once: open() rejects with the abort reason (a SpiceError) or ERR_SPICE_CLOSED. */
  signal?: AbortSignal;
  /**
   * How many bytes of a channel message of `type` its handler reads (default: all): the payload is
   * cut to that and the rest skipped unbuffered (SpiceReader). The common messages are the
   * channel's own (commonKeep).
   */
  keep?: (type: number) => number;
}

/** Bytes of the common messages the channel reads: SET_ACK, PING id and time, DISCONNECTING, NOTIFY's head and 200 bytes of text; 0 for the ones it ignores. */
function commonKeep(type: number): number | undefined {
  switch (type) {
    case ServerMsg.SET_ACK:
      return 8;
    case ServerMsg.PING:
    case ServerMsg.DISCONNECTING:
      return 12;
    case ServerMsg.NOTIFY:
      return 24 + 200;
    case ServerMsg.MIGRATE:
    case ServerMsg.MIGRATE_DATA:
    case ServerMsg.WAIT_FOR_CHANNELS:
    case ServerMsg.LIST:
      return 0;
    default:
      return undefined;
  }
}

/** The buffer every read of a channel lands in (reused; see open()). */
const READ_BUFFER_BYTES = 64 * 1024;
/** A read of at least this many bytes gives the event loop a turn before the next (SocketFlow.yieldTurn). */
const YIELD_BYTES = 16 * 1024;
/**
 * Messages handled per turn of the event loop; the rest of a read waits for the next turn, with
 * reading paused: a flood of tiny messages (64 KiB is 10,000 of them) costs the window's thread a
 * few ms at a time, never one long block.
 */
const TURN_BUDGET = 256;

/**
 * Messages kept between open() resolving and attach(); more ends the channel. Reading is paused in
 * between, so these are what one read delivered with the ticket's answer (≤ 64 KiB of messages).
 */
const MAX_EARLY = 16 * 1024;

/**
 * Receives one channel message: its type and payload. The payload is the server's, bounded only in
 * size (≤ the channel's maxMessage); a view the reader never reuses, so the handler may keep it. A
 * handler that throws ends the channel with ERR_SPICE_PROTOCOL, never the process.
 */
export type MessageHandler = (type: number, payload: Buffer) => void;

/**
 * One linked channel (see the module comment). Main thread only (socket events). Made by open(),
 * ended by close() or by the server; either way onClose runs once.
 */
export class SpiceChannel {
  readonly name: string;
  /** The server's link reply (its caps). */
  readonly reply: LinkReply;
  /** Set when the server sent DISCONNECTING before closing. */
  disconnectReason?: number;
  private onMessage?: MessageHandler;
  private onClose?: (err?: SpiceError) => void;
  /** Messages and the close that arrived before attach() (e.g. INPUTS_INIT in the ticket's packet). */
  private early: Array<[number, Buffer]> = [];
  private earlyClose?: { err?: SpiceError };

  private readonly socket: net.Socket;
  private readonly reader: SpiceReader;
  private serial = 1n;
  private ackWindow = 0;
  private ackCount = 0;
  private closed = false;
  private readonly flow: SocketFlow;
  /** Events of the last read not handled yet (see TURN_BUDGET), from `pendingAt` on. */
  private pending: ReaderEvent[] = [];
  private pendingAt = 0;

  private constructor(name: string, socket: net.Socket, reader: SpiceReader, reply: LinkReply) {
    this.name = name;
    this.socket = socket;
    this.reader = reader;
    this.reply = reply;
    this.flow = new SocketFlow(
      socket,
      (backlog) => this.finish(new SpiceError('ERR_SPICE_TIMEOUT', `SPICE server stopped reading the ${name} channel: ${backlog} bytes we wrote wait unread`, 'check that QEMU is not hung; glasspane reconnects by itself when viewing')),
      (what) => debug('%s: %s', name, what),
    );
  }

  /** Connects and links one channel; see the module comment for the contract. */
  static open(opts: ChannelOptions): Promise<SpiceChannel> {
    const where = formatSpiceAddress(opts.address);
    const keep = opts.keep;
    const reader = new SpiceReader({ offerMiniHeader: opts.miniHeader ?? true, maxMessage: opts.maxMessage, keep: (type) => commonKeep(type) ?? keep?.(type) ?? Infinity });
    const cancelled = () => {
      const reason: unknown = opts.signal?.reason;
      return reason instanceof SpiceError ? reason : new SpiceError('ERR_SPICE_CLOSED', `SPICE ${opts.name} link to ${where} cancelled: the client was closed`, 'nothing to do: the client was closed while it linked');
    };
    if (opts.signal?.aborted) return Promise.reject(cancelled());
    return new Promise<SpiceChannel>((resolve, reject) => {
      // Reads land in one buffer of ours, reused: the reader copies what it keeps and skips the
      // rest in place, so a flood of messages nobody reads (a 256 KB PING's padding) allocates
      // nothing, where a 'data' event would allocate every read.
      let onData: (data: Buffer) => void = () => {};
      const onread = {
        buffer: Buffer.allocUnsafe(READ_BUFFER_BYTES),
        callback: (n: number, buf: Uint8Array) => {
          onData(Buffer.from(buf.buffer, buf.byteOffset, n));
          return true; // pausing is SocketFlow's, through pause()
        },
      };
      const socket =
        opts.address.kind === 'unix' ? net.connect({ path: opts.address.path, onread }) : net.connect({ host: opts.address.host, port: opts.address.port, onread });
      socket.setNoDelay(true);
      let settled = false;
      let reply: LinkReply | undefined;
      let channel: SpiceChannel | undefined;
      const onAbort = () => fail(cancelled());
      const fail = (err: SpiceError) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        opts.signal?.removeEventListener('abort', onAbort);
        socket.destroy();
        reject(err);
      };
      const timer = setTimeout(
        () => fail(new SpiceError('ERR_SPICE_TIMEOUT', `SPICE ${opts.name} channel at ${where}: no link answer within ${opts.timeoutMs ?? 10_000} ms (${reader.where})`, 'check that the address is QEMU\'s -spice port and that QEMU is not paused or hung')),
        opts.timeoutMs ?? 10_000,
      );
      opts.signal?.addEventListener('abort', onAbort, { once: true });
      let connected = false;
      socket.on('connect', () => {
        connected = true;
        debug('%s: connected to %s, linking', opts.name, where);
        socket.write(
          encodeLinkRequest({
            channelType: opts.channelType,
            channelId: opts.channelId ?? 0,
            connectionId: opts.connectionId ?? 0,
            channelCaps: opts.channelCaps ?? [],
            miniHeader: opts.miniHeader ?? true,
          }),
        );
      });
      onData = (data: Buffer) => {
        let events;
        try {
          events = reader.feed(data);
        } catch (err) {
          const e = err instanceof SpiceError ? err : new SpiceError('ERR_SPICE_PROTOCOL', String(err), 'report it with NODE_DEBUG=glasspane:spice output', { cause: err });
          if (channel) channel.finish(e);
          else fail(e);
          return;
        }
        // A big read (a flood) gives the window's thread a turn before the next one (SocketFlow.yieldTurn).
        if (channel && !channel.isClosed && data.length >= YIELD_BYTES) channel.flow.yieldTurn();
        for (let i = 0; i < events.length; i++) {
          const ev = events[i]!;
          if (channel) {
            // The rest of this read are channel messages: delivered TURN_BUDGET per turn.
            channel.deliver(events, i);
            return;
          }
          if (ev.kind === 'link') {
            if (ev.reply.error !== LinkError.OK) return fail(linkRefused(ev.reply.error, opts.name, 'link'));
            reply = ev.reply;
            let ticket: Buffer;
            try {
              ticket = encryptTicket(ev.reply.publicKey, opts.password ?? '');
            } catch (err) {
              return fail(err instanceof SpiceError ? err : new SpiceError('ERR_SPICE_PROTOCOL', `SPICE ${opts.name} link: the ticket could not be made: ${String(err)}`, 'check that the address is a SPICE server', { cause: err, permanent: true }));
            }
            socket.write(Buffer.concat([encodeAuthSelection(), ticket]));
          } else if (ev.kind === 'auth') {
            if (ev.result !== LinkError.OK) return fail(linkRefused(ev.result, opts.name, 'ticket'));
            settled = true;
            clearTimeout(timer);
            opts.signal?.removeEventListener('abort', onAbort);
            debug('%s: linked (mini header %s)', opts.name, reader.miniHeader);
            channel = new SpiceChannel(opts.name, socket, reader, reply!);
            // Nothing more is read until the owner attaches (see MAX_EARLY).
            channel.flow.pause('attach');
            resolve(channel);
          }
        }
      };
      socket.on('error', (err: NodeJS.ErrnoException) => {
        if (channel) return channel.finish(new SpiceError('ERR_SPICE_CLOSED', `SPICE ${opts.name} channel at ${where} failed: ${err.message}`, 'check that QEMU is still running', { cause: err }));
        if (connected) return fail(new SpiceError('ERR_SPICE_CLOSED', `SPICE server at ${where} dropped the ${opts.name} channel during the link (${reader.where}): ${err.message}`, 'check QEMU\'s stderr: the server logs why it refused the link', { cause: err }));
        fail(connectError(err, where, opts.name));
      });
      socket.on('close', () => {
        if (channel) {
          let err: SpiceError | undefined;
          try {
            reader.end();
          } catch (e) {
            err = e as SpiceError;
          }
          channel.finish(
            err ??
              new SpiceError(
                'ERR_SPICE_CLOSED',
                `SPICE server closed the ${opts.name} channel${channel.disconnectReason !== undefined ? ` (DISCONNECTING reason ${channel.disconnectReason})` : ''}`,
                'check that QEMU is still running; another SPICE client connecting takes the session over',
              ),
          );
          return;
        }
        try {
          reader.end();
        } catch (e) {
          return fail(e as SpiceError);
        }
        fail(new SpiceError('ERR_SPICE_CLOSED', `SPICE server at ${where} closed the connection before the ${opts.name} channel was linked`, 'check QEMU\'s stderr: the server logs why it refused the link'));
      });
    });
  }

  /**
   * Starts delivery: channel messages go to `onMessage`, the end to `onClose` (once). Anything
   * that arrived between open() resolving and this call is delivered now, in order.
   */
  attach(onMessage: MessageHandler, onClose: (err?: SpiceError) => void): void {
    this.onMessage = onMessage;
    this.onClose = onClose;
    this.flow.resume('attach');
    const early = this.early;
    this.early = [];
    for (const [t, p] of early) {
      if (this.closed && !this.earlyClose) break;
      try {
        onMessage(t, p);
      } catch (err) {
        this.handlerFailed(t, err);
      }
    }
    if (this.earlyClose) {
      const { err } = this.earlyClose;
      this.earlyClose = undefined;
      onClose(err);
    }
  }

  /**
   * Queues one message; the messages of one turn of the event loop go out in one write, in order
   * (a microtask later: before any timer or I/O). A no-op once closed (input after a disconnect is
   * dropped, not queued).
   */
  send(type: number, payload: Uint8Array = new Uint8Array(0)): void {
    if (this.closed) return;
    this.flow.write(encodeMessage(type, payload, this.reader.miniHeader, this.serial++));
  }

  /** True once closed by us, by the server or by a protocol error; send() is then a no-op. */
  get isClosed(): boolean {
    return this.closed;
  }

  /** Bytes written and not yet read by the server (the socket's backlog), for senders that may drop (audio). */
  get backlog(): number {
    return this.flow.backlog;
  }

  /**
   * Closes gracefully: the server reads everything already written before it sees the EOF, so
   * a key release sent just before close() is applied. Resolves when the socket is gone (at most
   * 2 s: a server that never closes its side, or never reads, does not keep us waiting).
   */
  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.flow.flush();
    if (this.closed) return Promise.resolve(); // the flush found the server gone
    return new Promise((resolve) => {
      this.socket.once('close', () => resolve());
      this.finish(undefined);
      this.socket.end();
      // Read on (what comes is dropped) so the server's FIN is seen: a paused socket would wait
      // for the timer. The timer keeps the process alive for at most its 2 s, so whoever awaits
      // close() is always answered.
      this.flow.release();
      const t = setTimeout(() => this.socket.destroy(), 2000);
      this.socket.once('close', () => clearTimeout(t));
    });
  }

  /** Ends the channel now because of `err` (an owner's deadline or check); onClose gets `err`. */
  abort(err: SpiceError): void {
    this.finish(err);
  }

  private finish(err: SpiceError | undefined): void {
    if (this.closed) return;
    this.closed = true;
    if (err) {
      debug('%s: closed: %s', this.name, err.message);
      this.flow.drop();
      this.socket.destroy();
    }
    if (this.onClose) this.onClose(err);
    else this.earlyClose = { err };
  }

  /** Hands the messages of one read (from index `from`) to dispatch, TURN_BUDGET per turn. */
  private deliver(events: ReaderEvent[], from: number): void {
    this.pending = events;
    this.pendingAt = from;
    this.drainPending();
  }

  private drainPending(): void {
    const events = this.pending;
    for (let n = 0; this.pendingAt < events.length && n < TURN_BUDGET && !this.closed; n++) {
      const ev = events[this.pendingAt++]!;
      if (ev.kind !== 'message') continue;
      try {
        this.dispatch(ev.type, ev.payload);
      } catch (err) {
        this.handlerFailed(ev.type, err);
      }
    }
    if (this.pendingAt < events.length && !this.closed) {
      this.flow.pause('budget');
      setImmediate(() => this.drainPending());
      return;
    }
    this.pending = [];
    this.pendingAt = 0;
    this.flow.resume('budget');
  }

  /** A handler threw (a bug, a field it refuses): end this channel, never the process. */
  private handlerFailed(type: number, err: unknown): void {
    this.finish(err instanceof SpiceError ? err : new SpiceError('ERR_SPICE_PROTOCOL', `SPICE ${this.name} message type ${type} could not be handled: ${(err as Error).message}`, 'report it with NODE_DEBUG=glasspane:spice output', { cause: err }));
  }

  private dispatch(type: number, payload: Buffer): void {
    if (this.ackWindow > 0 && ++this.ackCount >= this.ackWindow) {
      this.ackCount = 0;
      this.send(ClientMsg.ACK);
    }
    switch (type) {
      case ServerMsg.SET_ACK: {
        if (payload.length < 8) return this.protocolError(type, payload, 8);
        const generation = payload.readUInt32LE(0);
        this.ackWindow = payload.readUInt32LE(4);
        this.ackCount = 0;
        const b = Buffer.alloc(4);
        b.writeUInt32LE(generation, 0);
        this.send(ClientMsg.ACK_SYNC, b);
        return;
      }
      case ServerMsg.PING: {
        if (payload.length < 12) return this.protocolError(type, payload, 12);
        // PONG is exactly id + timestamp; the padding of bandwidth-test PINGs is not echoed.
        this.send(ClientMsg.PONG, payload.subarray(0, 12));
        return;
      }
      case ServerMsg.DISCONNECTING:
        this.disconnectReason = payload.length >= 12 ? payload.readUInt32LE(8) : 0;
        if (debugOn) debug('%s: server is disconnecting (reason %d)', this.name, this.disconnectReason);
        return;
      case ServerMsg.NOTIFY: {
        // Only for the debug log, and only its first 200 bytes: a flood of 1 MiB NOTIFYs costs nothing.
        if (debug.enabled && payload.length >= 24) {
          const len = Math.min(payload.readUInt32LE(20), 200);
          const text = payload.subarray(24, 24 + len).toString('utf8').replace(/\0.*$/s, '');
          debug('%s: NOTIFY severity %d: %s', this.name, payload.readUInt32LE(8), text);
        }
        return;
      }
      case ServerMsg.MIGRATE:
      case ServerMsg.MIGRATE_DATA:
      case ServerMsg.WAIT_FOR_CHANNELS:
      case ServerMsg.LIST:
        return;
      default:
        if (this.onMessage) this.onMessage(type, payload);
        else if (this.early.length < MAX_EARLY) this.early.push([type, payload]);
        else this.finish(new SpiceError('ERR_SPICE_PROTOCOL', `SPICE server sent over ${MAX_EARLY} ${this.name} messages before the channel was set up`, 'this is a server bug or not a SPICE server; report it with NODE_DEBUG=glasspane:spice output'));
    }
  }

  /**
   * A message shorter than its layout: the stream cannot be trusted any more. `what` names the
   * message (and the field that needs the bytes) in the error, e.g. "VOLUME (n = 3 levels)".
   */
  protocolError(type: number, payload: Buffer, need: number, what?: string): void {
    this.finish(
      new SpiceError('ERR_SPICE_PROTOCOL', `SPICE ${this.name} message ${what ? `${what} (type ${type})` : `type ${type}`} has ${payload.length} bytes, its layout needs ${need}`, 'this is a server bug or not a SPICE server; report it with NODE_DEBUG=glasspane:spice output'),
    );
  }
}

function connectError(err: NodeJS.ErrnoException, where: string, name: string): SpiceError {
  const fixes: Record<string, string> = {
    ECONNREFUSED: 'start the VM, or check the port of QEMU\'s -spice port= option',
    ENOENT: 'start the VM, or check the path of QEMU\'s -spice unix=on,addr= option',
    EACCES: 'run glasspane as a user that may open the socket (check its owner and mode)',
    ETIMEDOUT: 'check the host and that no firewall drops the connection',
  };
  return new SpiceError(
    'ERR_SPICE_CONNECT',
    `cannot connect to the SPICE server at ${where} for the ${name} channel: ${err.code && !err.message.includes(err.code) ? `${err.code} ` : ''}${err.message}`,
    fixes[err.code ?? ''] ?? 'check the address and that QEMU is running with -spice',
    { cause: err },
  );
}
