/**
 * Idle-cost trial: what a viewer costs while the guest shows a still desktop. A producer posts a
 * few frames and then only keeps its session alive (10 ms heartbeat, no frames); the consumer is
 * the whole window process — `glasspane view` on a private Xvfb (its relay thread, watcher,
 * window and OSD), or the same window with Looking Glass B7's 1 ms polling consumer behind it
 * (bench/view-host.js). After a settle time (the watcher backs off once nothing changed for a
 * while; start-up garbage collection ends), the process's CPU time, all threads, is read from
 * /proc/PID/stat over the window ÷ wall time.
 *   node dist/bench/idle.js --consumer relay|poll1ms --seconds S [--settle S] [--no-window] [--watcher k=v,…] [--cli PATH]
 * `--cli` runs another build's dist/src/cli/main.js as the relay's window (before and after a change).
 * `--no-window` (or no Xvfb/SDL): the consumer alone in this process instead (the relay thread, or
 * the polling consumer), measured with process.cpuUsage(); `--watcher` applies there only.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ThreadedRelay } from '../src/relay/threaded-relay.js';
import { PollConsumer } from './poll-consumer.js';
import { BENCH_DIR, benchShmPath, emitResult, numArg, parseArgs, parseWatcher, round, startProducer } from './lib.js';
import { startXvfb } from './xvfb.js';
import { cpuSeconds, startViewer } from './viewer-process.js';

export interface IdleResult {
  consumer: 'relay' | 'poll1ms';
  /** `window`: a whole viewer process; `process`: the consumer alone (no window could be opened, or --no-window). */
  where: 'window' | 'process';
  /** Why there is no window figure, when `where` is `process`. */
  windowReason?: string;
  seconds: number;
  cpuPct: number;
}

const args = parseArgs(process.argv.slice(2));
const kind = (args.get('consumer') ?? 'relay') as 'relay' | 'poll1ms';
const seconds = numArg(args, 'seconds', 3);
const settle = numArg(args, 'settle', 3);
const watcher = args.get('watcher');
const shm = benchShmPath(`idle-${kind}`);
rmSync(shm, { force: true });
const producer = await startProducer(['--shm', shm, '--mode', '1280x720', '--fps', '60', '--frames', '3']);

/** The whole window process, or why not. */
async function inWindow(): Promise<number | string> {
  const x = await startXvfb(1280, 720, { terminate: false });
  if (typeof x === 'string') return x;
  const env: NodeJS.ProcessEnv = { ...process.env, DISPLAY: x.display };
  delete env.WAYLAND_DISPLAY;
  const argv = kind === 'relay' ? [args.get('cli') ?? join(BENCH_DIR, '..', 'src', 'cli', 'main.js'), 'view', '--shm', shm, '--size', '1280x720', '--stats', '--title', 'glasspane bench'] : [join(BENCH_DIR, 'view-host.js'), '--shm', shm, '--size', '1280x720'];
  const view = startViewer(argv, env);
  try {
    const end = Date.now() + 30_000;
    while (!view.lines.some((l) => l.frames > 0)) {
      if (Date.now() > end || view.child.exitCode !== null) return `the window showed no frame: ${view.stderr().trim().split('\n').slice(-2).join(' / ')}`;
      await sleep(50);
    }
    await sleep(settle * 1000);
    const c0 = cpuSeconds(view.child.pid!);
    const t0 = performance.now();
    await sleep(seconds * 1000);
    const c1 = cpuSeconds(view.child.pid!);
    return ((c1 - c0) / ((performance.now() - t0) / 1000)) * 100;
  } finally {
    await view.stop();
    await x.stop();
  }
}

/** The consumer alone in this process. */
async function inProcess(): Promise<number> {
  let subscribed!: () => void;
  const session = new Promise<void>((resolve) => (subscribed = resolve));
  let close: () => Promise<void>;
  if (kind === 'relay') {
    const relay = new ThreadedRelay({ path: shm, retryMs: 10, watcher: parseWatcher(watcher), order: 'queue' });
    relay.on('session', () => subscribed());
    relay.on('ready', () => {
      for (let f = relay.takeNext(); f; f = relay.takeNext()) f.release();
    });
    void relay.start();
    close = () => relay.close();
  } else {
    const poll = new PollConsumer({ path: shm, intervalMs: 1 });
    poll.on('session', () => subscribed());
    void poll.start();
    close = () => poll.close();
  }
  // A limit, not a measurement: on a loaded machine the first session can take a while.
  const timeout = setTimeout(() => {
    process.stderr.write('no session with the idle producer within 60 s\n');
    process.exit(3);
  }, 60_000);
  await session;
  clearTimeout(timeout);
  await sleep(settle * 1000);
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  await sleep(seconds * 1000);
  const c = process.cpuUsage(c0);
  const wallMs = performance.now() - t0;
  await close();
  return ((c.user + c.system) / 1e3 / wallMs) * 100;
}

const window = args.has('no-window') ? 'not measured (--no-window)' : await inWindow();
const cpuPct = typeof window === 'number' ? window : await inProcess();
await producer.stop();
rmSync(shm, { force: true });
emitResult({ consumer: kind, where: typeof window === 'number' ? 'window' : 'process', ...(typeof window === 'string' ? { windowReason: window } : {}), seconds, cpuPct: round(cpuPct, 3) } satisfies IdleResult);
process.exit(0);
