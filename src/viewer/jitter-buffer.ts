/**
 * The playback jitter buffer's decisions, kept pure (no SDL, no clock of its own) so they can be
 * tested packet by packet. The host queue itself is SDL's (SDL_QueueAudio): the device thread
 * pulls from it at the sound card's rate; we add each SPICE packet as it arrives.
 *
 * What it keeps: a *margin*, the fewest frames the queue should still hold when a packet
 * arrives. Packets come every ~10 ms from QEMU but late under load; the margin is what covers a
 * late one. It adapts: each underrun (the queue found empty while playing) adds `stepMs`, and
 * each quiet `decayAfterMs` takes 1 ms off again, within [minMarginMs, maxMarginMs].
 *
 * Without drifting: every `windowMs` the lowest queue depth seen at packet arrival is compared
 * with the margin. Above it by more than `toleranceMs`, frames are dropped; below, frames are
 * repeated; at most 1/20 of a packet each time (1/5 when far off), so a clock difference between
 * QEMU and the sound card is absorbed in small steps and the latency returns to the margin
 * instead of growing. After an underrun the queue is refilled with silence up to the margin at
 * once: the stream restarts at the same latency as before. The packets a stall held back then
 * come in a burst; one arriving while the queue is already `ceilingMs` over the margin is stale
 * and dropped whole, so a stall costs one glitch, not seconds of extra latency.
 */

/** The stream (rate in Hz, channel count) and the policy's knobs in ms (defaults in the constructor). */
export interface JitterOptions {
  rate: number;
  channels: number;
  minMarginMs?: number;
  maxMarginMs?: number;
  stepMs?: number;
  toleranceMs?: number;
  windowMs?: number;
  decayAfterMs?: number;
  /** A packet arriving with more than margin + this queued is stale (a burst after a stall): dropped whole. */
  ceilingMs?: number;
}

/** What to queue for one packet, as JitterBuffer.plan() decided it (frame counts at the stream's rate). */
export interface JitterPlan {
  /** Frames of silence to queue before the packet (start, or after an underrun). */
  silenceFrames: number;
  /** The packet to queue, corrected for drift (the input itself when nothing changed). */
  pcm: Buffer;
  /** The queue had run dry: an underrun. */
  underrun: boolean;
  /** Frames queued ahead of this packet's first frame once it is queued. */
  aheadFrames: number;
}

/**
 * The decisions above for one stream (its rate in Hz and channel count). Pure and single-threaded:
 * the caller passes the queue depth and the time (ms, monotonic) with each packet.
 */
export class JitterBuffer {
  underruns = 0;
  droppedFrames = 0;
  repeatedFrames = 0;
  readonly rate: number;
  private readonly frameBytes: number;
  private readonly o: Required<Omit<JitterOptions, 'rate' | 'channels'>>;
  private marginMs: number;
  private primed = false;
  /** Lowest queue depth seen at packet arrival in this window (frames). */
  private windowMin = Infinity;
  private windowStart = 0;
  private lastDecayAt = 0;
  /** Frames still to drop (> 0) or repeat (< 0), spread over the coming packets. */
  private debt = 0;

  constructor(opts: JitterOptions) {
    this.rate = opts.rate;
    this.frameBytes = 2 * opts.channels;
    this.o = {
      minMarginMs: opts.minMarginMs ?? 20,
      maxMarginMs: opts.maxMarginMs ?? 200,
      stepMs: opts.stepMs ?? 10,
      toleranceMs: opts.toleranceMs ?? 8,
      windowMs: opts.windowMs ?? 500,
      decayAfterMs: opts.decayAfterMs ?? 2_000,
      ceilingMs: opts.ceilingMs ?? 40,
    };
    this.marginMs = this.o.minMarginMs;
  }

  /** The margin now, ms. */
  get margin(): number {
    return this.marginMs;
  }

  /** The stream stopped: the next packet starts it again (primes, counts no underrun). */
  reset(): void {
    this.primed = false;
    this.debt = 0;
    this.windowMin = Infinity;
  }

  /** Decides what to queue for one packet; `queuedFrames` is the host queue's depth right now. */
  plan(pcm: Buffer, queuedFrames: number, nowMs: number): JitterPlan {
    const marginFrames = Math.round((this.marginMs * this.rate) / 1000);
    let silenceFrames = 0;
    let underrun = false;
    if (!this.primed) {
      this.primed = true;
      silenceFrames = Math.max(0, marginFrames - queuedFrames);
      this.startWindow(nowMs);
      this.lastDecayAt = nowMs;
    } else if (queuedFrames === 0) {
      underrun = true;
      this.underruns++;
      this.lastDecayAt = nowMs;
      this.marginMs = Math.min(this.o.maxMarginMs, this.marginMs + this.o.stepMs);
      silenceFrames = Math.round((this.marginMs * this.rate) / 1000);
      this.debt = 0;
      this.startWindow(nowMs);
    } else if (queuedFrames > marginFrames + (this.o.ceilingMs * this.rate) / 1000) {
      // Stale: the queue already holds this much. Playing it would keep the latency up for as long
      // as the slow correction takes; skipping it restores the margin at once.
      this.droppedFrames += Math.floor(pcm.length / this.frameBytes);
      return { silenceFrames: 0, pcm: pcm.subarray(0, 0), underrun: false, aheadFrames: queuedFrames };
    } else {
      this.windowMin = Math.min(this.windowMin, queuedFrames);
      if (nowMs - this.windowStart >= this.o.windowMs) {
        const tolerance = (this.o.toleranceMs * this.rate) / 1000;
        const excess = this.windowMin - marginFrames;
        this.debt = Math.abs(excess) > tolerance ? Math.round(excess) : 0;
        this.startWindow(nowMs);
      }
      if (nowMs - this.lastDecayAt >= this.o.decayAfterMs) {
        this.lastDecayAt = nowMs;
        this.marginMs = Math.max(this.o.minMarginMs, this.marginMs - 1);
      }
    }
    const out = this.correct(pcm);
    return { silenceFrames, pcm: out, underrun, aheadFrames: queuedFrames + silenceFrames };
  }

  private startWindow(nowMs: number): void {
    this.windowStart = nowMs;
    this.windowMin = Infinity;
  }

  /**
   * Drops or repeats up to 1/20 of the packet's frames (1/5 while the debt is over four times the
   * tolerance: a burst after a stall, or a device clock far off), as one block at its end. One
   * splice rather than frames spread through the packet: spreading would shift the pitch while
   * correcting (a crude resampler); a splice leaves every other cycle as the guest made it.
   */
  private correct(pcm: Buffer): Buffer {
    const frames = Math.floor(pcm.length / this.frameBytes);
    const big = Math.abs(this.debt) > (4 * this.o.toleranceMs * this.rate) / 1000;
    const n = Math.min(Math.abs(this.debt), Math.floor(frames / (big ? 5 : 20)));
    if (n === 0) return pcm;
    if (this.debt > 0) {
      this.debt -= n;
      this.droppedFrames += n;
      return pcm.subarray(0, (frames - n) * this.frameBytes);
    }
    this.debt += n;
    this.repeatedFrames += n;
    const tail = pcm.subarray((frames - n) * this.frameBytes, frames * this.frameBytes);
    return Buffer.concat([pcm.subarray(0, frames * this.frameBytes), tail]);
  }
}
