/**
 * The relay thread: a FrameRelay with its own event loop, copying each frame straight into a slot
 * of the shared FrameMailbox and publishing it, so consuming (wait → copy → acknowledge) runs at
 * the producer's rate whatever the presenting thread is doing — a slow software render, a resize,
 * a stalled compositor. Everything else the relay says is forwarded as messages.
 *
 * Started by ThreadedRelay (threaded-relay.ts); never imported by anything else.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { FrameRelay } from './frame-relay.js';
import { FrameMailbox } from './frame-mailbox.js';
import type { AcquireResult, FrameBuffers } from './frame-pool.js';
import type { FromRelay, RelayWorkerData, ToRelay } from './relay-protocol.js';

const port = parentPort!;
const data = workerData as RelayWorkerData;
const mailbox = new FrameMailbox(data.mailbox);
const send = (m: FromRelay) => port.postMessage(m);

/** FrameBuffers over the mailbox: a frame copied into a slot is published, not released. */
class MailboxBuffers implements FrameBuffers {
  /** Each slot is its own SharedArrayBuffer: any view of it (the relay lends a subarray) names the slot. */
  private readonly slotOf = new WeakMap<ArrayBufferLike, number>();
  private aborted = false;

  async acquire(bytes: number, timeoutMs: number): Promise<AcquireResult> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      if (this.aborted) return 'closed';
      const got = mailbox.acquire(bytes, (slot, buffer, generation) => send({ t: 'slot', slot, buffer, generation }));
      if (got) {
        this.slotOf.set(got.data.buffer, got.slot);
        return got.data;
      }
      // Only when the presenting thread holds every other slot (it holds one at a time normally).
      if (performance.now() > deadline) return 'timeout';
      await new Promise((r) => setTimeout(r, 2));
    }
  }

  release(buf: Buffer): void {
    const slot = this.slotOf.get(buf.buffer);
    if (slot !== undefined) mailbox.abandon(slot);
  }

  slot(buf: Buffer): number | undefined {
    return this.slotOf.get(buf.buffer);
  }

  abort(): void {
    this.aborted = true;
  }
}

const buffers = new MailboxBuffers();
// This thread exists to consume: it waits for the producer and copies on itself, not through the
// event loop and the shared libuv pool.
const relay = new FrameRelay({ ...data.options, buffers, copyOnThisThread: true, waitOnThisThread: true });
let lastSkipped = 0;
let lastSession = -1;
const counters = () => send({ t: 'counters', counters: { ...relay.counters }, state: relay.state });

relay.on('frame', (f) => {
  const slot = buffers.slot(f.data);
  // Frames the relay skipped, or a new session, break the chain of damage rectangles.
  const discontinuous = relay.counters.framesSkipped !== lastSkipped || relay.counters.sessions !== lastSession;
  lastSkipped = relay.counters.framesSkipped;
  lastSession = relay.counters.sessions;
  if (slot === undefined) {
    f.release();
    return;
  }
  mailbox.publish(slot, f.info, f.copiedAtNs, discontinuous);
  send({ t: 'ready' });
});
relay.on('session', (ev) => {
  send({ t: 'session', ev });
  counters();
});
relay.on('format', (info) => send({ t: 'format', info }));
relay.on('cursor', (c) => send({ t: 'cursor', visible: c.visible, position: c.position, shape: c.shape ? { ...c.shape, pixels: new Uint8Array(c.shape.pixels) } : undefined }));
relay.on('status', (ev) => {
  send({ t: 'status', ev });
  counters();
});
relay.on('problem', (ev) => {
  send({ t: 'problem', ev });
  counters();
});
const ticker = setInterval(counters, 500);

port.on('message', (m: ToRelay) => {
  if (m.t === 'cursor-position') relay.setCursorPosition(m.x, m.y);
  else if (m.t === 'close') {
    buffers.abort();
    void relay.close();
  }
});

await relay.start();
clearInterval(ticker);
counters();
send({ t: 'closed' });
port.close();
