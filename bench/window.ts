/**
 * Window trial (issues 12 and 22): the real viewer — a `glasspane view` process — on a private
 * Xvfb whose screen is the frame size, its window at the frame size (as fullscreen at the guest's
 * resolution), showing a stream from bench/producer.js in which every frame is one solid colour
 * naming its serial; beside it the same window with Looking Glass B7's consumer behind it
 * (bench/view-host.js: the Viewer with a 1 ms polling thread); then the stream consumed by
 * `glasspane view --headless`. While each window runs, a probe reads the screen's centre pixel
 * back from the X server in a tight loop (bench/fixtures/pixel-probe.c), so every frame's post →
 * visible on the display is timed: glass to glass, as the user sees it.
 *   node dist/bench/window.js --mode WxH --fps N [--seconds S] [--warmup S] [--cli PATH] [--no-poll] [--probe-gap-us 250]
 * Over the measuring window (after the viewer showed its first frame and `--warmup` passed):
 *   producedFps       the stub's frame rate (its cap: what the guest would produce)
 *   consumedFps       frames the stub could post per second: it waits while both of its frame
 *                     slots are unacknowledged, so a consumer that falls behind slows it down
 *   presentedFps      guest frames the viewer presented per second (its --stats `ups`)
 *   cpuPct            the viewer process's CPU time, all threads (/proc/PID/stat), ÷ wall time
 *   renderMs          the median of its per-second median present cost (upload + draw + present)
 *   presentLatencyMs  copied out of the region → presented: p50 the median of the per-second
 *                     medians, p99 the highest per-second p99
 *   glassMs           post → the frame's colour seen on the display: p50, p90, p99 over the frames seen
 *   seenRatio         frames seen on the display ÷ frames posted (a frame superseded before it was
 *                     shown is never seen: the viewer shows the newest)
 *   floorMs           what glass to glass is made of at the least: the producer's own write (post →
 *                     written, p50), one render (upload + draw) and one present of a frame this size
 *                     (bench/render.js --split, its own Xvfb)
 *   glassAfterWriteMs glass − the producer finished writing that frame, p50 (target ≤ 1.5 × render + present)
 *   headlessConsumedFps  consumedFps with `glasspane view --headless` instead
 *   poll1ms           the same figures for B7's consumer in the same window
 * `--cli` runs another build's dist/src/cli/main.js (to compare before and after a change).
 * `--probe-gap-us`: the probe's pause between reads (default 250 µs, ~3,000 reads a second: a
 * tight loop, 0, makes it and the X server answering it take a whole core of a two-core machine
 * from the viewer and the producer; the pause costs at most that much resolution).
 * Exits 0 with `{"available": false, "reason": …}` when Xvfb, SDL or the probe is missing.
 */
import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { BENCH_DIR, benchShmPath, emitResult, median, numArg, parseArgs, parseMode, percentile, round, runTrial, startProducer, type ProducerProcess, type ProducerSnapshot } from './lib.js';
import { startXvfb } from './xvfb.js';
import { cpuSeconds, startViewer, type Figures } from './viewer-process.js';
import { cTool } from './c-tools.js';
import { solidPixel } from './solid.js';
import type { RenderResult } from './render.js';

/** Glass-to-glass figures of one window (ms). */
export interface GlassFigures {
  glassMs: { p50: number; p90: number; p99: number } | null;
  seenRatio: number | null;
  /** Glass − the producer finished writing the frame, p50. */
  glassAfterWriteMs: number | null;
}

/** The window with B7's consumer behind it: the same figures (or why it was not measured). */
export type PollWindowRow = { mode: string; consumedFps: number; presentedFps: number; cpuPct: number; renderMs: number | null } & GlassFigures;

export interface WindowRow extends GlassFigures {
  mode: string;
  producedFps: number;
  consumedFps: number;
  presentedFps: number;
  cpuPct: number;
  renderMs: number | null;
  presentLatencyMs: { p50: number | null; p99: number | null };
  headlessConsumedFps: number;
  floorMs: { producerWrote: number | null; render: number | null; present: number | null };
}

export type WindowTrialResult =
  | { available: false; mode: string; fps: number; reason: string }
  | (WindowRow & {
      available: true;
      fps: number;
      poll1ms: PollWindowRow | { reason: string };
      details: { seconds: number; xvfbCpuPct: number; headlessCpuPct: number; waitsForConsumer: number; headlessWaitsForConsumer: number; probeReads: number; framesInWindow: number };
    });

async function until(pred: () => boolean, ms: number, failed: () => boolean): Promise<boolean> {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end || failed()) return false;
    await sleep(50);
  }
  return true;
}

const postRate = (a: ProducerSnapshot, b: ProducerSnapshot) => (b.framesPosted - a.framesPosted) / (Number(b.atNs - a.atNs) / 1e9);

