// One consumer of scenario-copies.mjs: copies each frame behind the producer's write pointer
// (alternately on this thread and on the libuv pool) and checks every byte.
import { parentPort, workerData } from 'node:worker_threads';
const { native } = await import('../../dist/src/native.js');

const { path, k, frames, frame, header } = workerData;
const region = new native.Region(path);
const dst = Buffer.alloc(frame);
let bad = 0;
for (let s = 1; s <= frames; s++) {
  while (region.load32(0) !== s) await new Promise((r) => setImmediate(r));
  const n = (s + k) % 2 ? region.copyOut(header, frame, dst, 0, 8, 5000, 0, s) : await region.copyOutAsync(header, frame, dst, 0, 8, 5000, 0, s);
  if (n !== frame || dst.some((b) => b !== (s & 0xff))) bad++;
  region.add32(16, 1);
}
region.close();
parentPort.postMessage({ bad });
