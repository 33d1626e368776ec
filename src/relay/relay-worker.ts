/**
 * The relay thread: the one consumer core (FrameRelay) with a thread of its own, blocked in the
 * kernel until the producer posts (no slices, no spinning here), copying each frame straight into
 * a slot of the shared FrameMailbox and publishing it, so consuming (wait → copy → acknowledge)
 * runs at the producer's rate whatever the host thread is doing — a slow software render, a
 * resize, a stalled compositor, a verifier. Everything else the relay says is forwarded as
 * messages; the host's messages arrive with a ring of the bell.
 *
 * Started by ThreadedRelay (threaded-relay.ts); never imported by anything else.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { FrameRelay } from './frame-relay.js';
import { FrameMailbox } from './frame-mailbox.js';
import { MailboxStore } from './frame-store.js';
import type { FromRelay, RelayWorkerData, ToRelay } from './relay-protocol.js';

const port = parentPort!;
const data = workerData as RelayWorkerData;
const send = (m: FromRelay) => port.postMessage(m);

// Frames go to the host's mailbox; a full mailbox (a queue the host has not drained) is waited
// for with this thread blocked, which is all it is for.
const store = new MailboxStore(new FrameMailbox(data.mailbox), {
  blocking: true,
  grown: (slot, buffer, generation) => send({ t: 'slot', slot, buffer, generation }),
  published: () => send({ t: 'ready' }),
});
const relay = new FrameRelay({ ...data.options, copyOnThisThread: true, waitOnThisThread: true, bell: data.bell }, { store });
/** The counters and state when they last went out: the host hears of them again only when they change. */
let lastCounters = '';
const counters = (always = false) => {
  const now = JSON.stringify([relay.counters, relay.state]);
  if (now === lastCounters && !always) return;
  lastCounters = now;
  send({ t: 'counters', counters: { ...relay.counters }, state: relay.state });
};

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
// framesSkipped moves without an event: look twice a second (a turn of this thread's loop, which a
// blocking relay runs at least every 250 ms anyway).
const ticker = setInterval(counters, 500);

port.on('message', (m: ToRelay) => {
  if (m.t === 'cursor-position') relay.setCursorPosition(m.x, m.y);
  else if (m.t === 'close') void relay.close();
});

await relay.start();
clearInterval(ticker);
counters(true);
send({ t: 'closed' });
port.close();