/** The probe reading pixel (x, y) for `seconds`: resolves its reads and changes once it ends. */
function startProbe(tool: string, display: string, x: number, y: number, seconds: number, gapUs: number) {
  const child = spawn(tool, [String(x), String(y), String(seconds), String(gapUs)], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, DISPLAY: display } });
  let out = '';
  let readyAtNs = 0n;
  const ready = new Promise<void>((resolve) => {
    child.stdout.on('data', (d) => {
      out += d;
      if (!readyAtNs && out.includes('READY')) {
        readyAtNs = process.hrtime.bigint();
        resolve();
      }
    });
  });
  const done = new Promise<{ reads: number; changes: Array<[bigint, number]>; fromNs: bigint }>((resolve) =>
    child.once('exit', () => {
      const lines = out.split('\n');
      const reads = Number(lines.find((l) => l.startsWith('READS '))?.slice(6) ?? 0);
      const changes = lines.filter((l) => /^\d+ [0-9a-f]{6}$/.test(l)).map((l) => {
        const [t, p] = l.split(' ');
        return [BigInt(t!), parseInt(p!, 16)] as [bigint, number];
      });
      resolve({ reads, changes, fromNs: readyAtNs });
    }),
  );
  return { ready, done, kill: () => child.kill('SIGTERM') };
}

/**
 * Matches what the probe saw with what the producer posted: a colour names a serial (solid.ts).
 * Frames posted in the probe's window count (less the last 100 ms: a frame posted at the very end
 * may be shown after the probe stopped looking).
 */
export function glassFigures(changes: Array<[bigint, number]>, frameLog: Array<[number, string, string]>, fromNs: bigint, toNs: bigint): GlassFigures & { framesInWindow: number } {
  const byPixel = new Map<number, { serial: number; postNs: bigint; writtenNs: bigint }>();
  for (const [serial, post, written] of frameLog) byPixel.set(solidPixel(serial), { serial, postNs: BigInt(post), writtenNs: BigInt(written) });
  const lastCounted = toNs - 100_000_000n;
  const inWindow = frameLog.filter(([, post]) => BigInt(post) >= fromNs && BigInt(post) <= lastCounted).length;
  const seen = new Set<number>();
  const glass: number[] = [];
  const afterWrite: number[] = [];
  for (const [t, pixel] of changes) {
    const f = byPixel.get(pixel);
    if (!f || seen.has(f.serial) || f.postNs < fromNs || f.postNs > lastCounted) continue;
    seen.add(f.serial);
    glass.push(Number(t - f.postNs) / 1e6);
    afterWrite.push(Number(t - f.writtenNs) / 1e6);
  }
  const p = (q: number) => round(percentile(glass, q)!, 2);
  return {
    glassMs: glass.length ? { p50: p(50), p90: p(90), p99: p(99) } : null,
    seenRatio: inWindow ? round(seen.size / inWindow, 3) : null,
    glassAfterWriteMs: afterWrite.length ? round(median(afterWrite), 2) : null,
    framesInWindow: inWindow,
  };
}

const args = parseArgs(process.argv.slice(2));
const mode = parseMode(args.get('mode') ?? '1920x1080');
const fps = numArg(args, 'fps', 60);
const seconds = numArg(args, 'seconds', 5);
const warmup = numArg(args, 'warmup', 1);
const cli = args.get('cli') ?? join(BENCH_DIR, '..', 'src', 'cli', 'main.js');
const unavailable = (reason: string): WindowTrialResult => ({ available: false, mode: mode.mode, fps, reason });

