/**
 * Window trial (issue 12): the real viewer — a `glasspane view` process — on a private Xvfb whose
 * screen is the frame size, its window at the frame size (as fullscreen at the guest's
 * resolution), showing guest-stub's stream from bench/producer.js; then the same stream consumed
 * by `glasspane view --headless`, the baseline of the same run.
 *   node dist/bench/window.js --mode WxH --fps N [--seconds S] [--warmup S] [--cli PATH]
 * Over the measuring window (after the viewer showed its first frame and `--warmup` passed):
 *   producedFps       the stub's frame rate (its cap: what the guest would produce)
 *   consumedFps       frames the stub could post per second: it waits while both of its frame
 *                     slots are unacknowledged, so a consumer that falls behind slows it down
 *   presentedFps      guest frames the viewer presented per second (its --stats `ups`)
 *   cpuPct            the viewer process's CPU time, all threads (/proc/PID/stat), ÷ wall time
 *   renderMs          the median of its per-second median present cost (upload + draw + present)
 *   presentLatencyMs  copied out of the region → presented: p50 the median of the per-second
 *                     medians, p99 the highest per-second p99
 *   headlessConsumedFps  consumedFps with `glasspane view --headless` instead
 * `--cli` runs another build's dist/src/cli/main.js (to compare before and after a change).
 * Exits 0 with `{"available": false, "reason": …}` when Xvfb or SDL is missing.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { BENCH_DIR, benchShmPath, emitResult, median, numArg, parseArgs, parseMode, round, startProducer, type ProducerProcess, type ProducerSnapshot } from './lib.js';
import { startXvfb } from './xvfb.js';

export interface WindowRow {
  mode: string;
  producedFps: number;
  consumedFps: number;
  presentedFps: number;
  cpuPct: number;
  renderMs: number | null;
  presentLatencyMs: { p50: number | null; p99: number | null };
  headlessConsumedFps: number;
}

export type WindowTrialResult =
  | { available: false; mode: string; fps: number; reason: string }
  | (WindowRow & { available: true; fps: number; details: { seconds: number; xvfbCpuPct: number; headlessCpuPct: number; waitsForConsumer: number; headlessWaitsForConsumer: number } });

/** The viewer's --stats line (src/viewer/viewer-stats.ts ViewerFigures and more). */
interface Figures {
  frames: number;
  ups: number;
  latencyMs: number | null;
  latencyP99Ms: number | null;
  presentMs: number | null;
}

const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout?.trim()) || 100;

/** CPU seconds (user + system, all threads) a process has used so far. */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // from field 3 (state) on
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK; // fields 14 utime, 15 stime
}

function startCli(cli: string, args: string[], env: NodeJS.ProcessEnv) {
  const child: ChildProcess = spawn(process.execPath, [cli, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env });
  const lines: Figures[] = [];
  let err = '';
  let partial = '';
  child.stdout!.on('data', (d: Buffer) => {
    const parts = (partial + d.toString()).split('\n');
    partial = parts.pop()!;
    for (const l of parts) if (l.startsWith('{')) lines.push(JSON.parse(l) as Figures);
  });
  child.stderr!.on('data', (d) => (err += d));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    const t = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(t);
  };
  return { child, lines, stderr: () => err, stop, exited };
}

async function until(pred: () => boolean, ms: number, failed: () => boolean): Promise<boolean> {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end || failed()) return false;
    await sleep(50);
  }
  return true;
}

const postRate = (a: ProducerSnapshot, b: ProducerSnapshot) => (b.framesPosted - a.framesPosted) / (Number(b.atNs - a.atNs) / 1e9);

const args = parseArgs(process.argv.slice(2));
const mode = parseMode(args.get('mode') ?? '1920x1080');
const fps = numArg(args, 'fps', 60);
const seconds = numArg(args, 'seconds', 5);
const warmup = numArg(args, 'warmup', 1);
const cli = args.get('cli') ?? join(BENCH_DIR, '..', 'src', 'cli', 'main.js');
const unavailable = (reason: string): WindowTrialResult => ({ available: false, mode: mode.mode, fps, reason });

