// Copies under threads and processes (run by native-stress.test.ts and `npm run
// test:native-sanitize`; needs --expose-gc): a producer process writes frames with its write
// pointer advancing, worker threads copy each one behind it (copyOut and copyOutAsync) and check
// every byte; then a destination detached (transferred) and collected while an async copy into it
// waits for the producer: the copy must land in memory that is still allocated.
import { Worker } from 'node:worker_threads';
import { fork } from 'node:child_process';
import { rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
const { native } = await import('../../dist/src/native.js');

const FRAME = 1 << 20;
const FRAMES = 40;
const HEADER = 64; // u32 serial at 0, wp at 8, acks at 16
const fail = (m) => {
  console.error(`FAIL ${m}`);
  process.exit(1);
};

if (process.argv[2] === '--producer') {
  // Never outlive the scenario (a crashed parent must not leave this loop spinning).
  process.on('disconnect', () => process.exit(1));
  setTimeout(() => process.exit(1), 120_000).unref();
  const region = new native.Region(process.argv[3]);
  const consumers = Number(process.argv[4]);
  const src = Buffer.alloc(FRAME);
  for (let k = 1; k <= FRAMES; k++) {
    while (region.load32(16) < (k - 1) * consumers) await new Promise((r) => setTimeout(r, 1));
    src.fill(k & 0xff);
    region.store32(8, 0);
    region.store32(0, k);
    region.writeIn(src, 0, HEADER, FRAME, 8, 64 << 10);
  }
  region.close();
  process.exit(0);
}

const path = `/dev/shm/glasspane-scenario-copies-${process.pid}`;
const region = new native.Region(path, { create: true, size: HEADER + FRAME });
const CONSUMERS = 3;
const workers = Array.from({ length: CONSUMERS }, (_, k) => new Worker(fileURLToPath(new URL('./scenario-copies-worker.mjs', import.meta.url)), { workerData: { path, k, frames: FRAMES, frame: FRAME, header: HEADER } }));
const results = workers.map((w) => new Promise((resolve, reject) => {
  w.on('message', resolve);
  w.on('error', reject);
}));
const producer = fork(fileURLToPath(import.meta.url), ['--producer', path, String(CONSUMERS)], { execArgv: [] });
const [status, ...copied] = await Promise.all([new Promise((resolve) => producer.on('exit', resolve)), ...results]);
if (status !== 0) fail(`producer exited ${status}`);
for (const c of copied) if (c.bad) fail(`a worker copied ${c.bad} frames wrong`);

// A destination detached and collected while its copy waits for the producer.
region.store32(8, 0);
let dest = Buffer.alloc(FRAME);
const copy = region.copyOutAsync(HEADER, FRAME, dest, 0, 8, 2000);
let moved = structuredClone(dest.buffer, { transfer: [dest.buffer] });
if (dest.length !== 0) fail('the destination was not detached');
moved = null;
dest = null;
for (let i = 0; i < 5; i++) {
  globalThis.gc();
  Buffer.alloc(FRAME).fill(1); // reuse of what was freed, if it was
  await new Promise((r) => setTimeout(r, 5));
}
region.store32(8, FRAME); // the producer "writes": the copy goes ahead now
const n = await copy;
if (n !== FRAME) fail(`the detached copy returned ${n}`);
region.close();
rmSync(path, { force: true });
console.log('ok copies');
