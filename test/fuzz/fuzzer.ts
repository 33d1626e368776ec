/**
 * The frame-path fuzzer: one long-running consumer (`glasspane view --headless`, or with
 * `window` the real viewer under a private Xvfb) against a producer that cycles through the
 * mutations of mutations.ts. Each case spoils the region for a short time, then the producer
 * starts a clean session; the case is recovered when the consumer takes 3 frames of that session
 * within 4 s (seen from the producer side: posted, acknowledged, not released by timeout).
 *
 * A consumer that exits with a signal is a crash, one that exits otherwise (an uncaught exception)
 * is `uncaught`, one that stops printing its once-a-second line is a hang; each is restarted and
 * the run goes on. Every failure is returned with its spec, so it can be kept as a regression.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { StubProducer } from '../../guest-stub/producer.js';
import type { TamperContext } from '../../guest-stub/tamper.js';
import { allSpecs, describeSpec, drawSpec, prng, tamperFor, type ActiveMutation, type MutationSpec } from './mutations.js';
import { startXvfb, type Xvfb } from '../support/xvfb.js';
import { ROOT } from '../support/helpers.js';

/** The consumer's CLI; FUZZ_CONSUMER_CLI points at another build (e.g. an older release, to see what the fuzzer finds there). */
const CLI = process.env.FUZZ_CONSUMER_CLI ?? join(ROOT, 'dist', 'src', 'cli', 'main.js');
/** A case is recovered when the consumer takes this many frames of the clean session… */
const RECOVERY_FRAMES = 3;
/** …within this long. */
const RECOVERY_MS = 4000;
/** How long a freshly started consumer may take to show its first frames. */
const STARTUP_MS = 60_000;
/** A consumer silent (no once-a-second line) for this long is hung. */
const HANG_MS = 5000;

export interface FuzzOptions {
  seconds: number;
  seed: number;
  /** The real viewer window under Xvfb instead of the headless consumer. */
  window?: boolean;
  /** How long each mutation lasts (ms). */
  caseMs?: number;
  /** Stop after this many cases. */
  maxCases?: number;
  /** Replay exactly these cases (each `repeat` times) instead of drawing at random. */
  specs?: MutationSpec[];
  repeat?: number;
  /** Progress lines (a few per minute). */
  log?: (line: string) => void;
}

export interface FuzzFailure {
  what: 'crash' | 'uncaught' | 'hang' | 'not-recovered';
  spec: MutationSpec;
  description: string;
  detail: string;
}

export interface FuzzReport {
  cases: number;
  crashes: number;
  hangs: number;
  uncaught: number;
  notRecovered: number;
  recoveryMs: { p50: number | null; p99: number | null; max: number | null };
  seed: number;
  failures: FuzzFailure[];
  /** Recovery per kind of case (the structure spoiled, garbage, or the producer event). */
  byKind: Record<string, { cases: number; p50: number | null; max: number | null }>;
}

/** The kind a case is counted under in `byKind`. */
function kindOf(s: MutationSpec): string {
  return s.kind === 'field' || s.kind === 'flip' ? s.struct : s.kind === 'event' ? s.event : s.kind;
}

/** The consumer process and what it has said lately. */
class Consumer {
  readonly child: ChildProcess;
  lastOutput = performance.now();
  exit: { code: number | null; signal: NodeJS.Signals | null } | null = null;
  private tail = '';

  constructor(shm: string, env: NodeJS.ProcessEnv | null) {
    const args = env ? ['view', '--shm', shm, '--stats', '--no-vsync', '--size', '320x180', '--title', 'fuzz'] : ['view', '--shm', shm, '--headless'];
    this.child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: env ?? process.env });
    const seen = (d: Buffer) => {
      this.lastOutput = performance.now();
      this.tail = (this.tail + d.toString()).slice(-4000);
    };
    this.child.stdout!.on('data', seen);
    this.child.stderr!.on('data', seen);
    this.child.once('exit', (code, signal) => (this.exit = { code, signal }));
  }

  get output(): string {
    return this.tail;
  }

  async stop(): Promise<void> {
    if (this.exit) return;
    const done = new Promise((r) => this.child.once('exit', r));
    this.child.kill('SIGKILL');
    await done;
  }
}

