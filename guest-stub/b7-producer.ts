/**
 * What every producer in Looking Glass B7's format does besides making frames, shared by the test
 * scenes (StubProducer, producer.ts) and the X11 capture (CaptureProducer, x11-producer.ts): open
 * (or create) the region, lay out a session (b7-session.ts), run the LGMP duty every 10 ms
 * (heartbeat, subscriber timeouts, the consumers' mailbox, the cursor for new subscribers; B7's
 * period, or a longer one), wait for
 * a free frame buffer, and recover from what consumers or the host do to the shared memory — a
 * header overwritten or a lock left taken (new session), the region file truncated or re-created
 * (open it again). The format and these rules: docs/protocol.md.
 */
import { debuglog } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { openRegion, regionFileChanged, type Region } from '../src/region.js';
import { LockTimeoutError } from '../src/lgmp/spinlock.js';
import { HEADER } from '../src/lgmp/layout.js';
import { native, WATCH_CLOSED, type NativeWatcher } from '../src/native.js';
import type { Allocation, LgmpProducer, ProducerQueue } from '../src/lgmp/producer.js';
import { decodeSetCursorPos } from '../src/kvmfr/cursor.js';
import { KVMFR } from '../src/kvmfr/layout.js';
import { CursorRing, startB7Session, type B7Session } from './b7-session.js';
import type { StubLayout, Tamper, TamperPhase } from './tamper.js';

const log = debuglog('glasspane:stub');
const MiB = 1024 * 1024;

/** Where a B7 producer writes, and who hears about what it recovered from. */
export interface B7ProducerOptions {
  /** /dev/shm/NAME (created with `sizeMiB` when missing), /dev/kvmfrN or a PCI BAR resource file. */
  shmPath: string;
  sizeMiB: number;
  /** Bytes to map when the region is a PCI BAR file (its size from the device's resource table). */
  mapBytes?: number;
  /** Told about what the producer recovered from (a region truncated or re-created, a lock left taken). */
  onProblem?: (message: string) => void;
  /** Fuzzing only: called at fixed points of the producer's work to spoil the region (tamper.ts). */
  tamper?: Tamper;
}

/** The counts every B7 producer keeps (its stats object has these and its own). */
export interface B7ProducerStats {
  sessionID: number;
  /** The session's frame buffers hold fewer rows than the frame has. */
  truncated: boolean;
  /** Rows of the frame the frame buffers hold. */
  dataHeight: number;
  /** Pixel bytes one frame buffer holds. */
  maxFrameBytes: number;
  /** Positions requested by consumers through SETCURSORPOS. */
  cursorRequests: number;
  /** New sessions started because the region was corrupted or a lock stayed taken. */
  restarts: number;
  /** Times the region was opened again after it was truncated or re-created under us. */
  reopens: number;
}

/** What a new session is laid out for: the producer's identity and the frame's size and pitch. */
export interface SessionShape {
  producerVersion: string;
  /** The capture backend's name in the VMINFO record. */
  capture: string;
  uuid: string;
  width: number;
  height: number;
  pitch: number;
}

/**
 * The shared part of a B7 producer (see the module comment). The constructor opens the region only;
 * the subclass sets itself up and then calls startSession(). Single-threaded on the event loop: the
 * duty runs on a 10 ms timer (startDuty). Consumers share the region and are untrusted: what they
 * write (subscriber bits, counts, mailbox messages, a lock left taken) is bounded or leads to a new
 * session, reported through `onProblem`, never an exception out of the duty.
 */
export abstract class B7Producer {
  abstract readonly stats: B7ProducerStats;
  /** How the producer's messages name it ("the stub"). */
  protected abstract readonly producerName: string;
  protected region: Region;
  protected dv: DataView;
  protected lgmp!: LgmpProducer;
  protected frameQ!: ProducerQueue;
  protected pointerQ!: ProducerQueue;
  protected frames: Allocation[] = [];
  protected cursorSlots: Allocation[] = [];
  protected shapeSlots: Allocation[] = [];
  /** Which cursor buffer the next pointer message uses. */
  protected readonly cursorRing = new CursorRing();
  protected watcher: NativeWatcher;
  protected running = false;
  /** Rows of the current session's frames: the height, or fewer in a region too small for it. */
  protected rows = 0;
  /** Frames posted in the current session. */
  protected sessionPosted = 0;
  private timer: NodeJS.Timeout | null = null;
  private lastFileCheck = 0;

