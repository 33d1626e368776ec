/**
 * The SPICE fuzzer: a hostile SPICE server (hostile-server.ts) runs the cases of cases.ts against
 * the two SPICE clients users run: one long-running `glasspane view --spice` window under a
 * private Xvfb, and `glasspane send` runs, each against its own server, side by side.
 *
 * Per case it checks: no crash (the process died, by a signal or an uncaught error; for `send`, an
 * exit status outside 0/4 or a stack trace), no hang (the viewer silent for HANG_MS, a send over
 * its deadline), RSS growth ≤ MAX_RSS_GROWTH_MB over the case (sampled every 100 ms), the window
 * thread's event-loop lag p99 ≤ MAX_LAG_P99_MS on every --stats line of the case and no block over
 * MAX_BLOCK_MS in one piece, and recovery: after the case, with the server clean again, KeyA
 * typed into the window (xdotool, capture on) or sent by a clean `send` reaches the server
 * within RECOVERY_MS. The machine the fuzzer runs on may be busy with other work, and the viewer
 * should not be blamed for the machine: it runs at a raised priority where allowed, a canary
 * process at the same priority measures the machine's own lag over the same seconds, a case's lag
 * counts only beyond the canary's longest wait, and a stall counts when the case stalls again
 * when run twice.
 *
 * A viewer that gave up (state `failed`: the case looked like a server that cannot be talked to,
 * e.g. NEED_SECURED or a broken key, which it does not retry by design) is counted in `gaveUp`
 * and restarted, and recovery is then measured on the fresh viewer.
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { setPriority } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { prng } from '../mutations.js';
import { ROOT } from '../../support/helpers.js';
import { findWindow, startXvfb, type Xvfb } from '../../support/xvfb.js';
import { describeCase, drawCase, type CaseRecord, type SpiceCase, type Target } from './cases.js';
import { HostileServer } from './hostile-server.js';

/** The CLI under test; FUZZ_SPICE_CLI points at another build (an older release, to see what the fuzzer finds there). */
const CLI = process.env.FUZZ_SPICE_CLI ?? join(ROOT, 'dist', 'src', 'cli', 'main.js');
/**
 * The limits a case is held to and the deadlines of the run (ms, MB): recovery, RSS growth, lag
 * p99 and one block of the window's thread; a viewer silent this long is hung; its start-up; a
 * hostile send's --timeout and the time after which it counts as hung.
 */
export const LIMITS = { recoveryMs: 5000, rssGrowthMb: 64, lagP99Ms: 100, blockMs: 1000, hangMs: 5000, startupMs: 60_000, sendTimeoutMs: 2000, sendHangMs: 15_000 } as const;
const { recoveryMs: RECOVERY_MS, rssGrowthMb: MAX_RSS_GROWTH_MB, lagP99Ms: MAX_LAG_P99_MS, blockMs: MAX_BLOCK_MS, hangMs: HANG_MS, startupMs: STARTUP_MS, sendTimeoutMs: SEND_TIMEOUT_MS, sendHangMs: SEND_HANG_MS } = LIMITS;

const xdo = promisify(execFile);

export interface SpiceFuzzOptions {
  seconds: number;
  seed: number;
  /** Stop after this many cases (both targets together). */
  maxCases?: number;
  /** Replay these (each `repeat` times) instead of drawing. */
  cases?: CaseRecord[];
  /** After the replay, draw this many more cases (both targets together). */
  drawAfter?: number;
  /** Floods last at most this long (ms): the suite's short run. */
  maxFloodMs?: number;
  repeat?: number;
  /** Which clients to fuzz (default both). */
  targets?: Target[];
  log?: (line: string) => void;
  /** Told of each failure as it happens (a run cut short keeps what it found). */
  onFailure?: (f: SpiceFuzzFailure) => void;
  /** Told what each viewer case measured (the flood table of docs/spice.md comes from it). */
  onCase?: (r: ViewerCaseResult) => void;
}

