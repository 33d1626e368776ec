/**
 * Flow control for one SPICE channel's socket, both ways, so that nothing the server does grows
 * our memory or holds the window's thread:
 * - Writes are gathered and written once per turn of the event loop (a microtask after the first):
 *   the answers to a flood of PINGs in one read are one write, not one per message.
 * - When more than WRITE_HIGH_WATER bytes wait for the server to read them, reading stops until the
 *   socket drains: a server that floods us and reads nothing gets nothing more from us. At
 *   MAX_WRITE_BACKLOG the owner is told (`stalled`) and gives the channel up.
 * - After a big read the owner asks for one turn off (yieldTurn): libuv reads a socket with data
 *   waiting up to 32 times per wake-up, so a flood would otherwise hold the thread for 100s of ms.
 * Reading is paused for any of these reasons (and until the owner attaches its handlers) and
 * resumes when none is left.
 */
import type net from 'node:net';

/** Bytes written and not yet read by the server above which we stop reading the channel until it drains. */
export const WRITE_HIGH_WATER = 256 * 1024;
/** Bytes written and not read by the server at which the channel is given up: the server has stopped reading. */
export const MAX_WRITE_BACKLOG = 4 * 1024 * 1024;

/**
 * Why reading is paused: the owner has not attached yet, one turn off after a big read, messages of
 * the last read still being handled a budget per turn, the server does not read.
 */
export type PauseReason = 'attach' | 'yield' | 'budget' | 'backpressure';

/** The flow control described above, for one socket. Main thread only. */
export class SocketFlow {
  private readonly reasons = new Set<PauseReason>();
  private out: Buffer[] = [];
  private queued = false;

  /**
   * `stalled(backlog)` is called when MAX_WRITE_BACKLOG bytes wait unread; `note` hears of a pause
   * for backpressure (a debug log).
   */
  constructor(
    private readonly socket: net.Socket,
    private readonly stalled: (backlog: number) => void,
    private readonly note?: (what: string) => void,
  ) {}

  /** Bytes written and not yet read by the server (queued here or in the socket). */
  get backlog(): number {
    return this.socket.writableLength + this.out.reduce((n, b) => n + b.length, 0);
  }

  /** Queues bytes; they go out with the rest of this turn's, in order. */
  write(b: Buffer): void {
    this.out.push(b);
    if (this.queued) return;
    this.queued = true;
    queueMicrotask(() => this.flush());
  }

  /** Writes what was queued now (before a graceful end); a no-op on a destroyed socket. */
  flush(): void {
    this.queued = false;
    const out = this.out;
    if (!out.length) return;
    this.out = [];
    if (this.socket.destroyed) return;
    this.socket.write(out.length === 1 ? out[0]! : Buffer.concat(out));
    const backlog = this.socket.writableLength;
    if (backlog >= MAX_WRITE_BACKLOG) return this.stalled(backlog);
    if (backlog > WRITE_HIGH_WATER && !this.reasons.has('backpressure')) {
      this.note?.(`server reads slower than it sends (${backlog} bytes unread): pausing reads`);
      this.pause('backpressure');
      this.socket.once('drain', () => this.resume('backpressure'));
    }
  }

  /** Drops what is queued (the channel ended on an error). */
  drop(): void {
    this.out = [];
  }

  /** Stops reading for `why` (until resume(why)). */
  pause(why: PauseReason): void {
    if (this.reasons.has(why)) return;
    if (this.reasons.size === 0) this.socket.pause();
    this.reasons.add(why);
  }

  /** Ends pause(why); reading resumes when no other reason is left. */
  resume(why: PauseReason): void {
    if (!this.reasons.delete(why)) return;
    if (this.reasons.size === 0 && !this.socket.destroyed) this.socket.resume();
  }

  /** Stops reading until the event loop has run its timers once (see the module comment). */
  yieldTurn(): void {
    if (this.reasons.has('yield')) return;
    this.pause('yield');
    setImmediate(() => this.resume('yield'));
  }

  /** Reads on whatever the reasons (a graceful close waits for the server's FIN). */
  release(): void {
    this.reasons.clear();
    this.socket.resume();
  }
}