  /** Opens (or creates) the region: openRegion()'s errors. */
  constructor(private readonly where: B7ProducerOptions) {
    this.region = this.open();
    this.dv = new DataView(this.region.buffer);
    this.watcher = new native.Watcher(this.region, { spinUs: 20, maxSleepUs: 200 });
  }

  private open(): Region {
    return openRegion(this.where.shmPath, { createBytes: Math.round(this.where.sizeMiB * MiB), size: this.where.mapBytes });
  }

  /** What the next session is laid out for (called by every startSession). */
  protected abstract sessionShape(): SessionShape;
  /** Posts the cursor (with its shape when `withShape`): a new pointer subscriber gets both at once, as in B7. */
  protected abstract postCursor(withShape: boolean): void;
  /** A new session is laid out (`reopened`: in a region opened again); the subclass resets what it keeps per session. */
  protected onSession(_reopened: boolean): void {}
  /** A consumer asked for the cursor at (x, y) through SETCURSORPOS (any int32 values: bound them). */
  protected abstract onCursorRequest(pos: { x: number; y: number }): void;
  /** Runs at the end of every duty that found the session healthy. */
  protected onDuty(): void {}

  /** Starts a fresh session now (a new session id, clean queues), as a restarting guest application does. */
  newSession(): void {
    this.startSession();
  }

  /**
   * Frames of the current session a consumer has taken: posted, acknowledged and not released by
   * the subscriber timeout. 0 when the region is gone.
   */
  framesTaken(): number {
    if (this.region.closed) return 0;
    return this.sessionPosted - this.frameQ.pending() - this.frameQ.releasedByTimeout;
  }

  /** Where the current session keeps things (for the tamper hook and tests). */
  regionLayout(): StubLayout {
    const q = (pq: ProducerQueue) => ({ hq: pq.hq, messagesOffset: pq.messagesOffset, numMessages: pq.numMessages });
    return {
      regionBytes: this.region.byteLength,
      frameQueue: q(this.frameQ),
      pointerQueue: q(this.pointerQ),
      frames: this.frames,
      cursorSlots: this.cursorSlots,
      shapeSlots: this.shapeSlots,
      udataOffset: HEADER.udata,
      udataSize: this.region.load32(HEADER.udataSize),
    };
  }

  protected tamper(phase: TamperPhase, slot?: Allocation): void | 'skip' {
    const t = this.where.tamper;
    return t ? t({ phase, region: this.region, layout: this.regionLayout(), slot }) : undefined;
  }

  /** (Re)creates the LGMP session and the B7 memory layout (b7-session.ts). Called again if the header gets overwritten. */
  protected startSession(reopened = false): void {
    this.sessionPosted = 0;
    const shape = this.sessionShape();
    const session: B7Session = startB7Session(this.region, shape);
    ({ lgmp: this.lgmp, frameQ: this.frameQ, pointerQ: this.pointerQ, frames: this.frames, cursorSlots: this.cursorSlots, shapeSlots: this.shapeSlots, rows: this.rows } = session);
    this.stats.sessionID = this.lgmp.sessionID;
    this.stats.maxFrameBytes = session.maxFrameBytes;
    this.stats.truncated = this.rows < shape.height;
    this.stats.dataHeight = this.rows;
    this.onSession(reopened);
    log('session %d: frame buffers of %d bytes, %d rows%s', this.lgmp.sessionID, session.maxFrameBytes, this.rows, this.stats.truncated ? ' (TRUNCATED)' : '');
  }

  /** Starts a new session after something in the shared memory went wrong; reports what. */
  protected restart(why: string): void {
    this.stats.restarts++;
    this.problem(`${why}: starting a new session`);
    this.startSession();
  }

  protected problem(message: string): void {
    log('%s', message);
    this.where.onProblem?.(message);
  }

