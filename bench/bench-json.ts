/**
 * The shape of `npm run bench -- --json` and of bench/results/<date>.json: what run.ts writes and
 * chart.ts draws. Its own module so the two share it without importing each other.
 */
import type { Summary } from './lib.js';
import type { PollWindowRow, WindowRow } from './window.js';

/** One bench run's results: every figure the table prints, with the 1 ms polling consumer beside it. */
export interface BenchJson {
  copy: Array<{ mode: string; memcpyMs: number; copyMs: number; efficiency: number }>;
  /** Post → the relay (the window's relay thread) sees the message. */
  notifyUs: Summary | null;
  /** The machine's own wake-up floor: two processes, one storing a word and futex-waking the other, at the notification rate. */
  wakeFloorUs: { p50: number; p99: number } | null;
  pipeline: Array<{ mode: string; ratio: number | null }>;
  /**
   * Added latency: the consumer holds the whole frame − the producer finished writing it, per
   * frame, p50 in µs and ÷ one memcpy of the frame (issue 12 target ≤ 0.3).
   */
  handoff: Array<{ mode: string; p50Us: number | null; ratio: number | null }>;
  sustained: Array<{ mode: string; fps: number; seconds: number; lost: number; verifyFailures: number }>;
  /** The window process (window open, guest desktop still), % of one core; the relay thread alone with --no-present. */
  idleCpuPct: number | null;
  /** The viewer under Xvfb (for information), or why it was not measured. */
  present: string | { mode: string; fps: number; presentMs: number | null; presentedLatencyMs: number | null; renderFps: number };
  /** The real viewer window under Xvfb per stream, next to the same stream headless (issue 12), glass to glass (issue 22). */
  window: WindowRow[];
  compare: {
    poll1ms: {
      notifyUs: Summary | null;
      pipeline: Array<{ mode: string; ratio: number | null }>;
      handoff: Array<{ mode: string; p50Us: number | null; ratio: number | null }>;
      sustained: Array<{ mode: string; fps: number; seconds: number; lost: number; verifyFailures: number }>;
      idleCpuPct: number | null;
      /** B7's consumer in the same window. */
      window: PollWindowRow[];
    };
  };
  machine: Record<string, unknown>;
}
