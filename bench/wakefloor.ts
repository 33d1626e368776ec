/**
 * Wake-floor trial: the machine's own limit for a notification — two processes, one storing a word
 * and futex-waking the other at the notification trial's rate (bench/fixtures/wake-floor.c, no
 * glasspane in it). The runner reports glasspane's notification latency ÷ this, at p50 and p99.
 *   node dist/bench/wakefloor.js [--fps 144] [--seconds S]
 */
import { spawnSync } from 'node:child_process';
import { cTool } from './c-tools.js';
import { emitResult, numArg, parseArgs } from './lib.js';

export type WakeFloorResult = { available: false; reason: string } | { available: true; fps: number; count: number; wakeUs: { p50: number; p90: number; p99: number; max: number } };

const args = parseArgs(process.argv.slice(2));
const fps = numArg(args, 'fps', 144);
const seconds = numArg(args, 'seconds', 3);
const tool = cTool('wake-floor');
if (typeof tool !== 'string') {
  emitResult({ available: false, reason: tool.reason } satisfies WakeFloorResult);
} else {
  const count = Math.max(10, Math.round(fps * seconds));
  const r = spawnSync(tool, [String(Math.round(1e6 / fps)), String(count)], { encoding: 'utf8', timeout: (seconds + 30) * 1000 });
  const [p50, p90, p99, max] = (r.stdout ?? '').trim().split(/\s+/).map(Number);
  if (r.status !== 0 || ![p50, p90, p99, max].every(Number.isFinite)) emitResult({ available: false, reason: `wake-floor failed: ${r.stderr || r.status}` } satisfies WakeFloorResult);
  else emitResult({ available: true, fps, count, wakeUs: { p50: p50!, p90: p90!, p99: p99!, max: max! } } satisfies WakeFloorResult);
}