/** What one viewer case measured. */
export interface ViewerCaseResult {
  spec: SpiceCase;
  description: string;
  /** RSS growth over the case (peak − start), MB. */
  rssGrowthMb: number;
  /** The worst --stats line's event-loop lag p99, ms (null when the build does not report it). */
  lagP99Ms: number | null;
  /** The canary's worst p99 over the same seconds, ms. */
  machineLagMs: number;
  /** --stats lines per second over the case (1 when the window thread keeps up). */
  statsPerSecond: number;
  /** Time to a key through the clean server after the case, ms (null: none in RECOVERY_MS). */
  recoveryMs: number | null;
}

export interface SpiceFuzzFailure {
  what: 'crash' | 'hang' | 'leak' | 'stall' | 'not-recovered';
  target: Target;
  spec: SpiceCase;
  description: string;
  detail: string;
}

export interface SpiceFuzzReport {
  cases: number;
  crashes: number;
  hangs: number;
  leaks: number;
  stalls: number;
  notRecovered: number;
  seed: number;
  /** Viewer cases after which it gave up (state failed) by design, and was restarted. */
  gaveUp: number;
  byTarget: Record<Target, number>;
  /** Per-case viewer RSS growth (MB) and event-loop lag p99 (ms, the worst --stats line of the case). */
  rssGrowthMb: { p50: number | null; p99: number | null; max: number | null };
  lagP99Ms: { p50: number | null; p99: number | null; max: number | null };
  recoveryMs: { p50: number | null; p99: number | null; max: number | null };
  failures: SpiceFuzzFailure[];
  /** Recovery per family of case (the message, the flood, the stage action), p50 and max ms. */
  byKind: Record<string, { cases: number; p50: number | null; max: number | null }>;
}

/** The family a case is counted under in `byKind`. */
function kindOf(target: Target, s: SpiceCase): string {
  switch (s.kind) {
    case 'field':
      return `${target} field ${s.msg}`;
    case 'header':
      return `${target} header lie`;
    case 'flood':
      return `${target} flood ${s.flood}`;
    default:
      return `${target} ${s.kind}`;
  }
}

/** A stats line of the viewer, with when it came. */
interface StatsLine {
  at: number;
  capture?: boolean;
  loopLagMs?: { p50: number; p99: number; max: number };
  spice?: { state: string; error?: string };
}

/** RSS of a process in MB (0 when it is gone). */
function rssMb(pid: number | undefined): number {
  try {
    const pages = Number(readFileSync(`/proc/${pid}/statm`, 'utf8').split(' ')[1]);
    return (pages * 4096) / (1024 * 1024);
  } catch {
    return 0;
  }
}

/** The viewer under test and what it printed. */
class Viewer {
  readonly child: ChildProcess;
  readonly stats: StatsLine[] = [];
  lastOutput = performance.now();
  exit: { code: number | null; signal: NodeJS.Signals | null } | null = null;
  private tail = '';
  private buf = '';

  constructor(
    readonly x: Xvfb,
    address: string,
    readonly title: string,
  ) {
    const args = ['view', '--shm', `/dev/shm/glasspane-spicefuzz-${process.pid}-absent`, '--size', '320x180', '--spice', address, '--stats', '--title', title, '--microphone'];
    this.child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...x.env, SDL_AUDIODRIVER: 'dummy', GLASSPANE_SPICE_PASSWORD: '' } });
    this.child.stdout!.on('data', (d: Buffer) => {
      this.lastOutput = performance.now();
      this.buf += d.toString();
      let nl;
      while ((nl = this.buf.indexOf('\n')) >= 0) {
        const line = this.buf.slice(0, nl);
        this.buf = this.buf.slice(nl + 1);
        try {
          const j = JSON.parse(line) as Omit<StatsLine, 'at'>;
          this.stats.push({ at: performance.now(), capture: j.capture, loopLagMs: j.loopLagMs, spice: j.spice });
          if (this.stats.length > 600) this.stats.splice(0, 300);
        } catch {
          this.tail = (this.tail + line).slice(-4000);
        }
      }
    });
    this.child.stderr!.on('data', (d: Buffer) => {
      this.lastOutput = performance.now();
      this.tail = (this.tail + d.toString()).slice(-4000);
    });
    this.child.once('exit', (code, signal) => (this.exit = { code, signal }));
    // The window is the foreground program on a desktop: on this shared machine it gets the
    // scheduler's preference, so its event-loop lag measures what our code blocks, not what other
    // processes take. (Without the right to raise it, the viewer runs as it is.)
    try {
      setPriority(this.child.pid!, -10);
    } catch {
      // not root: measured as it is
    }
  }

  get output(): string {
    return this.tail;
  }

  get last(): StatsLine | undefined {
    return this.stats.at(-1);
  }

  rss(): number {
    return rssMb(this.child.pid);
  }

  /** Waits for the window and turns capture on (ScrollLock), so typed keys go to SPICE. */
  async ready(): Promise<void> {
    const end = performance.now() + STARTUP_MS;
    while (!this.last) {
      if (this.exit || performance.now() > end) throw new Error(`the viewer did not start (${this.exit ? `exit ${this.exit.code ?? this.exit.signal}` : 'no stats line'}): ${this.tail}`);
      await sleep(50);
    }
    const win = findWindow(this.x, this.title);
    await xdo('xdotool', ['windowfocus', '--sync', win.id], { env: this.x.env });
    for (let i = 0; i < 3 && !this.last?.capture; i++) {
      await xdo('xdotool', ['key', 'Scroll_Lock'], { env: this.x.env });
      const until = performance.now() + 5000;
      while (!this.last?.capture && performance.now() < until && !this.exit) await sleep(50);
    }
    if (!this.last?.capture) throw new Error(`the viewer did not enter capture mode: ${this.tail}`);
  }

  async typeA(): Promise<void> {
    await xdo('xdotool', ['key', 'a'], { env: this.x.env }).catch(() => undefined);
  }

  async stop(): Promise<void> {
    if (this.exit) return;
    const done = new Promise((r) => this.child.once('exit', r));
    this.child.kill('SIGKILL');
    await done;
  }
}

