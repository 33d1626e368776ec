/**
 * Idle-cost trial: the consumer is attached (subscribed to both queues of a live producer whose
 * heartbeat runs every 10 ms) but no frame is posted. After a settle time (the watcher drops to
 * its idle sleep once nothing changed for a while) this process's CPU time — all threads, the
 * watcher's included — is measured over a window with process.cpuUsage().
 *   node dist/bench/idle.js --consumer relay|poll1ms --seconds S [--settle S] [--watcher k=v,…]
 */
import { rmSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { FrameRelay } from '../src/relay/frame-relay.js';
import { PollConsumer } from './poll-consumer.js';
import { benchShmPath, emitResult, numArg, parseArgs, parseWatcher, round, startProducer } from './lib.js';

export interface IdleResult {
  consumer: 'relay' | 'poll1ms';
  seconds: number;
  cpuPct: number;
  userMs: number;
  systemMs: number;
  frames: number;
}

const args = parseArgs(process.argv.slice(2));
const kind = (args.get('consumer') ?? 'relay') as 'relay' | 'poll1ms';
const seconds = numArg(args, 'seconds', 3);
const settle = numArg(args, 'settle', 1);
const shm = benchShmPath(`idle-${kind}`);
rmSync(shm, { force: true });

const producer = await startProducer(['--shm', shm, '--idle']);
let frames = 0;
let subscribed!: () => void;
const session = new Promise<void>((resolve) => (subscribed = resolve));
let close: () => Promise<void>;
if (kind === 'relay') {
  const relay = new FrameRelay({ path: shm, retryMs: 10, watcher: parseWatcher(args.get('watcher')) });
  relay.on('session', () => subscribed());
  relay.on('frame', (f) => {
    frames++;
    f.release();
  });
  void relay.start();
  close = () => relay.close();
} else {
  const poll = new PollConsumer({ path: shm, intervalMs: 1 });
  poll.on('session', () => subscribed());
  poll.on('frame', () => frames++);
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
const t0 = process.hrtime.bigint();
const c0 = process.cpuUsage();
await sleep(seconds * 1000);
const c = process.cpuUsage(c0);
const wallMs = Number(process.hrtime.bigint() - t0) / 1e6;
await close();
await producer.stop();
rmSync(shm, { force: true });

const result: IdleResult = {
  consumer: kind,
  seconds: round(wallMs / 1000, 2),
  cpuPct: round(((c.user + c.system) / 1e3 / wallMs) * 100, 3),
  userMs: round(c.user / 1e3, 1),
  systemMs: round(c.system / 1e3, 1),
  frames,
};
emitResult(result);
