/**
 * Shared pieces of the benchmark trials and their runner: argument parsing, the one-line result
 * protocol between a trial and the runner, percentiles, and the frame sizes that mean something.
 * A trial is a fresh process (`node dist/bench/<trial>.js …`) that prints exactly one line on
 * stdout: `BENCH_RESULT <json>`. Anything else it prints goes to stderr.
 */
import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { WatcherOptions } from '../src/native.js';

export const BENCH_DIR = dirname(fileURLToPath(import.meta.url));
export const RESULT_PREFIX = 'BENCH_RESULT ';

export interface Mode {
  mode: string;
  width: number;
  height: number;
}

export const MODES: Mode[] = [
  { mode: '1920x1080', width: 1920, height: 1080 },
  { mode: '2560x1440', width: 2560, height: 1440 },
  { mode: '3840x2160', width: 3840, height: 2160 },
];

export function parseMode(s: string): Mode {
  const m = /^(\d+)x(\d+)$/.exec(s);
  if (!m) throw new Error(`mode "${s}" is not WIDTHxHEIGHT`);
  return { mode: s, width: Number(m[1]), height: Number(m[2]) };
}

/** `--name value` and `--flag` arguments into a map (flags map to 'true'). */
export function parseArgs(argv: string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (!a.startsWith('--')) throw new Error(`unexpected argument "${a}"`);
    const next = argv[i + 1];
    if (next !== undefined && !next.startsWith('--')) {
      out.set(a.slice(2), next);
      i++;
    } else {
      out.set(a.slice(2), 'true');
    }
  }
  return out;
}

export function numArg(args: Map<string, string>, name: string, def: number): number {
  const v = args.get(name);
  if (v === undefined) return def;
  const n = Number(v);
  if (!Number.isFinite(n)) throw new Error(`--${name} must be a number, got "${v}"`);
  return n;
}

/** Prints the trial's result line (the only stdout output of a trial). */
export function emitResult(result: unknown): void {
  process.stdout.write(`${RESULT_PREFIX}${JSON.stringify(result)}\n`);
}

/** Nearest-rank percentile of unsorted samples; null with none. */
export function percentile(xs: ArrayLike<number>, p: number): number | null {
  if (!xs.length) return null;
  const s = Float64Array.from(xs).sort();
  const rank = Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1));
  return s[rank]!;
}

export function median(xs: ArrayLike<number>): number {
  return percentile(xs, 50) ?? NaN;
}

/** Rounds to `digits` decimals (numbers in the JSON stay readable). */
export function round(v: number, digits = 3): number {
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}

export interface Summary {
  p50: number;
  p99: number;
  max: number;
}

export function summarize(xs: ArrayLike<number>, digits = 1): Summary | null {
  if (!xs.length) return null;
  return { p50: round(percentile(xs, 50)!, digits), p99: round(percentile(xs, 99)!, digits), max: round(percentile(xs, 100)!, digits) };
}

/** Keeps at most `n` evenly spaced samples (enough for a histogram in the chart). */
export function thin(xs: number[], n = 2000): number[] {
  if (xs.length <= n) return xs;
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push(xs[Math.floor((i * xs.length) / n)]!);
  return out;
}

export interface TrialRun<T> {
  result: T;
  wallMs: number;
}

/**
 * Runs `node dist/bench/<trial>.js args` in a fresh process and returns its result line.
 * Rejects with the trial's stderr when it fails or prints no result.
 */
export function runTrial<T>(trial: string, args: string[], timeoutMs = 60_000): Promise<TrialRun<T>> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(BENCH_DIR, `${trial}.js`), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    const timer = setTimeout(() => {
      err += `\n(killed after ${timeoutMs} ms)`;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      const line = out.split('\n').find((l) => l.startsWith(RESULT_PREFIX));
      if (code !== 0 || !line) {
        reject(new Error(`trial ${trial} ${args.join(' ')} failed (exit ${code ?? signal}):\n${err.trim() || out.trim()}`));
        return;
      }
      resolve({ result: JSON.parse(line.slice(RESULT_PREFIX.length)) as T, wallMs: performance.now() - started });
    });
  });
}

