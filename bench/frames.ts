/**
 * Frame trial: a producer process (bench/producer.js, guest-stub's scene) and this process as the
 * consumer — glasspane's relay exactly as the window runs it (ThreadedRelay: the relay thread
 * blocked in the kernel until the producer posts, copying on itself; here taking every frame in
 * order, as `view --headless` does) or the 1 ms sleep-polling consumer (B7's strategy). Per frame
 * it records, on this host's CLOCK_MONOTONIC (the stub writes its post time into the first pixel
 * row right before posting):
 *   notify   post → the relay sees the message (its queue's process() returned it, on the relay thread)
 *   wake     post → the relay thread's wait returned (the rest of notify is the relay's JS)
 *   latency  post → the consumer holds the whole frame (copy out of the region finished); the
 *            producer starts writing right after the post, so this is the pipelined frame latency
 *   handoff  the consumer holds the whole frame − the producer finished writing it (paired per
 *            frame with the producer's own record): the latency the consumer adds
 *   serial gaps (frames lost) and, with --verify, every pixel checked against the scene.
 *   node dist/bench/frames.js --consumer relay|poll1ms --mode WxH --fps N --seconds S
 *        [--warmup S] [--verify] [--watcher spinUs=0,maxSleepUs=100] [--copy-strategy auto]
 *        [--copy-timeout MS]   (both consumers; default: the relay's own, 100 ms)
 */
import { rmSync } from 'node:fs';
import { ThreadedRelay } from '../src/relay/threaded-relay.js';
import { native } from '../src/native.js';
import type { FrameInfo } from '../src/kvmfr/frame.js';
import { SceneVerifier } from '../src/scenes/verify.js';
import { SCENE_MAGIC } from '../src/scenes/bars.js';
import { PollConsumer } from './poll-consumer.js';
import { benchShmPath, emitResult, numArg, parseArgs, parseMode, parseWatcher, round, startProducer, summarize, thin, type ProducerStats } from './lib.js';

export interface FramesResult {
  consumer: 'relay' | 'poll1ms';
  mode: string;
  targetFps: number;
  seconds: number;
  frames: number;
  fps: number;
  lost: number;
  verifyFailures: number;
  firstVerifyError: string | null;
  notifyUs: { p50: number; p99: number; max: number } | null;
  /** The relay only: post → its thread's wait returned (the rest of notify is the relay's JS). */
  wakeUs: { p50: number; p99: number; max: number } | null;
  latencyUs: { p50: number; p99: number; max: number } | null;
  /** Held by the consumer − written by the producer, per frame (µs). */
  handoffUs: { p50: number; p99: number; max: number } | null;
  /** Thinned raw samples for the chart. */
  notifySamplesUs: number[];
  latencySamplesUs: number[];
  /** This process's CPU time over the window, % of one core. */
  cpuPct: number;
  producer: ProducerStats | null;
  problems: string[];
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const consumerKind = (args.get('consumer') ?? 'relay') as 'relay' | 'poll1ms';
  if (consumerKind !== 'relay' && consumerKind !== 'poll1ms') throw new Error('--consumer relay|poll1ms');
  const mode = parseMode(args.get('mode') ?? '1920x1080');
  const fps = numArg(args, 'fps', 60);
  const seconds = numArg(args, 'seconds', 3);
  const warmup = numArg(args, 'warmup', 0.5);
  const verify = args.has('verify');
  const copyTimeoutMs = args.has('copy-timeout') ? numArg(args, 'copy-timeout', 20) : null;
  const strategy = args.get('copy-strategy') as 'auto' | 'memcpy' | 'avx2-stream' | undefined;
  if (strategy) native.setCopyStrategy(strategy);
  const shm = benchShmPath(`frames-${consumerKind}`);
  rmSync(shm, { force: true });

  const verifier = new SceneVerifier();
  const notify: number[] = [];
  const wake: number[] = [];
  const latency: number[] = [];
  /** post time → when this consumer held the whole frame (ns), for the hand-off pairing. */
  const heldAt = new Map<bigint, bigint>();
  const problems: string[] = [];
  let frames = 0;
  let lost = 0;
  let verifyFailures = 0;
  let firstVerifyError: string | null = null;
  let lastSerial = -1;
  let firstAt = 0;
  let windowStart = 0n;
  let cpuStart: NodeJS.CpuUsage | null = null;
  let cpuPct = 0;
  let finish!: () => void;
  const done = new Promise<void>((resolve) => (finish = resolve));
  let finished = false;