function percentile(sorted: number[], p: number): number | null {
  if (!sorted.length) return null;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

export async function runFuzz(o: FuzzOptions): Promise<FuzzReport> {
  const caseMs = o.caseMs ?? 60;
  const random = prng(o.seed);
  const fieldSpecs = allSpecs(random).filter((s) => s.kind === 'field');
  const queue = o.specs?.flatMap((s) => Array.from({ length: o.repeat ?? 1 }, () => s));
  const shm = `/dev/shm/glasspane-fuzz-${process.pid}-${o.seed}`;
  const report: FuzzReport = { cases: 0, crashes: 0, hangs: 0, uncaught: 0, notRecovered: 0, recoveryMs: { p50: null, p99: null, max: null }, seed: o.seed, failures: [], byKind: {} };
  const recoveries: number[] = [];
  const byKind = new Map<string, number[]>();
  let active: ActiveMutation | null = null;
  const stub = new StubProducer({
    shmPath: shm,
    sizeMiB: 8,
    width: 256,
    height: 144,
    fps: 240,
    scene: 'bars',
    format: 'bgra',
    tamper: (ctx: TamperContext) => active?.tamper(ctx),
  });
  const running = stub.run();
  let xvfb: Xvfb | null = null;
  let consumer: Consumer | null = null;
  const end = performance.now() + o.seconds * 1000;
  let nextLog = performance.now() + 15_000;

  /** Waits until the consumer has taken RECOVERY_FRAMES of a fresh session; the time it took, or why not. */
  const recovery = async (limitMs = RECOVERY_MS): Promise<number | 'died' | 'timeout'> => {
    for (;;) {
      try {
        stub.newSession();
        break;
      } catch {
        await sleep(20); // the stub is re-opening a truncated or re-created region
      }
    }
    const t0 = performance.now();
    while (performance.now() - t0 < limitMs) {
      if (consumer!.exit) return 'died';
      if (stub.framesTaken() >= RECOVERY_FRAMES) return performance.now() - t0;
      await sleep(2);
    }
    return 'timeout';
  };

  const fail = (what: FuzzFailure['what'], spec: MutationSpec, detail: string) => {
    report.failures.push({ what, spec, description: describeSpec(spec), detail: detail.slice(-1500) });
    o.log?.(`FAIL ${what}: ${describeSpec(spec)}: ${detail.split('\n').slice(-3).join(' | ')}`);
  };

  const startConsumer = async (): Promise<void> => {
    consumer = new Consumer(shm, xvfb?.env ?? null);
    const r = await recovery(STARTUP_MS); // a window takes a while to load SDL and open on a loaded machine
    if (typeof r !== 'number') throw new Error(`the consumer does not take frames even from a clean producer (${r}): ${consumer.output}`);
  };

  try {
    if (o.window) xvfb = await startXvfb(640, 480);
    await startConsumer();
    for (let i = 0; ; i++) {
      if (queue ? i >= queue.length : performance.now() > end) break;
      if (o.maxCases !== undefined && report.cases >= o.maxCases) break;
      const spec = queue ? queue[i]! : drawSpec(random, fieldSpecs);
      active = tamperFor(spec, shm, caseMs);
      try {
        active.start?.();
      } catch (err) {
        o.log?.(`case setup failed (${describeSpec(spec)}): ${(err as Error).message}`);
      }
      await sleep(active.durationMs);
      active = null;
      report.cases++;
      const r = await recovery();
      const c = consumer!;
      if (typeof r === 'number') {
        recoveries.push(r);
        const k = kindOf(spec);
        if (!byKind.has(k)) byKind.set(k, []);
        byKind.get(k)!.push(r);
      } else if (r === 'died' || c.exit) {
        const e = c.exit!;
        if (e.signal) report.crashes++;
        else report.uncaught++;
        fail(e.signal ? 'crash' : 'uncaught', spec, `exit ${e.code ?? e.signal}: ${c.output}`);
        await startConsumer();
      } else if (performance.now() - c.lastOutput > HANG_MS) {
        report.hangs++;
        fail('hang', spec, `no output for ${Math.round(performance.now() - c.lastOutput)} ms: ${c.output}`);
        await c.stop();
        await startConsumer();
      } else {
        report.notRecovered++;
        fail('not-recovered', spec, `took ${stub.framesTaken()} of ${RECOVERY_FRAMES} frames in ${RECOVERY_MS} ms: ${c.output}`);
        // A consumer stuck for good would fail every later case too: start a fresh one.
        await c.stop();
        await startConsumer();
      }
      if (performance.now() > nextLog) {
        nextLog = performance.now() + 15_000;
        o.log?.(`${report.cases} cases, ${report.failures.length} failures, recovery p50 ${percentile([...recoveries].sort((a, b) => a - b), 50)?.toFixed(1)} ms`);
      }
    }
  } finally {
    active = null;
    // (Assigned in the helpers above; the compiler's narrowing does not see that.)
    await (consumer as Consumer | null)?.stop();
    await stub.stop();
    await running.catch(() => undefined);
    await xvfb?.stop();
    rmSync(shm, { force: true });
    rmSync(`${shm}.new`, { force: true });
  }
  const sorted = recoveries.sort((a, b) => a - b);
  const round = (v: number | null) => (v === null ? null : Math.round(v * 10) / 10);
  report.recoveryMs = { p50: round(percentile(sorted, 50)), p99: round(percentile(sorted, 99)), max: round(sorted.at(-1) ?? null) };
  for (const [k, v] of [...byKind].sort()) {
    v.sort((a, b) => a - b);
    report.byKind[k] = { cases: v.length, p50: round(percentile(v, 50)), max: round(v.at(-1) ?? null) };
  }
  return report;
}
