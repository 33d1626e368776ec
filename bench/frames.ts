/**
 * Frame trial: a producer process (bench/producer.js, guest-stub's scene) and this process as the
 * consumer — glasspane's FrameRelay (watcher thread) or the 1 ms sleep-polling consumer (B7's
 * strategy). Per frame it records, on this host's CLOCK_MONOTONIC (the stub writes its post time
 * into the first pixel row right before posting):
 *   notify   post → the consumer sees the message (FrameRelay: its queue's process() returns it)
 *   latency  post → the consumer holds the whole frame (copy out of the region finished); the
 *            producer starts writing right after the post, so this is the pipelined frame latency
 *   handoff  the consumer holds the whole frame − the producer finished writing it (paired per
 *            frame with the producer's own record): the latency the consumer adds
 *   serial gaps (frames lost) and, with --verify, every pixel checked against the scene.
 *   node dist/bench/frames.js --consumer relay|poll1ms --mode WxH --fps N --seconds S [--wait thread|loop]
 *        [--warmup S] [--verify] [--watcher spinUs=50,maxSleepUs=100] [--copy-strategy auto]
 *        [--copy-timeout MS]   (both consumers; default: FrameRelay's own, 100 ms)
 * --wait thread (default): FrameRelay waits and copies on its own thread, as the viewer's relay
 * thread does (waitOnThisThread, copyOnThisThread); --wait loop: woken through the event loop and
 * copying on the libuv pool, as `view --headless` does.
 */
import { rmSync } from 'node:fs';
import { FrameRelay } from '../src/relay/frame-relay.js';
import { ConsumerQueue } from '../src/lgmp/consumer.js';
import { KVMFR } from '../src/kvmfr/layout.js';
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
  /** FrameRelay only: post → the watcher's callback runs on the JS thread (the rest of notify is relay JS). */
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

/** Records when FrameRelay's frame queue first hands out each message (the probe for notify). */
let relaySeenNs = 0n;
/** When the watcher's callback last ran on the JS thread (its wake-up, before any relay code). */
let relayWakeNs = 0n;
function probeRelayQueue(): void {
  // The relay creates its watcher itself: hand it a subclass that timestamps every callback.
  const Watcher = native.Watcher;
  class TimedWatcher extends Watcher {
    override wait(words: number[], timeoutMs: number, callback: (index: number, value: number) => void): void {
      super.wait(words, timeoutMs, (index, value) => {
        if (index >= 0) relayWakeNs = process.hrtime.bigint();
        callback(index, value);
      });
    }
    override waitSync(words: number[], timeoutMs: number): [number, number] {
      const r = super.waitSync(words, timeoutMs);
      if (r[0] >= 0) relayWakeNs = process.hrtime.bigint();
      return r;
    }
  }
  (native as { Watcher: typeof Watcher }).Watcher = TimedWatcher;
  const process_ = ConsumerQueue.prototype.process;
  ConsumerQueue.prototype.process = function (this: ConsumerQueue) {
    const r = process_.call(this);
    if (typeof r !== 'string' && this.queueID === KVMFR.QUEUE_FRAME) relaySeenNs = process.hrtime.bigint();
    return r;
  };
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
    probeRelayQueue();
    const onThread = (args.get('wait') ?? 'thread') === 'thread';
    const relay = new FrameRelay({ path: shm, retryMs: 10, watcher: parseWatcher(args.get('watcher')), copyTimeoutMs: copyTimeoutMs ?? undefined, waitOnThisThread: onThread, copyOnThisThread: onThread });
    relay.on('frame', (f) => {
      try {
        onFrame(f.info, f.data, relaySeenNs, f.copiedAtNs, relayWakeNs);
      } finally {
        f.release();
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
