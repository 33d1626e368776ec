/**
 * Counters for a consumer: frames, unique serials, updates per second, and a latency sample
 * ring (fixed size: recording never allocates) with percentiles.
 */
export class LatencySamples {
  private readonly ring: Float64Array;
  private n = 0;

  constructor(capacity = 1 << 16) {
    this.ring = new Float64Array(capacity);
  }

  /** Records one sample (any unit; the relay uses ms). Past capacity the oldest sample is overwritten. */
  add(ms: number): void {
    this.ring[this.n % this.ring.length] = ms;
    this.n++;
  }

  /** Forgets every sample. */
  clear(): void {
    this.n = 0;
  }

  /** Samples retained (at most the capacity). */
  get count(): number {
    return Math.min(this.n, this.ring.length);
  }

  /** p in [0, 100]; null with no samples. Nearest-rank on the retained samples. */
  percentile(p: number): number | null {
    const c = this.count;
    if (!c) return null;
    const sorted = this.ring.slice(0, c).sort();
    const rank = Math.min(c - 1, Math.max(0, Math.ceil((p / 100) * c) - 1));
    return sorted[rank]!;
  }
}

/**
 * Counts frames handed out (`frames`) and distinct producer serials among them (`uniqueFrames`),
 * and the unique-update rate. Times are in ms from any monotonic clock (performance.now()).
 */
export class FrameCounter {
  frames = 0;
  uniqueFrames = 0;
  private lastSerial = -1;
  private firstAt = 0;
  private lastAt = 0;
  /** Frames in the last whole second, for live display. */
  private windowStart = 0;
  private windowFrames = 0;
  lastSecondUps = 0;

  /**
   * Records a frame with the producer's `serial` seen at `nowMs`; a repeated serial counts as a
   * frame, not a unique one.
   */
  record(serial: number, nowMs: number): void {
    this.frames++;
    if (serial !== this.lastSerial) this.uniqueFrames++;
    this.lastSerial = serial;
    if (!this.firstAt) this.firstAt = nowMs;
    this.lastAt = nowMs;
    if (nowMs - this.windowStart >= 1000) {
      this.lastSecondUps = this.windowFrames;
      this.windowStart = nowMs;
      this.windowFrames = 0;
    }
    this.windowFrames++;
  }

  /** Unique frames per second over the whole run. */
  ups(): number {
    const span = (this.lastAt - this.firstAt) / 1000;
    return span > 0 ? (this.uniqueFrames - 1) / span : 0;
  }
}
