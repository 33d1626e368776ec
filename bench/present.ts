/**
 * Present-cost trial, for information: glasspane's viewer window (src/viewer) on a private Xvfb
 * display — software rendering, so this is the cost of SDL's software path, not of a GPU —
 * showing a producer's frames. Reported from the viewer's own figures (its OSD numbers): the
 * median time of a present (frame upload + draw + present) and the copied → presented latency,
 * per second.
 *   node dist/bench/present.js [--mode WxH] [--fps N] [--seconds S] [--warmup S]
 * Exits 0 with `{"available": false, "reason": …}` when Xvfb or SDL is missing.
 */
import { rmSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { Viewer } from '../src/viewer/viewer.js';
import { NullInputSink } from '../src/input/sink.js';
import { benchShmPath, emitResult, numArg, parseArgs, parseMode, round, startProducer } from './lib.js';
import { startXvfb } from './xvfb.js';

export type PresentResult =
  | { available: false; reason: string }
  | { available: true; mode: string; fps: number; seconds: number; presentMs: number | null; presentedLatencyMs: number | null; renderFps: number; frameUps: number };

const args = parseArgs(process.argv.slice(2));
const mode = parseMode(args.get('mode') ?? '1920x1080');
const fps = numArg(args, 'fps', 60);
const seconds = numArg(args, 'seconds', 3);
const warmup = numArg(args, 'warmup', 1);

const x = await startXvfb();
if (typeof x === 'string') {
  emitResult({ available: false, reason: x } satisfies PresentResult);
  process.exit(0);
}
process.env.DISPLAY = x.display;
delete process.env.WAYLAND_DISPLAY;
const shm = benchShmPath('present');
rmSync(shm, { force: true });
const producer = await startProducer(['--shm', shm, '--mode', mode.mode, '--fps', String(fps)]);
const presentMs: number[] = [];
const latencyMs: number[] = [];
const renderFps: number[] = [];
const frameUps: number[] = [];
let measuring = false;
const viewer = new Viewer({
  shm,
  sink: new NullInputSink(),
  inputName: 'none',
  osd: false,
  vsync: false,
  size: { width: 1280, height: 720 },
  onFigures: (f) => {
    if (!measuring || !f.frames) return;
    if (f.presentMs !== null) presentMs.push(f.presentMs);
    if (f.latencyMs !== null) latencyMs.push(f.latencyMs);
    renderFps.push(f.fps);
    frameUps.push(f.ups);
  },
});
let result: PresentResult;
try {
  const running = viewer.run();
  const failed = running.then(
    () => 'the viewer closed early',
    (err: Error) => err.message,
  );
  const window = (async () => {
    await sleep(warmup * 1000);
    measuring = true;
    await sleep(seconds * 1000 + 50);
    return null;
  })();
  const error = await Promise.race([failed, window]);
  const med = (xs: number[]) => (xs.length ? round([...xs].sort((a, b) => a - b)[xs.length >> 1]!, 3) : null);
  result = error
    ? { available: false, reason: `viewer: ${error}` }
    : { available: true, mode: mode.mode, fps, seconds, presentMs: med(presentMs), presentedLatencyMs: med(latencyMs), renderFps: med(renderFps) ?? 0, frameUps: med(frameUps) ?? 0 };
} catch (err) {
  result = { available: false, reason: `viewer: ${(err as Error).message}` };
}
await viewer.close().catch(() => undefined);
await producer.stop();
rmSync(shm, { force: true });
emitResult(result);
// With a window ever opened, Xvfb goes with our X connection at exit; otherwise stop it here.
if (!result.available) await x.stop();
process.exit(0);
