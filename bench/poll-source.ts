/**
 * The viewer's FrameSource with Looking Glass B7's consumer behind it (poll-worker.ts: a thread
 * polling every 1 ms), for the window figures beside glasspane's relay thread: the same mailbox,
 * presenter and window; only the waiting differs. Benchmark only: no recovery (a producer that
 * goes away ends the figures, not the window).
 */
import { EventEmitter } from 'node:events';
import { Worker } from 'node:worker_threads';
import { join } from 'node:path';
import { FrameMailbox, type TakenFrame } from '../src/relay/frame-mailbox.js';
import type { FrameSource, FrameSourceEvents } from '../src/relay/frame-source.js';
import type { RelayCounters, RelayState } from '../src/relay/relay-types.js';
import { BENCH_DIR } from './lib.js';

type FromPoll = { t: 'ready' } | { t: 'session' } | { t: 'problem'; message: string } | { t: 'slot'; slot: number; buffer: SharedArrayBuffer; generation: number };

/** B7's polling consumer on its own thread, as a FrameSource (see the module comment). */
export class PollSource extends EventEmitter<FrameSourceEvents> implements FrameSource {
  state: RelayState = 'waiting';
  counters: RelayCounters = { framesSkipped: 0, sessions: 0, reopens: 0, lastProblemCode: null };
  readonly session = null;
  private readonly mailbox = FrameMailbox.create(0);
  private worker: Worker | null = null;
  private exited: Promise<void> | null = null;

  constructor(private readonly path: string) {
    super();
  }

  get skipped(): number {
    return this.mailbox.skipped;
  }

  start(): Promise<void> {
    const worker = (this.worker = new Worker(join(BENCH_DIR, 'poll-worker.js'), { workerData: { path: this.path, memory: this.mailbox.memory } }));
    worker.on('message', (m: FromPoll) => {
      if (m.t === 'ready') this.emit('ready');
      else if (m.t === 'slot') this.mailbox.adoptSlot(m.slot, m.buffer, m.generation);
      else if (m.t === 'session') {
        this.state = 'connected';
        this.counters.sessions++;
        this.emit('status', { state: 'connected', message: 'connected (1 ms poll)' });
      } else this.emit('problem', { code: 'ERR_INTERNAL', message: m.message });
    });
    this.exited = new Promise((resolve) => worker.once('exit', () => resolve()));
    return this.exited;
  }

  async close(): Promise<void> {
    this.worker?.postMessage({ t: 'close' });
    const t = setTimeout(() => void this.worker?.terminate(), 2000);
    await this.exited;
    clearTimeout(t);
    this.mailbox.release();
  }

  takeLatest(): TakenFrame | null {
    return this.mailbox.take();
  }

  setCursorPosition(): boolean {
    return false;
  }
}
