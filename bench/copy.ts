/**
 * Frame copy out of the region against the memcpy limit (a first cut of the benchmark suite).
 * For each frame size: the median time of libc memcpy of one BGRA frame between two private
 * buffers (the baseline, measured in the same run), and of the consumer's wp-following copy out
 * of a /dev/shm region with each copy strategy. Efficiency = memcpy time / copy time.
 *   npm run bench            node dist/bench/copy.js [--json] [--rounds N]
 */
import { rmSync } from 'node:fs';
import { native } from '../src/native.js';

const MODES = [
  { mode: '1920x1080', w: 1920, h: 1080 },
  { mode: '2560x1440', w: 2560, h: 1440 },
  { mode: '3840x2160', w: 3840, h: 2160 },
];

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function time(rounds: number, fn: () => void): number {
  for (let i = 0; i < 3; i++) fn(); // warm up: page faults, caches
  const samples: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const t = process.hrtime.bigint();
    fn();
    samples.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  return median(samples);
}

const args = process.argv.slice(2);
const json = args.includes('--json');
const rounds = Number(args[args.indexOf('--rounds') + 1]) || 30;
const strategies = ['memcpy', 'auto', ...(native.cpuHasAvx2 ? ['avx2-stream' as const] : [])] as const;
const results: Array<{ mode: string; strategy: string; memcpyMs: number; copyMs: number; efficiency: number }> = [];

for (const m of MODES) {
  const bytes = m.w * m.h * 4;
  const path = `/dev/shm/glasspane-bench-${process.pid}`;
  const region = new native.Region(path, { create: true, size: bytes + 8192 });
  try {
    new Uint8Array(region.buffer).fill(0x5a);
    region.store32(4092, bytes); // the whole frame is written
    const src = Buffer.alloc(bytes, 0x5a);
    const dst = Buffer.alloc(bytes);
    const memcpyMs = time(rounds, () => native.memcpyBaseline(dst, src));
    for (const s of strategies) {
      native.setCopyStrategy(s);
      const copyMs = time(rounds, () => region.copyOut(4096, bytes, dst, 0, 4092, 100));
      results.push({ mode: m.mode, strategy: s, memcpyMs: round(memcpyMs), copyMs: round(copyMs), efficiency: round(memcpyMs / copyMs) });
    }
    native.setCopyStrategy('auto');
  } finally {
    region.close();
    rmSync(path, { force: true });
  }
}

function round(v: number): number {
  return Math.round(v * 1000) / 1000;
}

if (json) {
  process.stdout.write(`${JSON.stringify({ copy: results, machine: { avx2: native.cpuHasAvx2 } })}\n`);
} else {
  console.log('mode        strategy      memcpy ms  copy ms  efficiency (memcpy/copy)');
  for (const r of results) console.log(`${r.mode.padEnd(11)} ${r.strategy.padEnd(13)} ${String(r.memcpyMs).padStart(9)} ${String(r.copyMs).padStart(8)} ${String(r.efficiency).padStart(6)}`);
}
