// The frame mailbox between two threads at full speed (run by native-stress.test.ts and `npm run
// test:native-sanitize`): a worker publishes frames (every byte of frame k is k, its slots grown
// on the way) as fast as it can while this thread takes them. Latest order: every frame taken is
// whole, newer than the last, and published = taken + skipped. Queue order: every frame arrives
// once, in order, whole, with frames held and given back out of order.
import { Worker } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';
const { FrameMailbox } = await import('../../dist/src/relay/frame-mailbox.js');

const FRAMES = 3000;
const fail = (m) => {
  console.error(`FAIL ${m}`);
  process.exit(1);
};

for (const order of ['latest', 'queue']) {
  const mailbox = FrameMailbox.create(16, { order });
  const worker = new Worker(fileURLToPath(new URL('./scenario-mailbox-worker.mjs', import.meta.url)), { workerData: { memory: mailbox.memory, frames: FRAMES } });
  worker.on('message', (m) => mailbox.adoptSlot(m.slot, m.buffer, m.generation));
  const exited = new Promise((resolve, reject) => {
    worker.on('exit', resolve);
    worker.on('error', reject);
  });
  let last = 0;
  let taken = 0;
  const held = [];
  let done = false;
  void exited.then(() => (done = true));
  const check = (f) => {
    const s = f.info.frameSerial;
    if (!(s > last)) fail(`${order}: frame ${s} after ${last}`);
    if (order === 'queue' && s !== last + 1) fail(`queue: frame ${s} after ${last}`);
    if (f.data.length !== f.info.dataBytes || f.data.some((b) => b !== (s & 0xff))) fail(`${order}: frame ${s} is not whole`);
    last = s;
    taken++;
  };
  while (!done || (order === 'queue' && last < FRAMES)) {
    let f = null;
    if (order === 'latest') {
      f = mailbox.take();
      if (f) check(f);
    } else {
      f = mailbox.takeNext();
      if (f) {
        check(f);
        held.push(f);
        // Hold up to two, give back the older or the newer at random.
        if (held.length > 2 || Math.random() < 0.5) {
          const g = held.splice(Math.random() < 0.5 ? 0 : held.length - 1, 1)[0];
          mailbox.giveBack(g.slot, g.lease);
          mailbox.giveBack(g.slot, g.lease); // twice: nothing happens
        }
      }
    }
    if (!f || taken % 64 === 0) await new Promise((r) => setImmediate(r)); // let messages (grown slots) in
  }
  await exited;
  if (order === 'latest') {
    const f = mailbox.take();
    if (f) check(f);
    if (mailbox.published !== FRAMES || taken + mailbox.skipped !== FRAMES) fail(`latest: ${mailbox.published} published, ${taken} taken + ${mailbox.skipped} skipped`);
  } else if (taken !== FRAMES) fail(`queue: ${taken} of ${FRAMES} taken`);
}
console.log('ok mailbox');