  const onFrame = (info: FrameInfo, data: Buffer, seenNs: bigint, copiedAtNs: bigint, wakeNs = 0n): void => {
    const now = performance.now();
    if (!firstAt) firstAt = now;
    if (now - firstAt < warmup * 1000 || finished) return;
    if (!windowStart) {
      windowStart = process.hrtime.bigint();
      cpuStart = process.cpuUsage();
      setTimeout(() => {
        const c = process.cpuUsage(cpuStart!);
        cpuPct = ((c.user + c.system) / 1e3 / (Number(process.hrtime.bigint() - windowStart) / 1e6)) * 100;
        finished = true;
        finish();
      }, seconds * 1000);
    }
    frames++;
    const serial = info.frameSerial;
    if (lastSerial >= 0 && serial !== lastSerial) lost += Math.max(0, ((serial - lastSerial) >>> 0) - 1);
    lastSerial = serial;
    if (data.length >= 16 && data.readUInt32LE(0) === SCENE_MAGIC) {
      const postedNs = data.readBigUInt64LE(8);
      if (seenNs > 0n) notify.push(Number(seenNs - postedNs) / 1e3);
      if (wakeNs > postedNs && wakeNs <= seenNs) wake.push(Number(wakeNs - postedNs) / 1e3);
      latency.push(Number(copiedAtNs - postedNs) / 1e3);
      if (heldAt.size < 100_000) heldAt.set(postedNs, copiedAtNs);
    }
    if (verify) {
      const v = verifier.verify(data, info.frameWidth, info.frameHeight, info.dataHeight, info.pitch, info.type, info.frameSerial);
      if (!v.ok) {
        verifyFailures++;
        firstVerifyError ??= v.error ?? 'unknown';
      }
    }
  };

  /** Problems count only inside the measured window (not during start-up and warm-up). */
  const inWindow = () => windowStart > 0n && !finished;
  const producer = await startProducer(['--shm', shm, '--mode', mode.mode, '--fps', String(fps)]);
  let close: () => Promise<void>;
  let running: Promise<void>;
  if (consumerKind === 'relay') {
    const relay = new ThreadedRelay({ path: shm, retryMs: 10, watcher: parseWatcher(args.get('watcher')), copyTimeoutMs: copyTimeoutMs ?? undefined, order: 'queue' });
    relay.on('ready', () => {
      for (let f = relay.takeNext(); f; f = relay.takeNext()) {
        try {
          onFrame(f.info, f.data, f.seenAtNs, f.copiedAtNs, f.wokeAtNs);
        } finally {
          f.release();
        }
      }
    });
    relay.on('problem', (p) => inWindow() && problems.length < 20 && problems.push(p.message));
    running = relay.start();
    close = () => relay.close();
  } else {
    const poll = new PollConsumer({ path: shm, intervalMs: 1, copyTimeoutMs: copyTimeoutMs ?? undefined });
    poll.on('frame', (f) => onFrame(f.info, f.data, f.seenNs, f.copiedAtNs));
    poll.on('problem', (m) => inWindow() && problems.length < 20 && problems.push(m));
    running = poll.start();
    close = () => poll.close();
  }
  const noFrames = setTimeout(() => {
    if (!frames) {
      problems.push('no frame arrived within 15 s');
      finished = true;
      finish();
    }
  }, 15_000 + warmup * 1000);
  await Promise.race([done, running]);
  clearTimeout(noFrames);
  const windowS = windowStart ? Number(process.hrtime.bigint() - windowStart) / 1e9 : 0;
  await close();
  const producerStats = await producer.stop();
  rmSync(shm, { force: true });
  const handoff: number[] = [];
  for (const [posted, written] of producerStats?.writeDone ?? []) {
    const held = heldAt.get(BigInt(posted));
    if (held !== undefined) handoff.push(Number(held - BigInt(written)) / 1e3);
  }
  if (producerStats) delete producerStats.writeDone; // paired above; too long for the result

  const result: FramesResult = {
    consumer: consumerKind,
    mode: mode.mode,
    targetFps: fps,
    seconds: round(windowS, 2),
    frames,
    fps: windowS > 0 ? round(frames / windowS, 1) : 0,
    lost,
    verifyFailures,
    firstVerifyError,
    notifyUs: summarize(notify),
    wakeUs: summarize(wake),
    latencyUs: summarize(latency),
    handoffUs: summarize(handoff),
    notifySamplesUs: thin(notify).map((v) => round(v, 1)),
    latencySamplesUs: thin(latency).map((v) => round(v, 1)),
    cpuPct: round(cpuPct, 2),
    producer: producerStats,
    problems,
  };
  emitResult(result);
  if (!frames) process.exitCode = 3;
}

await main();
