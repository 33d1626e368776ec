// The fault guard under threads (run by native-stress.test.ts and `npm run test:native-sanitize`):
// worker threads, each with its own mapping of one file, read it every way there is (typed array,
// atomics, copyOut, copyOutAsync on the libuv pool) while this thread truncates the file. Nobody
// dies, every mapping is flagged broken, and each mapping's fault is counted once, however many
// threads hit it.
import { Worker } from 'node:worker_threads';
import { rmSync, truncateSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
const { native } = await import('../../dist/src/native.js');

const fail = (m) => {
  console.error(`FAIL ${m}`);
  process.exit(1);
};
const WORKERS = 3;
for (let round = 0; round < 3; round++) {
  const path = `/dev/shm/glasspane-scenario-faults-${process.pid}-${round}`;
  const mine = new native.Region(path, { create: true, size: 4 << 20 });
  new Uint8Array(mine.buffer).fill(7);
  const go = new Int32Array(new SharedArrayBuffer(8));
  const workers = Array.from({ length: WORKERS }, () => new Worker(fileURLToPath(new URL('./scenario-faults-worker.mjs', import.meta.url)), { workerData: { path, go } }));
  const reports = workers.map((w) => new Promise((resolve, reject) => {
    w.on('message', resolve);
    w.on('error', reject);
  }));
  while (Atomics.load(go, 1) < WORKERS) await new Promise((r) => setTimeout(r, 1));
  const before = native.guardFaultCount();
  // This thread's own mapping is read by this thread and the libuv pool at once.
  const pool = Array.from({ length: 4 }, () => mine.copyOutAsync(0, 1 << 20, Buffer.alloc(1 << 20), 0, -1, 0));
  truncateSync(path, 0);
  Atomics.store(go, 0, 1);
  let sum = 0;
  const bytes = new Uint8Array(mine.buffer);
  for (let i = 0; i < bytes.length; i += 4096) sum += bytes[i];
  await Promise.all(pool);
  const got = await Promise.all(reports);
  for (const g of got) if (!g.broken) fail(`round ${round}: a worker's mapping is not flagged broken`);
  if (!mine.broken) fail(`round ${round}: this thread's mapping is not flagged broken`);
  const faults = native.guardFaultCount() - before;
  if (faults !== WORKERS + 1) fail(`round ${round}: ${faults} faults counted for ${WORKERS + 1} mappings`);
  mine.close();
  rmSync(path, { force: true });
  void sum;
}
console.log('ok faults');
