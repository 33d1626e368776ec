/**
 * The headless consumer: runs the relay without a window — the same relay thread the window runs
 * (ThreadedRelay), taking every frame in order instead of the newest — optionally verifies every
 * frame with a verifier (e.g. guest-stub's scene check) on this thread while the relay thread
 * copies the next, and gathers the figures `glasspane view --headless` prints. Everything
 * user-visible goes through callbacks; this module prints nothing.
 */
import type { LentFrame, RelayOptions } from './frame-relay.js';
import { ThreadedRelay, type QueuedFrame } from './threaded-relay.js';
import { FrameCounter, LatencySamples } from './stats.js';
import { LGMP } from '../lgmp/layout.js';
import type { ErrorCode } from '../errors.js';

/** How often `onSecond` gets the running report (ms): the once-a-second line of `view --headless`. */
export const REPORT_INTERVAL_MS = 1000;

/** Verifies one frame's pixels; returns an error message, or null when the frame is right. Also returns the producer timestamp if the pixels carry one. */
export type FrameVerifier = (frame: LentFrame) => { error: string | null; postedNs?: bigint };

/**
 * The relay's options plus when to stop (after `seconds`, after `frames` frames, or when `stop`
 * is aborted, whichever comes first; with none of them it runs until aborted), an optional
 * per-frame verifier, and callbacks for what the CLI prints (problems, status lines, a report each
 * second).
 */
export interface HeadlessOptions extends Omit<RelayOptions, 'bell' | 'waitOnThisThread' | 'copyOnThisThread'> {
  seconds?: number;
  frames?: number;
  verifier?: FrameVerifier;
  onProblem?: (message: string) => void;
  onStatus?: (message: string) => void;
  onSecond?: (r: HeadlessReport) => void;
  /**
   * Ends the run (with its report) when aborted, as `seconds` and `frames` do. The process's
   * signals are the caller's to map onto it: this module installs no signal handlers.
   */
  stop?: AbortSignal;
}

/**
 * What a headless run measured. `ups` is unique frames per second over the run (one decimal);
 * latencies in ms (three decimals), null without samples; `errors` lists distinct problems that
 * were not recovered by a later session (at most 100).
 */
export interface HeadlessReport {
  frames: number;
  uniqueFrames: number;
  ups: number;
  verifyFailures: number;
  /**
   * Frame latency: from the producer's post (when the frames carry their post time, as guest-stub's
   * verifiable scene does with --verify) or else from the moment the relay found the frame's
   * message, to the whole frame held — the part glasspane adds. `latencyFrom` says which.
   */
  latencyMs: { p50: number | null; p99: number | null };
  latencyFrom: 'post' | 'seen' | null;
  session: { lgmpVersion: number | null; kvmfrVersion: number | null; producerVersion: string | null };
  sessions: number;
  errors: string[];
  /** Live: unique frames in the last second. */
  lastSecondUps: number;
}

/** Problems that report something the relay already recovered from. */
const RECOVERED: ReadonlySet<ErrorCode> = new Set<ErrorCode>(['ERR_SESSION_ENDED', 'ERR_SUBSCRIPTION_LOST', 'ERR_PRODUCER_STALLED', 'ERR_REGION_TRUNCATED', 'ERR_REGION_REPLACED']);

/** Problems that a later session resolves (the region appeared, the producer finished starting). */
const PASSING: ReadonlySet<ErrorCode> = new Set<ErrorCode>(['ERR_REGION_OPEN', 'ERR_NO_PRODUCER', 'ERR_PRODUCER_STARTING']);

/**
 * Runs the relay on its own thread (ThreadedRelay, every frame in order) until a stop condition of
 * `o`, then closes it and resolves with the report. Never rejects for guest data (it all becomes
 * `errors`); rejects with ERR_RELAY_THREAD when the relay thread's module is missing. A verifier
 * that throws counts as a failed verification, onStatus and onProblem must not throw, and onSecond
 * runs on a timer and must not throw. Installs no signal handlers: the caller maps them onto
 * `o.stop`.
 */
