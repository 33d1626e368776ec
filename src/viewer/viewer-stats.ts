/**
 * The figures the OSD shows, from real counters: renders and guest frames counted as they happen,
 * latency sampled per presented guest frame (copied out of the region → render returned), and the
 * cost of each render call. `tick()` once a second turns counts into rates.
 */
import { LatencySamples } from '../relay/stats.js';

/**
 * The figures of the last tick(): rates per second, latencies and render cost in ms, and the
 * running counts.
 */
export interface ViewerFigures {
  /** Renders per second over the last tick. */
  fps: number;
  /** Guest frames presented per second over the last tick. */
  ups: number;
  /** Median copied→presented latency over the last tick, ms. */
  latencyMs: number | null;
  /** The same, 99th percentile. */
  latencyP99Ms: number | null;
  /** Median time spent in the render call, ms. */
  presentMs: number | null;
  frames: number;
  renders: number;
}

/**
 * Counts renders and presented guest frames as they happen; tick() (once a second) turns them
 * into rates. Single-threaded; times in ms.
 */
export class ViewerStats {
  frames = 0;
  renders = 0;
  private lastFrames = 0;
  private lastRenders = 0;
  private lastTick = performance.now();
  private readonly latency = new LatencySamples(4096);
  private readonly present = new LatencySamples(4096);
  figures: ViewerFigures = { fps: 0, ups: 0, latencyMs: null, latencyP99Ms: null, presentMs: null, frames: 0, renders: 0 };

  /** A guest frame was presented `latencyMs` after the relay copied it out of the region. */
  frame(latencyMs: number): void {
    this.frames++;
    this.latency.add(latencyMs);
  }

  /** A present happened; the render call took `costMs`. */
  render(costMs: number): void {
    this.renders++;
    this.present.add(costMs);
  }

  /**
   * Turns the counts since the last tick into rates (per second of `now` − last tick, ms) and
   * starts a new window; returns (and keeps in `figures`) a new object.
   */
  tick(now = performance.now()): ViewerFigures {
    const secs = Math.max(0.001, (now - this.lastTick) / 1000);
    this.figures = {
      fps: (this.renders - this.lastRenders) / secs,
      ups: (this.frames - this.lastFrames) / secs,
      latencyMs: this.latency.percentile(50),
      latencyP99Ms: this.latency.percentile(99),
      presentMs: this.present.percentile(50),
      frames: this.frames,
      renders: this.renders,
    };
    this.lastTick = now;
    this.lastFrames = this.frames;
    this.lastRenders = this.renders;
    this.latency.clear();
    this.present.clear();
    return this.figures;
  }
}