/** One window (glasspane's or B7's consumer) showing the solid stream, probed for `seconds`. */
async function measureWindow(display: string, xvfbPid: number, probe: string, consumer: 'glasspane' | 'poll1ms') {
  const shm = benchShmPath(`window-${consumer}`);
  rmSync(shm, { force: true });
  let producer: ProducerProcess | null = null;
  const env: NodeJS.ProcessEnv = { ...process.env, DISPLAY: display };
  delete env.WAYLAND_DISPLAY;
  const argv = consumer === 'glasspane' ? [cli, 'view', '--shm', shm, '--size', mode.mode, '--stats', '--title', 'glasspane bench'] : [join(BENCH_DIR, 'view-host.js'), '--shm', shm, '--size', mode.mode];
  const view = startViewer(argv, env);
  try {
    producer = await startProducer(['--shm', shm, '--mode', mode.mode, '--fps', String(fps), '--scene', 'solid']);
    say(`${consumer}: producer up`);
    const exitedEarly = () => view.child.exitCode !== null || view.child.signalCode !== null;
    if (!(await until(() => view.lines.some((l) => l.frames > 0), 30_000, exitedEarly))) {
      return `the ${consumer} window showed no frame in 30 s: ${view.stderr().trim().split('\n').slice(-3).join(' / ') || 'no message'}`;
    }
    say(`${consumer}: frames shown`);
    await sleep(warmup * 1000);
    const p = startProbe(probe, display, mode.width >> 1, mode.height >> 1, seconds, numArg(args, 'probe-gap-us', 250));
    await p.ready;
    say(`${consumer}: probe ready`);
    const s0 = await producer.snapshot();
    const c0 = cpuSeconds(view.child.pid!);
    const x0 = cpuSeconds(xvfbPid);
    const l0 = view.lines.length;
    const t0 = performance.now();
    const probed = await p.done;
    say(`${consumer}: probe done, ${probed.changes.length} changes`);
    const toNs = process.hrtime.bigint();
    const s1 = await producer.snapshot();
    const c1 = cpuSeconds(view.child.pid!);
    const x1 = cpuSeconds(xvfbPid);
    const wall = (performance.now() - t0) / 1000;
    const figures = view.lines.slice(l0);
    if (exitedEarly() || figures.length === 0) return `the ${consumer} window stopped: ${view.stderr().trim().split('\n').slice(-3).join(' / ')}`;
    await view.stop();
    const stats = await producer.stop();
    producer = null;
    const nums = (k: keyof Figures) => figures.map((f) => f[k]).filter((v): v is number => typeof v === 'number');
    const p99s = nums('latencyP99Ms');
    const log = stats?.frameLog ?? [];
    return {
      consumedFps: postRate(s0, s1),
      waitsForConsumer: s1.waitsForConsumer - s0.waitsForConsumer,
      presentedFps: nums('ups').reduce((a, b) => a + b, 0) / figures.length,
      cpuPct: ((c1 - c0) / wall) * 100,
      xvfbCpuPct: ((x1 - x0) / wall) * 100,
      renderMs: nums('presentMs').length ? median(nums('presentMs')) : null,
      latencyP50: nums('latencyMs').length ? median(nums('latencyMs')) : null,
      latencyP99: p99s.length ? Math.max(...p99s) : null,
      glass: glassFigures(probed.changes, log, probed.fromNs, toNs),
      probeReads: probed.reads,
      producerWroteMs: log.length ? median(log.map(([, post, written]) => Number(BigInt(written) - BigInt(post)) / 1e6)) : null,
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
  const view = startViewer([cli, 'view', '--shm', shm, '--headless', '--seconds', String(warmup + seconds + 30)], process.env);
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

/** One render and one present of a frame this size, on its own Xvfb (render.js --split). */
async function floorParts(): Promise<{ render: number | null; present: number | null }> {
  try {
    const r = await runTrial<RenderResult>('render', ['--modes', mode.mode, '--split', '--frames', '20'], 120_000);
    const s = r.result.available ? r.result.split?.[0] : undefined;
    return s ? { render: round(s.uploadMs + s.drawMs, 2), present: round(s.presentMs, 2) } : { render: null, present: null };
  } catch {
    return { render: null, present: null };
  }
}

const say = (s: string) => process.env.BENCH_DEBUG && process.stderr.write(`window: ${s}\n`);
const probe = cTool('pixel-probe', ['-lX11']);
const x = typeof probe === 'string' ? await startXvfb(mode.width, mode.height, { terminate: false }) : probe.reason;
let result: WindowTrialResult;
if (typeof x === 'string' || typeof probe !== 'string') {
  result = unavailable(typeof x === 'string' ? x : 'no probe');
} else {
  try {
    const w = await measureWindow(x.display, x.pid, probe, 'glasspane');
    if (typeof w === 'string') {
      result = unavailable(w);
    } else {
      const b7 = args.has('no-poll') ? 'skipped (--no-poll)' : await measureWindow(x.display, x.pid, probe, 'poll1ms');
      const h = await measureHeadless();
      const floor = await floorParts();
      const { framesInWindow, ...glass } = w.glass;
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
        ...glass,
        floorMs: { producerWrote: w.producerWroteMs === null ? null : round(w.producerWroteMs, 2), ...floor },
        poll1ms:
          typeof b7 === 'string'
            ? { reason: b7 }
            : (({ framesInWindow: _n, ...g }) => ({ mode: mode.mode, consumedFps: round(b7.consumedFps, 1), presentedFps: round(b7.presentedFps, 1), cpuPct: round(b7.cpuPct, 1), renderMs: b7.renderMs === null ? null : round(b7.renderMs, 2), ...g }))(b7.glass),
        details: { seconds, xvfbCpuPct: round(w.xvfbCpuPct, 1), headlessCpuPct: round(h.cpuPct, 1), waitsForConsumer: w.waitsForConsumer, headlessWaitsForConsumer: h.waitsForConsumer, probeReads: w.probeReads, framesInWindow },
      };
    }
  } finally {
    await x.stop();
  }
}
emitResult(result);
process.exit(0);
