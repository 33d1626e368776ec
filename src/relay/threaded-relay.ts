/**
 * ThreadedRelay: the one consumer core (FrameRelay) on a thread of its own (relay-worker.ts), seen
 * from the thread that uses the frames — the window, `view --headless`, the bench. Consumption
 * never waits for that thread: the relay thread sleeps in the kernel until the producer posts,
 * copies and acknowledges every frame at the producer's rate, and publishes it to a FrameMailbox;
 * this side is told a frame is 'ready' and takes it:
 *  - order `latest` (the window): takeLatest() gives the newest when it is about to draw; frames
 *    published and superseded before they were taken are counted (`skipped`), never held;
 *  - order `queue` (headless, the bench): takeNext() gives every frame in order; each is held
 *    until its release(), and the relay thread waits (then skips) while all slots are held.
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
import { BELL_WORDS, native } from '../native.js';
import { GlasspaneError } from '../errors.js';
import { FrameMailbox, type MailboxOrder, type TakenFrame } from './frame-mailbox.js';
import type { RelayCounters, RelayOptions, RelayState } from './frame-relay.js';
import type { FromRelay, RelayWorkerData, ToRelay } from './relay-protocol.js';
import type { FrameSource, FrameSourceEvents } from './frame-source.js';
import { KVMFR } from '../kvmfr/layout.js';

/** After the relay thread died: how long before a new one starts (a thread that dies at once must not spin). */
const RESPAWN_MS = 250;

/** The compiled worker next to this module, or (running from TypeScript sources in tests) the one under dist/; null when there is none. */
function workerPath(): string | null {
  const here = dirname(fileURLToPath(import.meta.url));
  const beside = join(here, 'relay-worker.js');
  if (existsSync(beside)) return beside;
  let dir = here;
  for (let i = 0; i < 5; i++) {
    const built = join(dir, 'dist', 'src', 'relay', 'relay-worker.js');
    if (existsSync(built)) return built;
    dir = dirname(dir);
  }
  return null;
}

/** RelayOptions for the relay thread (it always waits and copies on itself) and which frames this side takes. */
export type ThreadedRelayOptions = Omit<RelayOptions, 'bell' | 'waitOnThisThread' | 'copyOnThisThread'> & {
  /** `latest` (default): takeLatest(), the newest frame wins. `queue`: takeNext(), every frame in order. */
  order?: MailboxOrder;
};

/** A frame from takeNext(): held until release() (safe to call twice). */
export type QueuedFrame = TakenFrame & { release(): void };

/**
 * The relay on its own worker thread (see the module comment). Construct with the options the
 * thread's FrameRelay gets; nothing starts until start(). Used from one thread. Its events are
 * FrameSource's. Never throws for guest data; start() rejects with GlasspaneError
 * ERR_RELAY_THREAD only when the compiled worker (dist/src/relay/relay-worker.js) is missing.
 */
export class ThreadedRelay extends EventEmitter<FrameSourceEvents> implements FrameSource {
  private worker: Worker | null = null;
  private mailbox: FrameMailbox | null = null;
  private bell: Int32Array | null = null;
  private respawnTimer: NodeJS.Timeout | null = null;
  private closing = false;
  private loop: Promise<void> | null = null;
  private done!: () => void;
  private kvmfr: KvmfrInfo | null = null;
  state: RelayState = 'waiting';
  counters: RelayCounters = { framesSkipped: 0, sessions: 0, reopens: 0, lastProblemCode: null };
  /** Relay threads that died and were replaced. */
  restarts = 0;

  constructor(readonly options: ThreadedRelayOptions) {
    super();
  }

  /** The producer's KVMFR info from the last 'session' event, or null before one. */
  get session(): KvmfrInfo | null {
    return this.kvmfr;
  }

  /** Frames the relay thread published that were superseded before this side took them (latest order). */
  get skipped(): number {
    return this.mailbox?.skipped ?? 0;
  }

  /** Frames the relay thread published so far (this thread's mailbox). */
  get published(): number {
    return this.mailbox?.published ?? 0;
  }

  /** Starts the relay thread; resolves once close() has stopped it. Rejects (ERR_RELAY_THREAD) when the worker module is missing. */
  start(): Promise<void> {
    this.loop ??= new Promise<void>((resolve, reject) => {
      this.done = resolve;
      const path = workerPath();
      if (!path) {
        this.closing = true;
        reject(new GlasspaneError('ERR_RELAY_THREAD', `the relay worker ${join(dirname(fileURLToPath(import.meta.url)), 'relay-worker.js')} is missing`, 'run `npm run build` in the glasspane folder'));
        return;
      }
      this.spawn(path);
    });
    return this.loop;
  }

  private spawn(path: string): void {
    this.respawnTimer = null;
    if (this.closing) return; // closed while a respawn was pending: nothing to start
    const { order, ...options } = this.options;
    const mailbox = (this.mailbox = FrameMailbox.create(0, { order }));
    const bell = (this.bell = new Int32Array(new SharedArrayBuffer(BELL_WORDS * 4)));
    const data: RelayWorkerData = { options, mailbox: mailbox.memory, bell };
    const worker = (this.worker = new Worker(path, { workerData: data }));
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
      this.respawnTimer = setTimeout(() => this.spawn(path), RESPAWN_MS);
    });
  }

  private post(m: ToRelay): void {
    this.worker?.postMessage(m);
    if (this.bell) native.ringBell(this.bell); // the relay thread may be asleep in the kernel
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

  /** Latest order: the newest frame the relay thread published, or null; the one taken before is given back. Valid until the next take or close. */
  takeLatest(): TakenFrame | null {
    return this.mailbox?.take() ?? null;
  }

  /**
   * Queue order: the oldest frame not taken yet, or null. It stays this side's until its
   * release(); while every slot is held the relay thread waits `bufferWaitMs`, then skips frames.
   */
  takeNext(): QueuedFrame | null {
    const mailbox = this.mailbox;
    const f = mailbox?.takeNext();
    if (!mailbox || !f) return null;
    return { ...f, release: () => mailbox.giveBack(f.slot, f.lease) };
  }

  /** A change is likely soon (the user just sent input to the guest): the relay thread stops backing off. */
  hint(): void {
    if (this.bell) native.hintBell(this.bell);
  }

  /** Asks the producer to move the guest cursor; false when it does not support that. */
  setCursorPosition(x: number, y: number): boolean {
    if (!this.worker || !this.kvmfr || !(this.kvmfr.features & KVMFR.FEATURE_SETCURSORPOS)) return false;
    this.post({ t: 'cursor-position', x, y });
    return true;
  }

  /**
   * Asks the thread to close (terminating it after 2 s if it does not) and resolves when it has
   * exited; the frame held from takeLatest() is given back then. A respawn still pending is
   * dropped. Safe to call twice.
   */
  async close(): Promise<void> {
    if (this.closing) return this.loop?.catch(() => undefined);
    this.closing = true;
    if (this.respawnTimer) clearTimeout(this.respawnTimer);
    this.respawnTimer = null;
    if (!this.worker) {
      this.done?.();
      return this.loop ?? undefined;
    }
    const worker = this.worker;
    this.mailbox?.close(); // a relay thread waiting for a free slot stops waiting
    this.post({ t: 'close' });
    // A relay thread that does not finish within 2 s (it should take milliseconds) is stopped.
    const timer = setTimeout(() => void worker.terminate(), 2000);
    await this.loop;
    clearTimeout(timer);
  }
}
