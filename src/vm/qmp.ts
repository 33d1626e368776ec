/**
 * A QMP client (QEMU docs/interop/qmp-spec.rst): greeting, `qmp_capabilities`, commands matched
 * to replies by "id", asynchronous events. One JSON object per line in both directions.
 *
 * Contracts:
 * - `connectQmp` retries while the socket does not exist yet or refuses (QEMU still starting),
 *   and gives up at the deadline or as soon as `stillStarting()` says QEMU is gone.
 * - A QMP monitor serves one client at a time; a second client connects but gets no greeting,
 *   so the greeting wait has its own timeout ("busy").
 * - `closed` resolves when the socket ends, with whether a SHUTDOWN event was seen before: EOF
 *   without SHUTDOWN is how a crash (or kill -9) looks.
 * - Unknown keys in replies are ignored (7.2 adds e.g. `singlestep` to query-status).
 */
import { EventEmitter } from 'node:events';
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { debuglog } from 'node:util';
import { GlasspaneError } from '../errors.js';

const debug = debuglog('glasspane:vm');

/** One QMP event as QEMU sent it (`data` unvalidated: read the keys you need defensively). */
export interface QmpEvent {
  event: string;
  data?: Record<string, unknown>;
  timestamp?: { seconds: number; microseconds: number };
}

/**
 * A command QEMU answered with an error: GlasspaneError ERR_QMP_COMMAND naming the command, QEMU's
 * error class and its description.
 */
export class QmpCommandError extends GlasspaneError {
  constructor(command: string, cls: string, desc: string) {
    super('ERR_QMP_COMMAND', `QMP ${command} failed: ${cls}: ${desc}`, 'see the QEMU log in the state directory');
  }
}

interface Pending {
  command: string;
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
}

/** How many past events a QmpClient keeps. */
export const MAX_KEPT_EVENTS = 256;

/**
 * One QMP connection (see the module comment), made by connectQmp() or handshake(). Main thread
 * (socket events). QEMU is our own child and its replies are trusted to be QMP: lines that are not
 * JSON are skipped, replies matched by id, unknown keys ignored.
 */
export class QmpClient extends EventEmitter {
  private buffer = '';
  private nextId = 1;
  private readonly pending = new Map<string, Pending>();
  private shutdownSeen = false;
  private greetingWaiter: ((v: Record<string, unknown>) => void) | null = null;
  /** Resolves when the connection ends. */
  readonly closed: Promise<{ shutdownSeen: boolean }>;
  /**
   * The most recent events (at most MAX_KEPT_EVENTS), for waitForEvent() to find one that came
   * before it was called: a supervisor lives for days and must not keep every RTC_CHANGE.
   */
  readonly events: QmpEvent[] = [];