  /**
   * The region file shrank under us (the addon survived the SIGBUS and the mapping now reads
   * zeros) or its path names a new file: open it again — growing it back to our size — and start
   * a new session there, so consumers that re-open it find a producer.
   */
  protected checkRegion(): boolean {
    const now = performance.now();
    let why: string | null = null;
    if (this.region.closed) {
      // An earlier re-open failed (the path is gone or unusable): try again twice a second.
      if (now - this.lastFileCheck < 500) return true;
      why = 'the region could not be opened again';
    } else if (this.region.broken) {
      why = `${this.region.path} was truncated under ${this.producerName}`;
    }
    if (!why && now - this.lastFileCheck > 500) {
      this.lastFileCheck = now;
      why = regionFileChanged(this.region);
    }
    if (!why) return false;
    this.lastFileCheck = now;
    this.watcher.close(); // settles a waitForRoom() in progress; it carries on with the new watcher
    this.region.close();
    try {
      this.region = this.open();
    } catch (err) {
      this.problem(`${why}; re-opening ${this.where.shmPath} failed: ${(err as Error).message}`);
      return true;
    }
    this.problem(`${why}; opened it again`);
    this.dv = new DataView(this.region.buffer);
    this.watcher = new native.Watcher(this.region, { spinUs: 20, maxSleepUs: 200 });
    this.stats.reopens++;
    this.startSession(true);
    return true;
  }

  /** The 10 ms duty: heartbeat and timeouts, consumer mailbox, cursor for new subscribers. */
  private tick = (): void => {
    try {
      if (!this.running || this.checkRegion()) return;
      if (this.tamper('tick-start') === 'skip') return;
      if (this.lgmp.process() === 'corrupted') {
        this.restart('the region header or a queue was overwritten');
        return;
      }
      for (let msg = this.pointerQ.readData(); msg; msg = this.pointerQ.readData()) {
        const request = decodeSetCursorPos(msg);
        if (request) {
          this.stats.cursorRequests++;
          this.onCursorRequest(request);
        }
        this.pointerQ.ackData();
      }
      if (this.pointerQ.newSubs() > 0) this.postCursor(true);
      this.onDuty();
      this.tamper('tick-end');
    } catch (err) {
      this.recover(err);
    }
  };

  /**
   * Starts the duty every `periodMs` (and runs it once now): B7 runs it every 10 ms. Consumers need
   * the heartbeat to move within 200 ms of attaching (B7's client) and call a producer stalled
   * after 300 ms (glasspane's relay) and gone after 1000 ms (LGMP), so a producer may run it less
   * often when a waking timer is what its idle cost is made of.
   */
  protected startDuty(periodMs = 10): void {
    this.running = true;
    this.timer = setInterval(this.tick, periodMs);
    this.tick();
  }

  /** Stops the duty and closes the watcher and the region (consumers see the heartbeat stop). */
  protected closeShared(): void {
    this.running = false;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.watcher.close();
    this.region.close();
  }

  /** A lock a consumer left taken (killed inside its critical section) means a new session; anything else is reported. */
  protected recover(err: unknown): void {
    try {
      if (err instanceof LockTimeoutError) this.restart('a queue lock stayed taken (a consumer died holding it)');
      else this.problem(`producer step failed: ${(err as Error).message}`);
    } catch (again) {
      this.problem(`cannot start a new session: ${(again as Error).message}`);
    }
  }

  /** Waits until a frame slot is free (the consumer acknowledged); false when stopping. */
  protected async waitForRoom(onWait?: () => void): Promise<boolean> {
    let waited = false;
    while (this.running && this.region.closed) await sleep(50); // a re-open is being retried
    while (this.running && !this.region.closed && this.frameQ.pending() >= KVMFR.FRAME_QUEUE_LEN) {
      if (!waited) onWait?.();
      waited = true;
      const result = await new Promise<number>((resolve) => this.watcher.wait([this.frameQ.countOffset, KVMFR.FRAME_QUEUE_LEN], 50, (i) => resolve(i)));
      // Closed: stop() ends the loop; a re-opened region brought a new watcher and session.
      if (result === WATCH_CLOSED && !this.running) return false;
    }
    return this.running;
  }
}