/** A /dev/shm path unique to this process, removed when the process exits (even on a crash). */
export function benchShmPath(tag: string): string {
  const path = `/dev/shm/glasspane-bench-${process.pid}-${tag}`;
  process.once('exit', () => rmSync(path, { force: true }));
  return path;
}

export interface ProducerStats {
  framesPosted: number;
  waitsForConsumer: number;
  /** Post → the producer's own pixel write finished (µs). */
  writeDoneUs: Summary | null;
  /**
   * Per frame: [post time, write finished] (CLOCK_MONOTONIC ns as decimal strings; the same clock
   * in every process), so a consumer can pair them with when it held each frame.
   */
  writeDone?: Array<[string, string]>;
  /** `--scene solid`: per frame [serial, post time, write finished] (CLOCK_MONOTONIC ns as decimal strings). */
  frameLog?: Array<[number, string, string]>;
}

/** `spinUs=50,maxSleepUs=100` into WatcherOptions (undefined: the native defaults). */
export function parseWatcher(s: string | undefined): WatcherOptions | undefined {
  if (!s) return undefined;
  const o: Record<string, number> = {};
  for (const kv of s.split(',')) {
    const [k, v] = kv.split('=');
    if (!k || v === undefined || !Number.isFinite(Number(v))) throw new Error(`--watcher: "${kv}" is not key=number`);
    o[k] = Number(v);
  }
  return o as WatcherOptions;
}

/** The producer's counters at one moment (`atNs`: its CLOCK_MONOTONIC, the same clock as ours). */
export interface ProducerSnapshot {
  framesPosted: number;
  waitsForConsumer: number;
  atNs: bigint;
}

export interface ProducerProcess {
  /** Stops it; its whole-run statistics. */
  stop: () => Promise<ProducerStats | null>;
  /** Its counters now (asked for with SIGUSR1). */
  snapshot: () => Promise<ProducerSnapshot>;
}

/** Starts the producer process and resolves once its region and session exist. */
export function startProducer(args: string[]): Promise<ProducerProcess> {
  // stdin is a pipe the producer watches: it stops when this process goes, however it goes.
  const child = spawn(process.execPath, [join(BENCH_DIR, 'producer.js'), ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stderr.on('data', (d) => (err += d));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the producer did not start in 60 s: ${err}`)), 60_000);
    child.once('exit', (code) => reject(new Error(`the producer exited (${code}): ${err}`)));
    child.stdout.on('data', (d) => {
      const before = out;
      out += d;
      if (!before.includes('READY') && out.includes('READY')) {
        clearTimeout(timer);
        resolve({
          snapshot: () =>
            new Promise<ProducerSnapshot>((resolveSnap, rejectSnap) => {
              // Complete lines only (the last element is what follows the last newline).
              const statsLines = () => out.split('\n').slice(0, -1).filter((l) => l.startsWith('STATS '));
              const seen = statsLines().length;
              const t = setTimeout(() => rejectSnap(new Error('the producer did not answer SIGUSR1 in 5 s')), 5000);
              const onData = () => {
                const complete = statsLines();
                if (complete.length <= seen) return;
                clearTimeout(t);
                child.stdout.off('data', onData);
                const j = JSON.parse(complete[seen]!.slice(6)) as { framesPosted: number; waitsForConsumer: number; atNs: string };
                resolveSnap({ framesPosted: j.framesPosted, waitsForConsumer: j.waitsForConsumer, atNs: BigInt(j.atNs) });
              };
              child.stdout.on('data', onData);
              child.kill('SIGUSR1');
            }),
          stop: async () => {
            child.kill('SIGTERM');
            const t = setTimeout(() => child.kill('SIGKILL'), 5000);
            await exited;
            clearTimeout(t);
            const line = out.split('\n').find((l) => l.startsWith(RESULT_PREFIX));
            if (!line) return null;
            const s = JSON.parse(line.slice(RESULT_PREFIX.length)) as ProducerStats;
            return { framesPosted: s.framesPosted, waitsForConsumer: s.waitsForConsumer, writeDoneUs: s.writeDoneUs, writeDone: s.writeDone, frameLog: s.frameLog };
          },
        });
      }
    });
  });
}