  private constructor(private readonly socket: net.Socket) {
    super();
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => this.onData(chunk));
    this.closed = new Promise((resolve) => {
      socket.on('close', () => {
        for (const [, p] of this.pending) {
          if (p.command === 'quit') p.resolve({});
          else p.reject(new GlasspaneError('ERR_QMP_CLOSED', `QEMU closed the QMP connection during ${p.command}`, 'check whether QEMU is still running (`glasspane vm status NAME`)'));
        }
        this.pending.clear();
        resolve({ shutdownSeen: this.shutdownSeen });
      });
    });
    socket.on('error', (err) => debug('qmp socket error: %s', err.message));
  }

  private onData(chunk: string): void {
    this.buffer += chunk;
    let nl: number;
    while ((nl = this.buffer.indexOf('\n')) >= 0) {
      const line = this.buffer.slice(0, nl).trim();
      this.buffer = this.buffer.slice(nl + 1);
      if (!line) continue;
      let msg: Record<string, unknown>;
      try {
        msg = JSON.parse(line);
      } catch {
        debug('qmp: unparsable line %s', line);
        continue;
      }
      this.onMessage(msg);
    }
  }

  private onMessage(msg: Record<string, unknown>): void {
    if ('QMP' in msg) {
      this.greetingWaiter?.(msg);
      return;
    }
    if (typeof msg.event === 'string') {
      const ev = msg as unknown as QmpEvent;
      debug('qmp event %s %j', ev.event, ev.data);
      if (ev.event === 'SHUTDOWN') this.shutdownSeen = true;
      this.events.push(ev);
      if (this.events.length > MAX_KEPT_EVENTS) this.events.splice(0, this.events.length - MAX_KEPT_EVENTS);
      this.emit('event', ev);
      return;
    }
    const id = String(msg.id ?? '');
    const p = this.pending.get(id);
    if (!p) return;
    this.pending.delete(id);
    if (msg.error) {
      const e = msg.error as { class?: string; desc?: string };
      p.reject(new QmpCommandError(p.command, e.class ?? 'GenericError', e.desc ?? ''));
    } else {
      p.resolve(msg.return);
    }
  }

  /**
   * Runs a command; `quit` resolves when QEMU closes the connection instead of replying. Rejects
   * with QmpCommandError (ERR_QMP_COMMAND) when QEMU answers with an error and GlasspaneError
   * ERR_QMP_CLOSED when the connection is or becomes closed. No timeout of its own.
   */
  execute<T = unknown>(command: string, args?: Record<string, unknown>): Promise<T> {
    if (this.socket.destroyed) {
      return Promise.reject(new GlasspaneError('ERR_QMP_CLOSED', `QMP connection is closed (${command})`, 'check `glasspane vm status NAME`'));
    }
    const id = `gp-${this.nextId++}`;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { command, resolve: resolve as (v: unknown) => void, reject });
      this.socket.write(`${JSON.stringify({ execute: command, ...(args ? { arguments: args } : {}), id })}\n`);
    });
  }

  /** Waits for an event by name (or the connection closing, which resolves null). */
  waitForEvent(name: string, timeoutMs: number): Promise<QmpEvent | null> {
    const seen = this.events.find((e) => e.event === name);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve) => {
      const onEvent = (ev: QmpEvent) => {
        if (ev.event === name) done(ev);
      };
      const timer = setTimeout(() => done(null), timeoutMs);
      const done = (v: QmpEvent | null) => {
        clearTimeout(timer);
        this.off('event', onEvent);
        resolve(v);
      };
      this.on('event', onEvent);
      void this.closed.then(() => done(null));
    });
  }

  /**
   * Ends the connection at once (pending commands reject with ERR_QMP_CLOSED, `closed` resolves).
   * Safe to call twice.
   */
  close(): void {
    this.socket.end();
    this.socket.destroy();
  }

  /** True once the socket is gone (closed by us or by QEMU). */
  get isClosed(): boolean {
    return this.socket.destroyed;
  }

  /**
   * Completes the handshake on a connected socket: waits up to `greetingTimeoutMs` for the greeting
   * (ERR_QMP_BUSY without one: another client holds the monitor, or not QMP), then negotiates
   * capabilities. `path` is for messages only.
   */
  static async handshake(socket: net.Socket, greetingTimeoutMs: number, path: string): Promise<QmpClient> {
    const client = new QmpClient(socket);
    const greeting = await new Promise<Record<string, unknown> | null>((resolve) => {
      const timer = setTimeout(() => resolve(null), greetingTimeoutMs);
      client.greetingWaiter = (g) => {
        clearTimeout(timer);
        resolve(g);
      };
      void client.closed.then(() => {
        clearTimeout(timer);
        resolve(null);
      });
    });
    if (!greeting) {
      client.close();
      throw new GlasspaneError('ERR_QMP_BUSY', `no QMP greeting on ${path}: another client holds the monitor, or it is not a QMP socket`, 'close the other QMP client (a monitor serves one at a time) and retry');
    }
    debug('qmp greeting %j', greeting);
    await client.execute('qmp_capabilities');
    return client;
  }
}

/** How long connectQmp() keeps trying (ms) and how it learns QEMU exited meanwhile. */
export interface ConnectOptions {
  /** Give up after this long (default 30 s). */
  timeoutMs?: number;
  /** Called between retries; return false to stop waiting (QEMU exited). */
  stillStarting?: () => boolean;
}

/**
 * Connects to the QMP socket at `path` and completes the handshake, retrying every 50 ms while the
 * socket is missing or refuses. Rejects with GlasspaneError ERR_QMP_CONNECT at the deadline (or
 * once `stillStarting()` says no), ERR_QMP_BUSY when another client holds the monitor,
 * ERR_QMP_CLOSED / ERR_QMP_COMMAND when the handshake fails, or the errno error of any other
 * connect failure (EACCES on a root-only socket). The caller owns the client and closes it.
 */
export async function connectQmp(path: string, opts: ConnectOptions = {}): Promise<QmpClient> {
  const deadline = Date.now() + (opts.timeoutMs ?? 30_000);
  let lastErr: Error | null = null;
  for (;;) {
    try {
      const socket = await new Promise<net.Socket>((resolve, reject) => {
        const s = net.createConnection(path);
        s.once('connect', () => resolve(s));
        s.once('error', reject);
      });
      return await QmpClient.handshake(socket, Math.max(1000, Math.min(5000, deadline - Date.now())), path);
    } catch (err) {
      lastErr = err as Error;
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' && code !== 'ECONNREFUSED') throw err;
    }
    if (Date.now() > deadline || (opts.stillStarting && !opts.stillStarting())) break;
    await sleep(50);
  }
  throw new GlasspaneError('ERR_QMP_CONNECT', `cannot connect to QMP at ${path}: ${lastErr?.message ?? 'timed out'}`, 'is the VM running? see `glasspane vm status NAME` and the QEMU log');
}
