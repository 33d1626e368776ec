/**
 * Looking Glass B7's frame thread in the viewer window, for the side-by-side window figures: a
 * thread of its own running the 1 ms sleep-polling consumer (poll-consumer.ts), copying each frame
 * straight into a slot of the window's FrameMailbox and publishing it — the relay thread's job
 * with B7's way of waiting, so the two windows differ only in how the consumer learns of a frame.
 * Started by poll-source.ts; says 'ready' (and 'slot' for a grown slot buffer) as the relay
 * thread does; stops on 'close'.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { FrameMailbox } from '../src/relay/frame-mailbox.js';
import { PollConsumer } from './poll-consumer.js';

const port = parentPort!;
const { path, memory } = workerData as { path: string; memory: ConstructorParameters<typeof FrameMailbox>[0] };
const mailbox = new FrameMailbox(memory);
let slot = -1;
const poll = new PollConsumer({
  path,
  intervalMs: 1,
  buffer: (bytes) => {
    const got = mailbox.acquire(bytes, (s, buffer, generation) => port.postMessage({ t: 'slot', slot: s, buffer, generation }));
    slot = got?.slot ?? -1;
    return got?.data ?? null;
  },
});
poll.on('frame', (f) => {
  mailbox.publish(slot, f.info, f.copiedAtNs, false, { seenAtNs: f.seenNs });
  port.postMessage({ t: 'ready' });
});
poll.on('session', () => port.postMessage({ t: 'session' }));
poll.on('problem', (m) => port.postMessage({ t: 'problem', message: m }));
port.on('message', (m: { t: string }) => {
  if (m.t === 'close') void poll.close().then(() => port.close());
});
await poll.start();
