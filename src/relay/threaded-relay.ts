/**
 * ThreadedRelay: the frame relay on its own thread (relay-worker.ts), seen from the thread that
 * presents. Consumption never waits for presentation: the worker copies and acknowledges every
 * frame at the producer's rate and publishes it to a latest-wins FrameMailbox; this side is told
 * a frame is 'ready' and takes the newest one when it is about to draw (`takeLatest()`). Frames
 * published and superseded before they were taken are counted (`skipped`), never held.
 *
 * Events mirror FrameRelay's ('session', 'format', 'cursor', 'status', 'problem'), plus 'ready'.
 * If the relay thread dies (a bug — guest data is validated there), the death is reported as a
 * problem and a new thread is started: the viewer never needs restarting.
 */
import { EventEmitter } from 'node:events';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { KvmfrInfo } from '../kvmfr/header.js';
import { FrameMailbox, type TakenFrame } from './frame-mailbox.js';
import type { RelayCounters, RelayOptions, RelayState } from './frame-relay.js';
import type { FromRelay, RelayWorkerData, ToRelay } from './relay-protocol.js';
import type { FrameSource, FrameSourceEvents } from './frame-source.js';
import { KVMFR } from '../kvmfr/layout.js';

/** The compiled worker next to this module, or (running from TypeScript sources in tests) the one under dist/. */
function workerPath(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const beside = join(here, 'relay-worker.js');
  if (existsSync(beside)) return beside;
  let dir = here;
  for (let i = 0; i < 5; i++) {
    const built = join(dir, 'dist', 'src', 'relay', 'relay-worker.js');
    if (existsSync(built)) return built;
    dir = dirname(dir);
  }
  throw new Error(`the relay worker ${beside} is missing: run \`npm run build\``);
}

/**
 * The relay on its own worker thread (see the module comment). Construct with the RelayOptions the
 * thread's FrameRelay gets (it copies and waits on its own thread); nothing starts until start().
 * Used from one thread, the presenting one. Its events are FrameSource's. Never throws for guest
 * data; start() rejects with Error only when the compiled worker (dist/src/relay/relay-worker.js)
 * is missing (run `npm run build`).
 */
export class ThreadedRelay extends EventEmitter<FrameSourceEvents> implements FrameSource {
  private worker: Worker | null = null;
  private mailbox: FrameMailbox | null = null;
  private closing = false;
  private loop: Promise<void> | null = null;
  private done!: () => void;
  private kvmfr: KvmfrInfo | null = null;
  state: RelayState = 'waiting';
  counters: RelayCounters = { framesSkipped: 0, sessions: 0, reopens: 0, lastProblemCode: null };
  /** Relay threads that died and were replaced. */
  restarts = 0;

  constructor(readonly options: Omit<RelayOptions, 'buffers'>) {
    super();
  }

  /** The producer's KVMFR info from the last 'session' event, or null before one. */
  get session(): KvmfrInfo | null {
    return this.kvmfr;
  }

  /** Frames the relay thread published that were superseded before this side took them. */
  get skipped(): number {
    return this.mailbox?.skipped ?? 0;
  }

  /** Starts the relay thread; resolves once close() has stopped it. */
  start(): Promise<void> {
    this.loop ??= new Promise<void>((resolve) => {
      this.done = resolve;
      this.spawn();
    });
    return this.loop;
  }

  private spawn(): void {
    const mailbox = (this.mailbox = FrameMailbox.create());
    const data: RelayWorkerData = { options: this.options, mailbox: mailbox.memory };
    const worker = (this.worker = new Worker(workerPath(), { workerData: data }));
    worker.on('message', (m: FromRelay) => this.onMessage(m));
    worker.on('error', (err) => {
      if (this.closing) return;
      this.emit('problem', { code: 'ERR_RELAY_THREAD', message: `the relay thread failed: ${err.message}; starting it again`, fix: 'report this with NODE_DEBUG=glasspane:relay output' });
    });
    worker.on('exit', (code) => {
      if (this.worker !== worker) return;
      this.worker = null;
      if (this.closing) {
        this.mailbox?.release();
        this.done();
        return;
      }
      this.restarts++;
      this.emit('problem', { code: 'ERR_RELAY_THREAD', message: `the relay thread stopped (exit ${code}); starting it again` });
      setTimeout(() => this.spawn(), 250);
    });
  }

  private onMessage(m: FromRelay): void {
    switch (m.t) {
      case 'ready':
        this.emit('ready');
        break;
      case 'slot':
        this.mailbox?.adoptSlot(m.slot, m.buffer, m.generation);
        break;
      case 'session':
        this.kvmfr = m.ev.info;
        this.emit('session', m.ev);
        break;
      case 'format':
        this.emit('format', m.info);
        break;
      case 'cursor': {
        const shape = m.shape ? { ...m.shape, pixels: Buffer.from(m.shape.pixels.buffer, m.shape.pixels.byteOffset, m.shape.pixels.byteLength) } : undefined;
        this.emit('cursor', { visible: m.visible, position: m.position, shape });
        break;
      }
      case 'status':
        this.state = m.ev.state;
        this.emit('status', m.ev);
        break;
      case 'problem':
        this.emit('problem', m.ev);
        break;
      case 'counters':
        this.counters = m.counters;
        this.state = m.state;
        break;
      case 'closed':
        break;
    }
  }

  /** The newest frame the relay thread published, or null; the one taken before is given back. Valid until the next take or close. */
  takeLatest(): TakenFrame | null {
    return this.mailbox?.take() ?? null;
  }

  /** Asks the producer to move the guest cursor; false when it does not support that. */
  setCursorPosition(x: number, y: number): boolean {
    if (!this.worker || !this.kvmfr || !(this.kvmfr.features & KVMFR.FEATURE_SETCURSORPOS)) return false;
    this.worker.postMessage({ t: 'cursor-position', x, y } satisfies ToRelay);
    return true;
  }

  /**
   * Asks the thread to close (terminating it after 2 s if it does not) and resolves when it has
   * exited; the frame held from takeLatest() is given back then. Safe to call twice.
   */
  async close(): Promise<void> {
    if (this.closing) return this.loop ?? undefined;
    this.closing = true;
    if (!this.worker) {
      this.done?.();
      return this.loop ?? undefined;
    }
    const worker = this.worker;
    worker.postMessage({ t: 'close' } satisfies ToRelay);
    // A relay thread that does not finish within 2 s (it should take milliseconds) is stopped.
    const timer = setTimeout(() => void worker.terminate(), 2000);
    await this.loop;
    clearTimeout(timer);
  }
}
