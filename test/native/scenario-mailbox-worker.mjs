// The writer of scenario-mailbox.mjs: publishes `frames` frames as fast as the mailbox lets it,
// sizes growing now and then (a grown slot goes to the reader as a message); in queue order it
// waits (blocking) for a slot the reader gives back.
import { parentPort, workerData } from 'node:worker_threads';
const { FrameMailbox } = await import('../../dist/src/relay/frame-mailbox.js');
const { formatOf } = await import('../../dist/src/kvmfr/formats.js');

const mailbox = new FrameMailbox(workerData.memory);
for (let s = 1; s <= workerData.frames; s++) {
  const bytes = 64 + (Math.floor(s / 500) % 4) * 4096;
  let got = null;
  while (!(got = mailbox.acquire(bytes, (slot, buffer, generation) => parentPort.postMessage({ slot, buffer, generation })))) {
    mailbox.waitFreed(mailbox.freedCount(), 50);
  }
  got.data.fill(s & 0xff);
  const info = {
    formatVer: 1, frameSerial: s, type: 1, format: formatOf(1), screenWidth: 4, screenHeight: 2, dataWidth: 4, dataHeight: 2,
    frameWidth: 4, frameHeight: 2, rotation: 0, stride: 4, pitch: 16, flags: 0, damageRects: [],
    frameOffset: 0, wpOffset: 0, dataOffset: 0, dataBytes: bytes, geometry: { width: 4, height: 2, bytesPerPixel: 4, stride: 16, bytes },
  };
  mailbox.publish(got.slot, info, BigInt(s));
}
