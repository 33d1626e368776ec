/**
 * Experiment (not part of `npm run bench`): the native watcher's wake-up latency on its own, with
 * no LGMP, no frames and no relay — a writer process stores a counter word (and the time it did)
 * every `--period-ms`, and this process's Watcher wakes JS when the word changes. Use it to see
 * what WatcherOptions, timer slack or scheduling priority do to the notification path:
 *   node dist/bench/wake.js [--watcher spinUs=50,maxSleepUs=100] [--period-ms 6.94] [--count 450]
 *   chrt -f 1 node dist/bench/wake.js …          (the watcher and writer at SCHED_FIFO priority 1)
 *   node dist/bench/wake.js --timer-slack-ns 1000 (every thread of this process, the watcher's
 *        included, gets 1 µs timer slack instead of 50 µs; needs CAP_SYS_NICE, e.g. root —
 *        what prctl(PR_SET_TIMERSLACK) in the watcher thread would do)
 * Prints a BENCH_RESULT line: {watcher, count, wakeUs: {p50, p90, p99, max}, cpuPct}.
 */
import { spawn } from 'node:child_process';
import { readdirSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { native, WATCH_TIMEOUT } from '../src/native.js';
import { benchShmPath, emitResult, numArg, parseArgs, parseWatcher, percentile, round } from './lib.js';

const args = parseArgs(process.argv.slice(2));
const period = numArg(args, 'period-ms', 1000 / 144);
const count = numArg(args, 'count', 450);

if (args.has('writer')) {
  // The writer: word at 0 = counter, u64 at 8 = the time of the store (CLOCK_MONOTONIC ns).
  const region = new native.Region(args.get('writer')!, { size: 4096 });
  let i = 0;
  const tick = () => {
    region.store64(8, process.hrtime.bigint());
    region.store32(0, ++i);
    if (i < count) setTimeout(tick, period);
    else process.exit(0);
  };
  setTimeout(tick, 200);
} else {
  const path = benchShmPath('wake');
  const region = new native.Region(path, { create: true, size: 4096 });
  region.store32(0, 0);
  const watcher = new native.Watcher(region, parseWatcher(args.get('watcher')));
  const slack = args.get('timer-slack-ns');
  if (slack) for (const tid of readdirSync('/proc/self/task')) writeFileSync(`/proc/${tid}/timerslack_ns`, slack);
  const writer = spawn(process.execPath, [fileURLToPath(import.meta.url), '--writer', path, '--period-ms', String(period), '--count', String(count)], { stdio: 'inherit' });
  const wake: number[] = [];
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  let last = 0;
  await new Promise<void>((resolve) => {
    const arm = () =>
      watcher.wait([0, last], 2000, (index, value) => {
        if (index === WATCH_TIMEOUT || index < 0) return resolve();
        wake.push(Number(process.hrtime.bigint() - region.load64(8)) / 1e3);
        last = value;
        if (value >= count) return resolve();
        arm();
      });
    arm();
  });
  const c = process.cpuUsage(c0);
  const wallMs = performance.now() - t0;
  watcher.close();
  region.close();
  rmSync(path, { force: true });
  writer.kill();
  const p = (q: number) => round(percentile(wake, q) ?? NaN, 1);
  emitResult({
    watcher: args.get('watcher') ?? 'defaults',
    timerSlackNs: slack ? Number(slack) : 'default',
    count: wake.length,
    wakeUs: { p50: p(50), p90: p(90), p99: p(99), max: p(100) },
    cpuPct: round(((c.user + c.system) / 1e3 / wallMs) * 100, 2),
  });
}