export async function runHeadless(o: HeadlessOptions): Promise<HeadlessReport> {
  const { seconds, frames, verifier, onProblem, onStatus, onSecond, stop, ...relayOptions } = o;
  const relay = new ThreadedRelay({ ...relayOptions, order: 'queue' });
  const counter = new FrameCounter();
  const latency = new LatencySamples();
  const errors: string[] = [];
  /** Errors that a later session resolves (the region appeared, the producer started). */
  const transient = new Set<string>();
  let verifyFailures = 0;
  /** Latency samples are post → held while every frame so far carried its post time. */
  let fromPost = true;
  let sessions = 0;
  let session: HeadlessReport['session'] = { lgmpVersion: null, kvmfrVersion: null, producerVersion: null };
  const addError = (m: string) => {
    if (errors.length < 100 && !errors.includes(m)) errors.push(m);
  };

  const report = (): HeadlessReport => ({
    frames: counter.frames,
    uniqueFrames: counter.uniqueFrames,
    ups: Math.round(counter.ups() * 10) / 10,
    verifyFailures,
    latencyMs: { p50: round3(latency.percentile(50)), p99: round3(latency.percentile(99)) },
    latencyFrom: latency.count === 0 ? null : fromPost ? 'post' : 'seen',
    session,
    sessions,
    errors,
    lastSecondUps: counter.lastSecondUps,
  });

  let finished = false;
  let finish!: () => void;
  const done = new Promise<void>((resolve) => {
    finish = () => {
      finished = true;
      resolve();
    };
  });

  relay.on('session', (s) => {
    sessions++;
    for (const m of transient) {
      const i = errors.indexOf(m);
      if (i >= 0) errors.splice(i, 1);
    }
    transient.clear();
    session = { lgmpVersion: LGMP.VERSION, kvmfrVersion: s.info.version, producerVersion: s.info.producerVersion };
    onStatus?.(`session ${s.sessionID.toString(16)} with ${s.info.producerVersion || 'unknown producer'}${s.info.osInfo ? ` on ${s.info.osInfo.name}` : ''}`);
  });
  relay.on('status', (s) => onStatus?.(s.message));
  relay.on('problem', (p) => {
    // Session changes, a producer that stopped and came back, and resubscriptions are recovered
    // events, not errors of the run.
    if (!RECOVERED.has(p.code)) addError(p.message);
    if (PASSING.has(p.code) && errors.includes(p.message)) transient.add(p.message);
    onProblem?.(p.fix ? `${p.message}\n  fix: ${p.fix}` : p.message);
  });
  const onFrame = (q: QueuedFrame) => {
    const f: LentFrame = { info: q.info, data: q.data, seenAtNs: q.seenAtNs, copiedAtNs: q.copiedAtNs, release: q.release };
    try {
      counter.record(f.info.frameSerial, performance.now());
      let postedNs: bigint | undefined;
      if (verifier) {
        let v: ReturnType<FrameVerifier>;
        try {
          v = verifier(f);
        } catch (err) {
          v = { error: `the verifier threw: ${(err as Error).message}` };
        }
        if (v.error) {
          verifyFailures++;
          addError(`verify: ${v.error}`);
        }
        if (v.postedNs !== undefined && v.postedNs > 0n) postedNs = v.postedNs;
      }
      if (postedNs === undefined && fromPost) {
        // A real producer's frames carry no post time: measure our part, message found → frame held.
        fromPost = false;
        latency.clear();
      }
      latency.add(Number(f.copiedAtNs - (fromPost ? postedNs! : f.seenAtNs)) / 1e6);
    } finally {
      f.release();
    }
  };
  relay.on('ready', () => {
    // Every frame in order; none after the run ended (the report is final).
    while (!finished) {
      const f = relay.takeNext();
      if (!f) return;
      onFrame(f);
      if (frames !== undefined && counter.frames >= frames) finish();
    }
  });

  const ticker = onSecond ? setInterval(() => onSecond(report()), REPORT_INTERVAL_MS) : null;
  const timer = seconds !== undefined ? setTimeout(finish, seconds * 1000) : null;
  const stopOnAbort = () => finish();
  if (stop?.aborted) finish();
  stop?.addEventListener('abort', stopOnAbort, { once: true });
  const running = relay.start();
  try {
    await Promise.race([done, running]);
  } finally {
    finished = true;
    if (ticker) clearInterval(ticker);
    if (timer) clearTimeout(timer);
    stop?.removeEventListener('abort', stopOnAbort);
    await relay.close();
  }
  return report();
}

function round3(v: number | null): number | null {
  return v === null ? null : Math.round(v * 1000) / 1000;
}