/**
 * A process that does nothing but measure its own event-loop lag, once a second, at the viewer's
 * priority: what the machine alone does to a waiting event loop. A viewer's lag counts against the
 * case only beyond this baseline, measured over the same seconds.
 */
class Canary {
  readonly child: ChildProcess;
  readonly lines: Array<{ at: number; p99: number; max: number }> = [];
  private buf = '';

  constructor() {
    const script = `const h = require('node:perf_hooks').monitorEventLoopDelay({ resolution: 10 }); h.enable();
      setInterval(() => { process.stdout.write(JSON.stringify({ p99: h.percentile(99) / 1e6, max: h.max / 1e6 }) + '\\n'); h.reset(); }, 1000);`;
    this.child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'ignore'] });
    try {
      setPriority(this.child.pid!, -10);
    } catch {
      // not root: as the viewer
    }
    this.child.stdout!.on('data', (d: Buffer) => {
      this.buf += d.toString();
      let nl;
      while ((nl = this.buf.indexOf('\n')) >= 0) {
        const line = this.buf.slice(0, nl);
        this.buf = this.buf.slice(nl + 1);
        const j = JSON.parse(line) as { p99: number; max: number };
        this.lines.push({ at: performance.now(), p99: j.p99, max: j.max });
        if (this.lines.length > 600) this.lines.splice(0, 300);
      }
    });
  }

  /** Its worst p99 and max over [from, to] (ms of performance.now()), with the second around each end. */
  worst(from: number, to: number): { p99: number; max: number } {
    const lines = this.lines.filter((l) => l.at >= from - 1000 && l.at <= to + 1000);
    return { p99: Math.max(0, ...lines.map((l) => l.p99)), max: Math.max(0, ...lines.map((l) => l.max)) };
  }

  stop(): void {
    this.child.kill('SIGKILL');
  }
}

function percentiles(v: number[]): { p50: number | null; p99: number | null; max: number | null } {
  if (!v.length) return { p50: null, p99: null, max: null };
  const s = [...v].sort((a, b) => a - b);
  const at = (p: number) => Math.round(s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]! * 10) / 10;
  return { p50: at(50), p99: at(99), max: Math.round(s.at(-1)! * 10) / 10 };
}

