/**
 * A fixed set of frame buffers reused for every frame (no per-frame allocation). A buffer grows
 * only when a larger frame format arrives. acquire() waits while every buffer is lent out.
 */
export class FramePool {
  private free: Buffer[] = [];
  private lent = 0;
  private waiters: Array<(b: Buffer | null) => void> = [];
  private aborted = false;

  constructor(private readonly count: number) {}

  /** A buffer of at least `bytes`, or null once abort() was called. */
  async acquire(bytes: number): Promise<Buffer | null> {
    if (this.aborted) return null;
    let buf: Buffer | null | undefined = this.free.pop();
    if (!buf && this.lent + this.free.length < this.count) buf = Buffer.alloc(0);
    if (!buf) {
      buf = await new Promise<Buffer | null>((resolve) => this.waiters.push(resolve));
      if (!buf) return null;
    }
    this.lent++;
    if (buf.length < bytes) buf = Buffer.allocUnsafeSlow(bytes);
    return buf;
  }

  release(buf: Buffer): void {
    this.lent--;
    const w = this.waiters.shift();
    if (w) w(buf);
    else this.free.push(buf);
  }

  abort(): void {
    this.aborted = true;
    for (const w of this.waiters.splice(0)) w(null);
  }
}
