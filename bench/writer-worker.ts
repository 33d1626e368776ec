/**
 * Worker thread of the copy trial's pipeline floor: the producer's half. Maps the same region,
 * and on each signal writes one frame with the write pointer advancing every `step` bytes (as
 * the stub does), recording when the write started and ended. Control block (Int32 words):
 * [0] 0 idle / 1 go / 2 quit, [1] 1 when a write is done; BigInt64 at byte 8: start, end (ns).
 */
import { workerData } from 'node:worker_threads';
import { native } from '../src/native.js';

const { path, size, dataOffset, wpOffset, bytes, step, control } = workerData as {
  path: string;
  size: number;
  dataOffset: number;
  wpOffset: number;
  bytes: number;
  step: number;
  control: SharedArrayBuffer;
};
const region = new native.Region(path, { size });
const src = Buffer.alloc(bytes, 0x5a);
const ctl = new Int32Array(control, 0, 2);
const times = new BigInt64Array(control, 8, 2);
for (;;) {
  Atomics.wait(ctl, 0, 0);
  if (Atomics.load(ctl, 0) === 2) break;
  Atomics.store(ctl, 0, 0);
  const start = process.hrtime.bigint();
  region.writeIn(src, 0, dataOffset, bytes, wpOffset, step);
  times[0] = start;
  times[1] = process.hrtime.bigint();
  Atomics.store(ctl, 1, 1);
  Atomics.notify(ctl, 1);
}
region.close();