/** Runs `glasspane send` against `address`; its exit, output and peak RSS. Killed after SEND_HANG_MS (a hang). */
async function runSend(address: string, args: string[], timeoutMs: number = SEND_TIMEOUT_MS): Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string; peakMb: number; hung: boolean }> {
  const child = spawn(process.execPath, [CLI, 'send', '--spice', address, '--timeout', String(timeoutMs), ...args], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, GLASSPANE_SPICE_PASSWORD: '' } });
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr = (stderr + d).slice(-4000)));
  let peakMb = 0;
  const sampler = setInterval(() => (peakMb = Math.max(peakMb, rssMb(child.pid))), 50);
  let hung = false;
  const killer = setTimeout(() => {
    hung = true;
    child.kill('SIGKILL');
  }, SEND_HANG_MS);
  // 'close', not 'exit': the child's stderr is read to its end.
  const exit = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => child.once('close', (code, signal) => r({ code, signal })));
  clearInterval(sampler);
  clearTimeout(killer);
  return { ...exit, stderr, peakMb, hung };
}

/** Runs the fuzzer (see the module comment) and resolves with its report. */
export async function runSpiceFuzz(o: SpiceFuzzOptions): Promise<SpiceFuzzReport> {
  const report: SpiceFuzzReport = {
    cases: 0,
    crashes: 0,
    hangs: 0,
    leaks: 0,
    stalls: 0,
    notRecovered: 0,
    seed: o.seed,
    gaveUp: 0,
    byTarget: { viewer: 0, send: 0 },
    rssGrowthMb: { p50: null, p99: null, max: null },
    lagP99Ms: { p50: null, p99: null, max: null },
    recoveryMs: { p50: null, p99: null, max: null },
    failures: [],
    byKind: {},
  };
  const byKind = new Map<string, number[]>();
  const recovered = (target: Target, spec: SpiceCase, ms: number) => {
    recoveries.push(ms);
    const k = kindOf(target, spec);
    if (!byKind.has(k)) byKind.set(k, []);
    byKind.get(k)!.push(ms);
  };
  const targets = o.targets ?? ['viewer', 'send'];
  const rss: number[] = [];
  const lags: number[] = [];
  const recoveries: number[] = [];
  const end = performance.now() + o.seconds * 1000;
  const replay = o.cases?.flatMap((c) => Array.from({ length: o.repeat ?? 1 }, () => c));
  let taken = 0;
  let drawn = 0;
  const shorten = (spec: SpiceCase): SpiceCase => (spec.kind === 'flood' && o.maxFloodMs !== undefined && spec.ms > o.maxFloodMs ? { ...spec, ms: o.maxFloodMs } : spec);
  /** The next case for `target`, or null when the run is over. */
  const next = (target: Target, r: () => number): SpiceCase | null => {
    if (performance.now() > end) return null;
    if (o.maxCases !== undefined && taken >= o.maxCases) return null;
    if (replay) {
      const i = replay.findIndex((c) => c.target === target);
      if (i >= 0) {
        taken++;
        return shorten(replay.splice(i, 1)[0]!.spec);
      }
      if (drawn >= (o.drawAfter ?? 0)) return null;
      drawn++;
    }
    taken++;
    return shorten(drawCase(r, target));
  };
  const fail = (what: SpiceFuzzFailure['what'], target: Target, spec: SpiceCase, detail: string) => {
    const f: SpiceFuzzFailure = { what, target, spec, description: describeCase(spec), detail: detail.slice(-1500) };
    report.failures.push(f);
    o.onFailure?.(f);
    o.log?.(`FAIL ${what} (${target}): ${describeCase(spec)}: ${detail.split('\n').slice(-3).join(' | ')}`);
  };
  let nextLog = performance.now() + 15_000;
  const progress = () => {
    if (performance.now() < nextLog) return;
    nextLog = performance.now() + 15_000;
    o.log?.(`${report.cases} cases (viewer ${report.byTarget.viewer}, send ${report.byTarget.send}), ${report.failures.length} failures, ${report.gaveUp} give-ups`);
  };

  const viewerLoop = async (): Promise<void> => {
    const r = prng(o.seed);
    const server = await HostileServer.start();
    const x = await startXvfb(640, 480);
    const canary = new Canary();
    let viewer: Viewer | null = null;
    const title = `spicefuzz-${process.pid}-${o.seed}`;
    /** A key typed until the server sees it; the time it took, or null. */
    const keyThrough = async (v: Viewer): Promise<number | null> => {
      const before = server.keysSeen;
      const t0 = performance.now();
      while (performance.now() - t0 < RECOVERY_MS) {
        if (v.exit) return null;
        await v.typeA();
        const until = performance.now() + 250;
        while (performance.now() < until) {
          if (server.keysSeen > before) return performance.now() - t0;
          await sleep(10);
        }
      }
      return null;
    };
    const fresh = async (): Promise<Viewer> => {
      await viewer?.stop();
      viewer = new Viewer(x, server.address, title);
      await viewer.ready();
      if ((await keyThrough(viewer)) === null) throw new Error(`a fresh viewer gets no key through a clean server: ${viewer.output}`);
      return viewer;
    };
    try {
      let v = await fresh();
      /** One run of `spec` against the viewer, with what it measured. */
      const runCase = async (spec: SpiceCase) => {
        const rss0 = v.rss();
        let peak = rss0;
        const sampler = setInterval(() => (peak = Math.max(peak, v.rss())), 100);
        const statsFrom = v.stats.length;
        const t0 = performance.now();
        await server.begin(spec, { nextSession: false, limitMs: 4000 });
        server.end();
        report.cases++;
        report.byTarget.viewer++;
        let took: number | null = null;
        let gaveUp = false;
        if (!v.exit) {
          took = await keyThrough(v);
          if (took === null && v.last?.spice?.state === 'failed') gaveUp = true;
        }
        clearInterval(sampler);
        const lines = v.stats.slice(statsFrom);
        const machine = canary.worst(t0, performance.now());
        return {
          rss0,
          peak,
          took,
          gaveUp,
          worstLag: Math.max(0, ...lines.map((l) => l.loopLagMs?.p99 ?? 0)),
          longest: Math.max(0, ...lines.map((l) => l.loopLagMs?.max ?? 0)),
          hasLag: lines.some((l) => l.loopLagMs !== undefined),
          machineLag: machine.p99,
          machineLongest: machine.max,
          lines: lines.length,
          seconds: (performance.now() - t0) / 1000,
        };
      };
      // Over the bound, and over it beyond the longest wait the machine alone gave the canary
      // meanwhile (one such wait is a second's p99 by itself); or one block of the window's thread
      // over MAX_BLOCK_MS beyond it. Both as the viewer measured them: the fuzzer's own clock would
      // add its own delays.
      const stalled = (m: { worstLag: number; longest: number; machineLongest: number }) =>
        (m.worstLag > MAX_LAG_P99_MS && m.worstLag - m.machineLongest > MAX_LAG_P99_MS) || m.longest - m.machineLongest > MAX_BLOCK_MS;
      for (;;) {
        const spec = next('viewer', r);
        if (!spec) break;
        let m = await runCase(spec);
        if (!v.exit && performance.now() - v.lastOutput <= HANG_MS && (m.gaveUp || m.took !== null) && stalled(m)) {
          // Lag on a machine shared with other work can be the machine's: a stall counts when the
          // same case stalls again (on a fresh viewer when this one gave up).
          const first = m;
          if (m.gaveUp) {
            report.gaveUp++;
            v = await fresh();
          }
          m = await runCase(spec);
          if (!stalled(m)) o.log?.(`stall not confirmed (${describeCase(spec)}: lag p99 ${first.worstLag.toFixed(1)} ms (machine ${first.machineLag.toFixed(1)}), then ${m.worstLag.toFixed(1)} ms (machine ${m.machineLag.toFixed(1)}))`);
        }
        const growth = m.peak - m.rss0;
        rss.push(growth);
        lags.push(m.worstLag);
        if (v.exit) {
          report.crashes++;
          fail('crash', 'viewer', spec, `exit ${v.exit.code ?? v.exit.signal}: ${v.output}`);
          v = await fresh();
          continue;
        }
        if (performance.now() - v.lastOutput > HANG_MS) {
          report.hangs++;
          fail('hang', 'viewer', spec, `no output for ${Math.round(performance.now() - v.lastOutput)} ms: ${v.output}`);
          v = await fresh();
          continue;
        }
        if (growth > MAX_RSS_GROWTH_MB) {
          report.leaks++;
          fail('leak', 'viewer', spec, `RSS ${m.rss0.toFixed(0)} → ${m.peak.toFixed(0)} MB`);
        }
        if (stalled(m)) {
          report.stalls++;
          fail('stall', 'viewer', spec, `event-loop lag p99 ${m.worstLag.toFixed(1)} ms, longest ${m.longest.toFixed(0)} ms (the machine's alone ${m.machineLag.toFixed(1)} / ${m.machineLongest.toFixed(0)} ms) (twice)`);
        }
        if (m.gaveUp) {
          report.gaveUp++;
          v = await fresh();
        } else if (m.took === null) {
          report.notRecovered++;
          fail('not-recovered', 'viewer', spec, `no key through a clean server within ${RECOVERY_MS} ms; SPICE ${JSON.stringify(v.last?.spice)}: ${v.output}`);
          v = await fresh();
        } else recovered('viewer', spec, m.took);
        o.onCase?.({
          spec,
          description: describeCase(spec),
          rssGrowthMb: Math.round(growth * 10) / 10,
          lagP99Ms: m.hasLag ? Math.round(m.worstLag * 10) / 10 : null,
          machineLagMs: Math.round(m.machineLag * 10) / 10,
          statsPerSecond: Math.round((m.lines / m.seconds) * 100) / 100,
          recoveryMs: m.took === null ? null : Math.round(m.took),
        });
        progress();
      }
    } finally {
      canary.stop();
      await (viewer as Viewer | null)?.stop();
      await server.close();
      await x.stop();
    }
  };

  const sendLoop = async (): Promise<void> => {
    const r = prng(o.seed ^ 0x5e4d);
    const server = await HostileServer.start();
    let baseline = Infinity;
    try {
      let i = 0;
      for (;;) {
        const spec = next('send', r);
        if (!spec) break;
        const args = i++ % 2 ? ['--delay-ms', '20', 'mouse', ...Array.from({ length: 12 }, () => ['move', '1', '1']).flat(), 'click', 'left'] : ['--delay-ms', '50', 'key', 'KeyA', 'KeyB', 'KeyC', 'KeyD'];
        const case_ = server.begin(spec, { nextSession: true, limitMs: SEND_HANG_MS });
        const run = await runSend(server.address, args);
        await Promise.race([case_, sleep(0)]);
        server.end();
        report.cases++;
        report.byTarget.send++;
        const stack = /\n\s+at .+\(.+:\d+:\d+\)/.test(run.stderr);
        if (run.hung) {
          report.hangs++;
          fail('hang', 'send', spec, `still running after ${SEND_HANG_MS} ms: ${run.stderr}`);
        } else if (run.signal || (run.code !== 0 && run.code !== 4) || stack) {
          report.crashes++;
          fail('crash', 'send', spec, `exit ${run.code ?? run.signal}: ${run.stderr}`);
        }
        const before = server.keysSeen;
        const t0 = performance.now();
        // The clean send may take the whole recovery time to link (the fuzzer's process is busy
        // with the viewer's case too); it must still be done within it.
        const clean = await runSend(server.address, ['--delay-ms', '0', 'key', 'KeyA'], RECOVERY_MS);
        const took = performance.now() - t0;
        // What a send costs against a clean server is the baseline its hostile runs are held to.
        if (clean.peakMb > 0) baseline = Math.min(baseline, clean.peakMb);
        if (run.peakMb - baseline > MAX_RSS_GROWTH_MB) {
          report.leaks++;
          fail('leak', 'send', spec, `peak RSS ${run.peakMb.toFixed(0)} MB, a clean send ${baseline.toFixed(0)} MB`);
        }
        if (clean.code !== 0 || server.keysSeen <= before || took > RECOVERY_MS + 2000) {
          report.notRecovered++;
          fail('not-recovered', 'send', spec, `clean send: exit ${clean.code ?? clean.signal} after ${Math.round(took)} ms, key ${server.keysSeen > before ? 'seen' : 'not seen'}: ${clean.stderr}`);
        } else recovered('send', spec, took);
        progress();
      }
    } finally {
      await server.close();
    }
  };

  await Promise.all(targets.map((t) => (t === 'viewer' ? viewerLoop() : sendLoop())));
  report.rssGrowthMb = percentiles(rss);
  report.lagP99Ms = percentiles(lags);
  report.recoveryMs = percentiles(recoveries);
  for (const [k, v] of [...byKind].sort()) {
    const p = percentiles(v);
    report.byKind[k] = { cases: v.length, p50: p.p50, max: p.max };
  }
  return report;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
