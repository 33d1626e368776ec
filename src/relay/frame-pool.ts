/**
 * A fixed set of frame buffers reused for every frame (no per-frame allocation). A buffer grows
 * only when a larger frame format arrives. acquire() waits while every buffer is lent out — but
 * never forever: after `timeoutMs` it answers 'timeout' so the relay can skip the frame, report
 * that the consumer of its frames is not giving buffers back, and keep the producer moving.
 */
export type AcquireResult = Buffer | 'timeout' | 'closed';

/** Where the relay copies frames to: a pool of its own, or a mailbox shared with another thread. */
export interface FrameBuffers {
  /** A buffer of at least `bytes`; 'timeout' when none is free within `timeoutMs`; 'closed' after abort(). */
  acquire(bytes: number, timeoutMs: number): Promise<AcquireResult>;
  /** Gives back a buffer from acquire() that is not handed on (exactly once). */
  release(buf: Buffer): void;
  /** Ends every wait (closing). */
  abort(): void;
}

/**
 * The relay's own FrameBuffers when it runs without a mailbox: at most `count` buffers, allocated
 * on first use and grown (replaced) when a frame needs more. A buffer returned by acquire() is the
 * caller's until it calls release(buf) exactly once; a buffer released twice or not from this pool
 * corrupts the count. Single-threaded (one event loop).
 */
export class FramePool implements FrameBuffers {
  private free: Buffer[] = [];
  private lent = 0;
  private waiters: Array<(b: Buffer | null) => void> = [];
  private aborted = false;

  constructor(private readonly count: number) {}

  /** Buffers lent out and not yet released. */
  get outstanding(): number {
    return this.lent;
  }

  /** A buffer of at least `bytes`; 'timeout' when none came back within `timeoutMs`; 'closed' after abort(). */
  async acquire(bytes: number, timeoutMs: number): Promise<AcquireResult> {
    if (this.aborted) return 'closed';
    let buf: Buffer | null | undefined = this.free.pop();
    if (!buf && this.lent + this.free.length < this.count) buf = Buffer.alloc(0);
    if (!buf) {
      let timer: NodeJS.Timeout | undefined;
      const got = await new Promise<Buffer | null | 'timeout'>((resolve) => {
        const waiter = (b: Buffer | null) => resolve(b);
        this.waiters.push(waiter);
        timer = setTimeout(() => {
          // Leave the queue in the same turn: a release() after this must not hand us a buffer
          // that nobody would ever give back.
          const i = this.waiters.indexOf(waiter);
          if (i >= 0) this.waiters.splice(i, 1);
          resolve('timeout');
        }, timeoutMs);
      });
      clearTimeout(timer);
      if (got === 'timeout') return 'timeout';
      if (!got) return 'closed';
      buf = got;
    }
    this.lent++;
    if (buf.length < bytes) buf = Buffer.allocUnsafeSlow(bytes);
    return buf;
  }

  /** Gives a buffer back (exactly once per acquire). */
  release(buf: Buffer): void {
    this.lent--;
    const w = this.waiters.shift();
    if (w) w(buf);
    else this.free.push(buf);
  }

  /**
   * Ends every waiting acquire() with 'closed' and makes later ones return 'closed' at once. Lent
   * buffers may still be released.
   */
  abort(): void {
    this.aborted = true;
    for (const w of this.waiters.splice(0)) w(null);
  }
}
