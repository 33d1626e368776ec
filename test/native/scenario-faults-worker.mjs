// A reader of scenario-faults.mjs: its own mapping of the file, read every way until the file has
// been truncated and a few passes after; reports whether its mapping is flagged broken.
import { parentPort, workerData } from 'node:worker_threads';
const { native } = await import('../../dist/src/native.js');

const { path, go } = workerData;
const region = new native.Region(path);
const bytes = new Uint8Array(region.buffer);
const dst = Buffer.alloc(1 << 16);
Atomics.add(go, 1, 1);
let sum = 0;
for (let after = 0; after < 3; ) {
  if (Atomics.load(go, 0)) after++;
  for (let i = 0; i < bytes.length; i += 65536) sum += bytes[i] + region.load32(i);
  region.copyOut(1 << 20, 1 << 16, dst, 0, -1, 0);
  await region.copyOutAsync(2 << 20, 1 << 16, dst, 0, -1, 0);
}
parentPort.postMessage({ broken: region.broken, sum });
region.close();
