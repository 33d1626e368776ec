// One waiter of scenario-watchers.mjs: waitSync on two words of the shared region with a bell,
// checking each answer; exits when the `stop` word is set (it is told with a ring).
import { parentPort, workerData } from 'node:worker_threads';
const { native, WATCH_BELL, WATCH_TIMEOUT, WATCH_CANCELLED, BELL_MAIL } = await import('../../dist/src/native.js');

const { path, bell, stop, k, waits } = workerData;
const region = new native.Region(path);
const w = new native.Watcher(region, { bell, idleAfterMs: 5, deepIdleAfterMs: 30 });
const counts = { changed: 0, bell: 0, timeout: 0, error: null };
let mail = Atomics.load(bell, BELL_MAIL);
for (let n = 0; n < waits && !Atomics.load(stop, 0); n++) {
  const a = 4 * (k % 8);
  const b = 4 * ((k + 3) % 8);
  const ea = region.load32(a);
  const eb = region.load32(b);
  const [i, v] = w.waitSync([a, ea, b, eb], 1 + (n % 5), mail);
  if (i === 0 || i === 1) {
    if (v === (i === 0 ? ea : eb)) counts.error = `word ${i} reported changed but still ${v}`;
    counts.changed++;
  } else if (i === WATCH_BELL) {
    const now = Atomics.load(bell, BELL_MAIL);
    if (now === mail) counts.error = 'a bell answer without a ring';
    mail = now;
    counts.bell++;
  } else if (i === WATCH_TIMEOUT) counts.timeout++;
  else if (i !== WATCH_CANCELLED) counts.error = `unexpected answer ${i}`;
  if (counts.error) break;
}
w.close();
region.close();
parentPort.postMessage(counts);