async function measureWindow(display: string, xvfbPid: number) {
  const shm = benchShmPath('window');
  rmSync(shm, { force: true });
  let producer: ProducerProcess | null = null;
  const env: NodeJS.ProcessEnv = { ...process.env, DISPLAY: display };
  delete env.WAYLAND_DISPLAY;
  const view = startCli(cli, ['view', '--shm', shm, '--size', mode.mode, '--stats', '--title', 'glasspane bench'], env);
  try {
    producer = await startProducer(['--shm', shm, '--mode', mode.mode, '--fps', String(fps)]);
    const exitedEarly = () => view.child.exitCode !== null || view.child.signalCode !== null;
    if (!(await until(() => view.lines.some((l) => l.frames > 0), 30_000, exitedEarly))) {
      return `the viewer showed no frame in 30 s: ${view.stderr().trim().split('\n').slice(-3).join(' / ') || 'no message'}`;
    }
    await sleep(warmup * 1000);
    const s0 = await producer.snapshot();
    const c0 = cpuSeconds(view.child.pid!);
    const x0 = cpuSeconds(xvfbPid);
    const l0 = view.lines.length;
    const t0 = performance.now();
    await sleep(seconds * 1000);
    const s1 = await producer.snapshot();
    const c1 = cpuSeconds(view.child.pid!);
    const x1 = cpuSeconds(xvfbPid);
    const wall = (performance.now() - t0) / 1000;
    const figures = view.lines.slice(l0);
    if (exitedEarly() || figures.length === 0) return `the viewer stopped: ${view.stderr().trim().split('\n').slice(-3).join(' / ')}`;
    const nums = (k: keyof Figures) => figures.map((f) => f[k]).filter((v): v is number => typeof v === 'number');
    const p99s = nums('latencyP99Ms');
    return {
      consumedFps: postRate(s0, s1),
      waitsForConsumer: s1.waitsForConsumer - s0.waitsForConsumer,
      presentedFps: nums('ups').reduce((a, b) => a + b, 0) / figures.length,
      cpuPct: ((c1 - c0) / wall) * 100,
      xvfbCpuPct: ((x1 - x0) / wall) * 100,
      renderMs: nums('presentMs').length ? median(nums('presentMs')) : null,
      latencyP50: nums('latencyMs').length ? median(nums('latencyMs')) : null,
      latencyP99: p99s.length ? Math.max(...p99s) : null,
    };
  } finally {
    await view.stop();
    await producer?.stop();
    rmSync(shm, { force: true });
  }
}

async function measureHeadless() {
  const shm = benchShmPath('headless');
  rmSync(shm, { force: true });
  const producer = await startProducer(['--shm', shm, '--mode', mode.mode, '--fps', String(fps)]);
  const view = startCli(cli, ['view', '--shm', shm, '--headless', '--seconds', String(warmup + seconds + 30)], process.env);
  try {
    let s0 = await producer.snapshot();
    const started = Date.now();
    while (s0.framesPosted === 0 && Date.now() - started < 20_000) {
      await sleep(100);
      s0 = await producer.snapshot();
    }
    await sleep(warmup * 1000);
    s0 = await producer.snapshot();
    const c0 = cpuSeconds(view.child.pid!);
    const t0 = performance.now();
    await sleep(seconds * 1000);
    const s1 = await producer.snapshot();
    const c1 = cpuSeconds(view.child.pid!);
    return { consumedFps: postRate(s0, s1), cpuPct: ((c1 - c0) / ((performance.now() - t0) / 1000)) * 100, waitsForConsumer: s1.waitsForConsumer - s0.waitsForConsumer };
  } finally {
    await view.stop();
    await producer.stop();
    rmSync(shm, { force: true });
  }
}

const x = await startXvfb(mode.width, mode.height);
let result: WindowTrialResult;
if (typeof x === 'string') {
  result = unavailable(x);
} else {
  try {
    const w = await measureWindow(x.display, x.pid);
    if (typeof w === 'string') {
      result = unavailable(w);
    } else {
      const h = await measureHeadless();
      result = {
        available: true,
        mode: mode.mode,
        fps,
        producedFps: fps,
        consumedFps: round(w.consumedFps, 1),
        presentedFps: round(w.presentedFps, 1),
        cpuPct: round(w.cpuPct, 1),
        renderMs: w.renderMs === null ? null : round(w.renderMs, 2),
        presentLatencyMs: { p50: w.latencyP50 === null ? null : round(w.latencyP50, 2), p99: w.latencyP99 === null ? null : round(w.latencyP99, 2) },
        headlessConsumedFps: round(h.consumedFps, 1),
        details: { seconds, xvfbCpuPct: round(w.xvfbCpuPct, 1), headlessCpuPct: round(h.cpuPct, 1), waitsForConsumer: w.waitsForConsumer, headlessWaitsForConsumer: h.waitsForConsumer },
      };
    }
  } finally {
    await x.stop();
  }
}
emitResult(result);
process.exit(0);
