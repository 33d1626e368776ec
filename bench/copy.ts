/**
 * Copy trial: one frame size per process. Measures, as medians over `--rounds`:
 *   memcpyMs      libc memcpy of one BGRA frame between two private buffers (the baseline)
 *   copyMs        the consumer's copy out of a /dev/shm region (Region.copyOut following a write
 *                 pointer that says the whole frame is written), per copy strategy
 *   asyncMs       the same through copyOutAsync as FrameRelay does it (thread pool + promise)
 *   pipeline      the floor of the pipelined frame latency on this machine: a writer thread
 *                 (bench/writer-worker.ts: one frame, wp advancing every 1 MiB, as the stub
 *                 writes) and this thread copying behind its write pointer at the same time, in
 *                 one process — no notification, no event loop. writerMs: the writer's own time;
 *                 followerMs: writer start → the follower holds the whole frame
 * Efficiency = memcpy time / copy time.
 *   node dist/bench/copy.js [--mode WxH] [--rounds N] [--table] [--no-floor]
 * Without --mode all three sizes run in this one process (a quick look; `npm run bench` runs one
 * size per process). --table prints a table instead of the BENCH_RESULT line.
 */
import { rmSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { setTimeout as sleep } from 'node:timers/promises';
import { native } from '../src/native.js';
import { MODES, benchShmPath, emitResult, median, numArg, parseArgs, parseMode, round, type Mode } from './lib.js';

type Strategy = 'auto' | 'memcpy' | 'avx2-stream';

export interface CopyTrialResult {
  mode: string;
  bytes: number;
  memcpyMs: number;
  /** The strategy FrameRelay uses ('auto', the default). */
  copyMs: number;
  efficiency: number;
  asyncMs: number;
  pipeline: { writerMs: number; followerMs: number; ratio: number } | null;
  strategies: Array<{ strategy: Strategy; copyMs: number; efficiency: number }>;
}

/**
 * Medians of a baseline and an operation measured in pairs, in alternating order, so a noisy
 * neighbour slows both alike and neither always finds the other's data in the cache. Returns
 * [baseline median, operation median].
 */
function timePaired(rounds: number, baseline: () => void, op: () => void): [number, number] {
  const time = (fn: () => void, into: number[]) => {
    const t = process.hrtime.bigint();
    fn();
    into.push(Number(process.hrtime.bigint() - t) / 1e6);
  };
  const base: number[] = [];
  const ops: number[] = [];
  for (let i = -3; i < rounds; i++) {
    if (i === 0) base.length = ops.length = 0; // three rounds warmed up page tables and caches
    if (i % 2) {
      time(op, ops);
      time(baseline, base);
    } else {
      time(baseline, base);
      time(op, ops);
    }
  }
  return [median(base), median(ops)];
}

async function timeAsync(rounds: number, fn: () => Promise<unknown>): Promise<number> {
  for (let i = 0; i < 3; i++) await fn();
  const samples: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const t = process.hrtime.bigint();
    await fn();
    samples.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  return median(samples);
}

/** Writer thread + wp-following copy on this thread; medians over `rounds` frames. */
async function pipelineFloor(path: string, size: number, dataOffset: number, wpOffset: number, bytes: number, dst: Buffer, rounds: number, region: InstanceType<typeof native.Region>) {
  const control = new SharedArrayBuffer(24);
  const ctl = new Int32Array(control, 0, 2);
  const times = new BigInt64Array(control, 8, 2);
  const worker = new Worker(new URL('./writer-worker.js', import.meta.url), { workerData: { path, size, dataOffset, wpOffset, bytes, step: 1 << 20, control } });
  const exited = new Promise((resolve) => worker.once('exit', resolve));
  await new Promise((resolve, reject) => {
    worker.once('online', resolve);
    worker.once('error', reject);
  });
  await sleep(50); // the worker maps the region and allocates its source frame
  const writer: number[] = [];
  const follower: number[] = [];
  try {
    for (let i = 0; i < rounds + 3; i++) {
      region.store32(wpOffset, 0);
      Atomics.store(ctl, 1, 0);
      Atomics.store(ctl, 0, 1);
      Atomics.notify(ctl, 0);
      const got = region.copyOut(dataOffset, bytes, dst, 0, wpOffset, 1000);
      const held = process.hrtime.bigint();
      Atomics.wait(ctl, 1, 0, 5000);
      if (got !== bytes) throw new Error(`pipelined copy stopped at ${got} of ${bytes} bytes`);
      if (i < 3) continue; // warm-up
      writer.push(Number(times[1]! - times[0]!) / 1e6);
      follower.push(Number(held - times[0]!) / 1e6);
      await sleep(2);
    }
  } finally {
    Atomics.store(ctl, 0, 2);
    Atomics.notify(ctl, 0);
    await exited;
  }
  return { writerMs: round(median(writer)), followerMs: round(median(follower)) };
}

async function measure(m: Mode, rounds: number): Promise<CopyTrialResult> {
  const bytes = m.width * m.height * 4;
  const path = benchShmPath(`copy-${m.mode}`);
  const WP = 4092;
  const DATA = 4096;
  const size = DATA + bytes + 4096;
  const region = new native.Region(path, { create: true, size });
  try {
    new Uint8Array(region.buffer).fill(0x5a);
    const src = Buffer.alloc(bytes, 0x5a);
    const dst = Buffer.alloc(bytes);
    const all: Strategy[] = ['auto', 'memcpy', ...(native.cpuHasAvx2 ? ['avx2-stream' as const] : [])];
    region.store32(WP, bytes); // the whole frame is written
    // One block per strategy, each paired with its own memcpy rounds: a strategy's streaming
    // stores leave the destination out of the cache, which must not tax the next one measured.
    const paired = all.map((s) => {
      native.setCopyStrategy(s);
      return timePaired(rounds, () => native.memcpyBaseline(dst, src), () => region.copyOut(DATA, bytes, dst, 0, WP, 100));
    });
    const strategies: CopyTrialResult['strategies'] = all.map((s, i) => ({ strategy: s, copyMs: round(paired[i]![1]), efficiency: round(paired[i]![0] / paired[i]![1]) }));
    const memcpyMs = paired[0]![0]; // the baseline paired with 'auto', FrameRelay's strategy
    native.setCopyStrategy('auto');
    const asyncMs = await timeAsync(rounds, () => region.copyOutAsync(DATA, bytes, dst, 0, WP, 100));
    let pipeline: CopyTrialResult['pipeline'] = null;
    if (!noFloor) {
      const f = await pipelineFloor(path, size, DATA, WP, bytes, dst, rounds, region);
      pipeline = { ...f, ratio: round(f.followerMs / memcpyMs, 2) };
    }
    const auto = strategies[0]!;
    return { mode: m.mode, bytes, memcpyMs: round(memcpyMs), copyMs: auto.copyMs, efficiency: auto.efficiency, asyncMs: round(asyncMs), pipeline, strategies };
  } finally {
    region.close();
    rmSync(path, { force: true });
  }
}

const args = parseArgs(process.argv.slice(2));
const rounds = numArg(args, 'rounds', 30);
const noFloor = args.has('no-floor');
const modes = args.has('mode') ? [parseMode(args.get('mode')!)] : MODES;
const results: CopyTrialResult[] = [];
for (const m of modes) results.push(await measure(m, rounds));

if (args.has('table')) {
  console.log('mode        strategy      memcpy ms  copy ms  efficiency (memcpy/copy)');
  for (const r of results) {
    for (const s of r.strategies) console.log(`${r.mode.padEnd(11)} ${s.strategy.padEnd(13)} ${String(r.memcpyMs).padStart(9)} ${String(s.copyMs).padStart(8)} ${String(s.efficiency).padStart(6)}`);
    console.log(`${r.mode.padEnd(11)} async (auto)  ${String(r.memcpyMs).padStart(9)} ${String(r.asyncMs).padStart(8)} ${String(round(r.memcpyMs / r.asyncMs)).padStart(6)}`);
    if (r.pipeline) console.log(`${r.mode.padEnd(11)} writer+follow ${String(r.memcpyMs).padStart(9)} ${String(r.pipeline.followerMs).padStart(8)} ${String(round(r.memcpyMs / r.pipeline.followerMs)).padStart(6)}  (writer alone ${r.pipeline.writerMs} ms)`);
  }
} else {
  emitResult(args.has('mode') ? results[0] : results);
}
