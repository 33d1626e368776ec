// Watchers under threads (run by native-stress.test.ts and `npm run test:native-sanitize`; needs
// --expose-gc): a cancel before the arm is never lost; a Watcher collected with a wait armed (its
// thread queues the result while the object goes away) touches no freed memory; several worker
// threads block in waitSync on one region while this thread bumps the words and rings their bells;
// each checks every answer; then they are told to stop with a ring and must exit at once.
import { Worker } from 'node:worker_threads';
import { rmSync } from 'node:fs';
import { setImmediate as turn } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
const { native, WATCH_CANCELLED, WATCH_BELL, WATCH_TIMEOUT, BELL_WORDS, BELL_MAIL } = await import('../../dist/src/native.js');

const path = `/dev/shm/glasspane-scenario-watchers-${process.pid}`;
const fail = (m) => {
  console.error(`FAIL ${m}`);
  process.exit(1);
};
const region = new native.Region(path, { create: true, size: 65536 });

// A cancel that comes before the wait is armed ends that wait (it used to be lost: the wait ran
// to its timeout).
{
  const w = new native.Watcher(region);
  w.cancel();
  const i = await new Promise((resolve) => w.wait([0, region.load32(0)], 3000, resolve));
  if (i !== WATCH_CANCELLED) fail(`async wait after cancel(): ${i}`);
  w.cancel();
  const [j] = w.waitSync([0, region.load32(0)], 3000);
  if (j !== WATCH_CANCELLED) fail(`waitSync after cancel(): ${j}`);
  w.close();
}

// Watchers collected with a wait armed: their threads answer while the objects are finalized.
for (let round = 0; round < 40; round++) {
  let w = new native.Watcher(region);
  w.wait([0, region.load32(0)], round % 2 ? 60000 : 0, () => undefined);
  w = null;
  globalThis.gc();
  await turn();
}
for (let i = 0; i < 5; i++) await turn();

// Worker threads blocked in waitSync, bells rung from here.
const WORKERS = 3;
const WAITS = 300;
const bells = Array.from({ length: WORKERS }, () => new Int32Array(new SharedArrayBuffer(BELL_WORDS * 4)));
const stop = new Int32Array(new SharedArrayBuffer(4));
const workers = bells.map((bell, k) => new Worker(fileURLToPath(new URL('./scenario-watchers-worker.mjs', import.meta.url)), { workerData: { path, bell, stop, k, waits: WAITS } }));
const done = workers.map((w) => new Promise((resolve, reject) => {
  w.on('message', resolve);
  w.on('error', reject);
}));
let running = true;
const bump = (async () => {
  let n = 0;
  while (running) {
    region.add32(4 * (n % 8), 1);
    if (n % 3 === 0) native.ringBell(bells[n % WORKERS]);
    if (n % 7 === 0) native.hintBell(bells[n % WORKERS]);
    n++;
    await new Promise((r) => setTimeout(r, n % 5));
  }
})();
const results = await Promise.all(done);
running = false;
await bump;
for (const r of results) if (r.error) fail(r.error);
const total = results.reduce((a, r) => ({ changed: a.changed + r.changed, bell: a.bell + r.bell, timeout: a.timeout + r.timeout }), { changed: 0, bell: 0, timeout: 0 });
if (!total.changed || !total.bell) fail(`no variety: ${JSON.stringify(total)}`);

// Told to stop while blocked: a ring wakes them at once.
const quit = bells.map((bell, k) => new Worker(fileURLToPath(new URL('./scenario-watchers-worker.mjs', import.meta.url)), { workerData: { path, bell, stop, k, waits: 1e9 } }));
await new Promise((r) => setTimeout(r, 200));
Atomics.store(stop, 0, 1);
const t0 = performance.now();
for (const bell of bells) native.ringBell(bell);
await Promise.all(quit.map((w) => new Promise((resolve) => w.on('exit', resolve))));
if (performance.now() - t0 > 5000) fail(`workers took ${performance.now() - t0} ms to stop after a ring`);
region.close();
rmSync(path, { force: true });
void WATCH_BELL, WATCH_TIMEOUT, BELL_MAIL;
console.log(`ok watchers ${JSON.stringify(total)}`);
