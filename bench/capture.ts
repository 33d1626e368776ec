/**
 * Capture trial (`glasspane capture`, the X11 producer of a Linux guest) on a 1920x1080 Xvfb, with
 * a real consumer (`glasspane view --headless`) in its own process:
 * - idle: the desktop does not change; this process's CPU (all threads) over the window, as % of
 *   one core (target ≤ 1 %), and the frames sent meanwhile (should be 0);
 * - full-screen updates: bench/x11-painter.js repaints the whole screen at --paint-fps; the frames
 *   the capture sends and the consumer receives per second, and the capture's CPU;
 * - copy cost: one full 1080p frame copied by the X server into the region (CopyArea into a shared
 *   pixmap, the capture's only copy, round trip included) against one memcpy of as many bytes in
 *   this process, both medians of --rounds; and the same for a 64x64 damage.
 *   node dist/bench/capture.js [--seconds S] [--paint-fps F] [--rounds N]
 */
import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { loadX11Addon, native } from '../src/native.js';
import { openRegion } from '../src/region.js';
import { CaptureProducer } from '../guest-stub/x11-producer.js';
import { BENCH_DIR, benchShmPath, emitResult, median, numArg, parseArgs, round } from './lib.js';
import { startXvfb } from './xvfb.js';

/** What the capture trial reports (see the module comment); `available` false with why not. */
export type CaptureTrialResult =
  | { available: false; reason: string }
  | {
      available: true;
      mode: string;
      idle: { seconds: number; cpuPct: number; framesSent: number; xServerCpuPct: number | null };
      full: { seconds: number; paintFps: number; painted: number; sentFps: number; receivedFps: number | null; cpuPct: number; xServerCpuPct: number | null };
      copy: { memcpyMs: number; fullFrameMs: number; ratio: number; damage64Ms: number };
    };

const W = 1920;
const H = 1080;
const args = parseArgs(process.argv.slice(2));
const seconds = numArg(args, 'seconds', 3);
const paintFps = numArg(args, 'paint-fps', 240);
const rounds = numArg(args, 'rounds', 40);
const CLI = join(BENCH_DIR, '..', 'src', 'cli', 'main.js');

/** CPU seconds (user + system) of process `pid` from /proc, or null. */
async function procCpuS(pid: number): Promise<number | null> {
  try {
    const { readFileSync } = await import('node:fs');
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(f[11]) + Number(f[12])) / 100; // utime, stime in clock ticks (100 Hz)
  } catch {
    return null;
  }
}

/** This process's CPU and the X server's over `ms`, while `during` runs. */
async function measure<T>(xPid: number, ms: number, during: () => Promise<T>): Promise<{ cpuPct: number; xPct: number | null; value: T }> {
  const c0 = process.cpuUsage();
  const x0 = await procCpuS(xPid);
  const t0 = performance.now();
  const value = await during();
  const wall = performance.now() - t0;
  const c = process.cpuUsage(c0);
  const x1 = await procCpuS(xPid);
  return { cpuPct: round(((c.user + c.system) / 1000 / wall) * 100, 2), xPct: x0 !== null && x1 !== null ? round(((x1 - x0) * 1000 / wall) * 100, 1) : null, value };
}

async function run(): Promise<CaptureTrialResult> {
  try {
    loadX11Addon();
  } catch (err) {
    return { available: false, reason: (err as Error).message };
  }
  const x = await startXvfb(W, H);
  if (typeof x === 'string') return { available: false, reason: x };
  const shm = benchShmPath('capture');
  const copyShm = benchShmPath('capture-copy');
  rmSync(shm, { force: true });
  const view = spawn(process.execPath, [CLI, 'view', '--shm', shm, '--headless', '--json', '--seconds', String(seconds * 2 + 30)], { stdio: ['ignore', 'pipe', 'ignore'] });
  let viewOut = '';
  view.stdout!.on('data', (d) => (viewOut += d));
  const cap = new CaptureProducer({ shmPath: shm, display: x.display, fps: 0, onProblem: (m) => process.stderr.write(`capture: ${m}\n`) });
  const loop = cap.run();
  /** Frames sent before the full-screen load (the viewer took each: it was idle). */
  let sent0 = 0;
  try {
    while (cap.stats.framesPosted < 1) await sleep(20); // the viewer subscribed and has the desktop
    await sleep(1000); // settle: the pointer poll slows down, the consumer's watcher idles

    const sentBefore = cap.stats.framesPosted;
    const idle = await measure(x.pid, seconds * 1000, () => sleep(seconds * 1000));
    const framesSent = cap.stats.framesPosted - sentBefore;

    const painter = spawn(process.execPath, [join(BENCH_DIR, 'x11-painter.js'), '--display', x.display, '--fps', String(paintFps), '--seconds', String(seconds)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let painterOut = '';
    painter.stdout!.on('data', (d) => (painterOut += d));
    sent0 = cap.stats.framesPosted;
    const full = await measure(x.pid, seconds * 1000, () => new Promise<number>((resolve) => painter.once('exit', () => resolve(performance.now()))));
    const sent = cap.stats.framesPosted - sent0;
    const painted = Number(/PAINTED (\d+)/.exec(painterOut)?.[1] ?? 0);

    // Copy cost, on a region of its own so the capture's buffers are left alone.
    const { X11Capture } = loadX11Addon();
    const xc = new X11Capture(x.display);
    const region = openRegion(copyShm, { createBytes: 16 << 20 });
    const copy = { full: [] as number[], small: [] as number[], memcpy: [] as number[] };
    try {
      xc.attach(copyShm);
      xc.setTargets([4096], W, H);
      const src = new Uint8Array(W * H * 4).fill(7);
      const dst = new Uint8Array(W * H * 4);
      const fullRect = Int32Array.from([0, 0, W, H]);
      const smallRect = Int32Array.from([900, 500, 64, 64]);
      for (let i = 0; i < rounds; i++) {
        let t = performance.now();
        await xc.copyAsync(0, fullRect);
        copy.full.push(performance.now() - t);
        t = performance.now();
        await xc.copyAsync(0, smallRect);
        copy.small.push(performance.now() - t);
        t = performance.now();
        native.memcpyBaseline(dst, src);
        copy.memcpy.push(performance.now() - t);
      }
    } finally {
      xc.close();
      region.close();
    }
    view.kill('SIGTERM');
    await new Promise((r) => view.once('exit', r));
    let received: number | null = null;
    try {
      received = (JSON.parse(viewOut) as { frames: number }).frames;
    } catch {
      /* the viewer's report is for information */
    }
    const memcpyMs = round(median(copy.memcpy));
    const fullFrameMs = round(median(copy.full));
    return {
      available: true,
      mode: `${W}x${H}`,
      idle: { seconds, cpuPct: idle.cpuPct, framesSent, xServerCpuPct: idle.xPct },
      full: { seconds, paintFps, painted, sentFps: round(sent / seconds, 1), receivedFps: received === null ? null : round((received - sent0) / seconds, 1), cpuPct: full.cpuPct, xServerCpuPct: full.xPct },
      copy: { memcpyMs, fullFrameMs, ratio: round(fullFrameMs / memcpyMs, 2), damage64Ms: round(median(copy.small)) },
    };
  } finally {
    await cap.stop();
    await loop.catch(() => undefined);
    if (view.exitCode === null) view.kill('SIGKILL');
    await x.stop();
    rmSync(shm, { force: true });
    rmSync(copyShm, { force: true });
  }
}

emitResult(await run());
