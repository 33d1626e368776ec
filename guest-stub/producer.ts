/**
 * guest-stub: a Looking Glass B7-format producer for demos, tests and benchmarks. Lays out the
 * region exactly as B7's producer does (frame queue of 2, pointer queue of 20, 1000 ms subscriber
 * timeout, 20 cursor position slots, 3 cursor shape buffers, two page-aligned frame buffers),
 * runs the LGMP heartbeat every 10 ms, and publishes frames by posting first and then writing the
 * pixels with the write pointer advancing every 1 MiB — so the official B7 client can show it.
 * The format and these rules: docs/protocol.md (#region-map, #publishing-a-frame).
 */
import { randomUUID } from 'node:crypto';
import { debuglog } from 'node:util';
import { setTimeout as sleep, setImmediate as nextTurn } from 'node:timers/promises';
import { openRegion, regionFileChanged, type Region } from '../src/region.js';
import { LockTimeoutError } from '../src/lgmp/spinlock.js';
import { CursorRing, startB7Session, wpOffsetOf } from './b7-session.js';
import type { StubLayout, TamperPhase } from './tamper.js';
import { HEADER } from '../src/lgmp/layout.js';
import { native, WATCH_CLOSED, type NativeWatcher } from '../src/native.js';
import type { Allocation, LgmpProducer, ProducerQueue } from '../src/lgmp/producer.js';
import { writeFrame } from '../src/kvmfr/frame.js';
import { decodeSetCursorPos, writeCursor } from '../src/kvmfr/cursor.js';
import { FRAMEBUFFER, FrameType, KVMFR } from '../src/kvmfr/layout.js';
import { FramePainter, sceneFrameType } from './frame-painter.js';
import { checkStubOptions, type StubOptions } from './stub-options.js';
import { BarsScene, cursorPosition, stampTimestamp } from '../src/scenes/bars.js';
import { StubInputServer } from './input-server.js';
import { BGRA, RGBA } from '../src/kvmfr/pixels.js';
import { EvdevEchoScene } from './evdev-echo.js';

const log = debuglog('glasspane:stub');

export type { StubOptions } from './stub-options.js';

/** The producer version string the stub writes into the KVMFR header (shown by viewers). */
export const STUB_VERSION = 'glasspane-stub 0.1.0';
const MiB = 1024 * 1024;

/** What the stub did, for its status lines and tests. Counts since the producer was made. */
export interface StubStats {
  sessionID: number;
  framesPosted: number;
  /** Frames rendered while no consumer was subscribed (not posted). */
  framesSkipped: number;
  /** Times the producer waited because both frame slots were still unacknowledged. */
  waitsForConsumer: number;
  truncated: boolean;
  dataHeight: number;
  maxFrameBytes: number;
  cursorMessages: number;
  /** Positions requested by consumers through SETCURSORPOS. */
  cursorRequests: number;
  /** New sessions started because the region was corrupted or a lock stayed taken. */
  restarts: number;
  /** Times the region was opened again after it was truncated or re-created under us. */
  reopens: number;
}

/**
 * The guest-stub producer (see the module comment). The constructor opens (or creates) the region
 * and starts a session at once; run() produces until `seconds` or stop(). Single-threaded on the
 * event loop: the 10 ms duty runs on a timer, frames in an async loop, and the pixels are written
 * synchronously (writeIn). Throws GlasspaneError ERR_USAGE for a format, scene or size it cannot
 * produce, openRegion()'s errors, ERR_REGION_TOO_SMALL when the session does not fit, and
 * ERR_EVDEV for the input-echo scene's devices. Consumers share the region and are untrusted:
 * what they write (subscriber bits, counts, mailbox messages, a lock left taken) is bounded or
 * leads to a new session, reported through `onProblem`, never an exception out of run().
 */
export class StubProducer {
  readonly stats: StubStats;
  private region: Region;
  private dv: DataView;
  private lgmp!: LgmpProducer;
  private frameQ!: ProducerQueue;
  private pointerQ!: ProducerQueue;
  private frames: Allocation[] = [];
  private cursorSlots: Allocation[] = [];
  private shapeSlots: Allocation[] = [];
  /** Which cursor buffer the next pointer message uses. */
  private readonly cursorRing = new CursorRing();
  private watcher: NativeWatcher;
  private timer: NodeJS.Timeout | null = null;
  private running = false;
  private loop: Promise<void> | null = null;
  private readonly frameType: number;
  /** The frame's pixels and the KVMFRFrame fields that describe them. */
  private readonly painter: FramePainter;
  /** Rows of the current session's frames: the height, or fewer in a region too small for it. */
  private rows: number;
  private serial = 0;
  private cursorOverride: { x: number; y: number } | null = null;
  /** Frames posted in the current session. */
  private sessionPosted = 0;
  private readonly uuid: string;
  private input: StubInputServer | null = null;
  private echo: EvdevEchoScene | null = null;

  constructor(readonly options: StubOptions) {
    const fmt = checkStubOptions(options);
    this.frameType = fmt.type;
    this.uuid = (options.uuid ?? randomUUID()).replace(/-/g, '');
    // Opened before the region so that a missing device leaves no half-made session behind.
    if (options.scene === 'input-echo') this.echo = new EvdevEchoScene(options.width, options.height, fmt.type, options.evdevPaths);
    try {
      this.region = openRegion(options.shmPath, { createBytes: Math.round(options.sizeMiB * MiB), size: options.mapBytes });
    } catch (err) {
      this.echo?.close();
      throw err;
    }
    this.dv = new DataView(this.region.buffer);
    this.painter = new FramePainter(new BarsScene(options.width, options.height, sceneFrameType(fmt.type)), options.width, options.height, fmt.type);
    this.rows = options.height;
    this.stats = {
      sessionID: 0,
      framesPosted: 0,
      framesSkipped: 0,
      waitsForConsumer: 0,
      truncated: false,
      dataHeight: options.height,
      maxFrameBytes: 0,
      cursorMessages: 0,
      cursorRequests: 0,
      restarts: 0,
      reopens: 0,
    };
    this.startSession();
    this.watcher = new native.Watcher(this.region, { spinUs: 20, maxSleepUs: 200 });
  }

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

  private tamper(phase: TamperPhase, slot?: Allocation): void | 'skip' {
    const t = this.options.tamper;
    return t ? t({ phase, region: this.region, layout: this.regionLayout(), slot }) : undefined;
  }

  /** (Re)creates the LGMP session and the B7 memory layout (b7-session.ts). Called again if the header gets overwritten. */
  private startSession(): void {
    this.sessionPosted = 0;
    const session = startB7Session(this.region, { producerVersion: STUB_VERSION, uuid: this.uuid, width: this.options.width, height: this.options.height, pitch: this.painter.pitch });
    ({ lgmp: this.lgmp, frameQ: this.frameQ, pointerQ: this.pointerQ, frames: this.frames, cursorSlots: this.cursorSlots, shapeSlots: this.shapeSlots, rows: this.rows } = session);
    this.stats.sessionID = this.lgmp.sessionID;
    this.stats.maxFrameBytes = session.maxFrameBytes;
    this.stats.truncated = this.rows < this.options.height;
    this.stats.dataHeight = this.rows;
    this.painter.setRows(this.rows);
    this.cursorRing.startSession(this.region, this.shapeSlots);
    log('session %d: frame buffers of %d bytes, %d rows%s', this.lgmp.sessionID, session.maxFrameBytes, this.rows, this.stats.truncated ? ' (TRUNCATED)' : '');
  }

  private cursorPos(): { x: number; y: number } {
    if (this.echo) return { x: this.echo.state.x, y: this.echo.state.y }; // the guest's own pointer
    if (this.input) return this.input.pointer; // the guest pointer follows the viewer's input
    return this.cursorOverride ?? cursorPosition(this.serial, this.options.width, this.options.height);
  }

  /**
   * Starts the input endpoint (WebSocket on 127.0.0.1, `port` 0 = any free port) for the viewer's
   * stub input sink; returns its ws:// URL. With the "input" scene the frames show what arrives.
   */
  async listenForInput(port: number): Promise<string> {
    this.input = await StubInputServer.listen(port, { width: this.options.width, height: this.options.height }, (m) => {
      this.options.onInput?.(m);
      if (m.t !== 'key') this.postCursor(false);
    });
    return this.input.url;
  }

  /** The "input" scene: the bars with the received input drawn over them, and a crosshair at the pointer. */
  private drawInput(): void {
    if (this.input && this.options.scene === 'input') this.input.drawOnto(this.painter.pixels, this.options.width, this.rows, this.painter.pitch, this.frameType === FrameType.RGBA ? RGBA : BGRA);
  }

  /** Pointer messages: new subscribers get the shape and position at once (as in B7). */
  private postCursor(withShape: boolean): void {
    const pos = this.cursorPos();
    const { mem, flags } = this.cursorRing.next(withShape, this.cursorSlots);
    writeCursor(this.dv, mem.offset, pos);
    this.tamper('cursor', mem);
    if (this.pointerQ.post(flags, mem) === 'posted') this.stats.cursorMessages++;
    this.tamper('cursor-posted', mem);
  }

  /** Starts a new session after something in the shared memory went wrong; reports what. */
  private restart(why: string): void {
    this.stats.restarts++;
    this.problem(`${why}: starting a new session`);
    this.startSession();
  }

  private problem(message: string): void {
    log('%s', message);
    this.options.onProblem?.(message);
  }

  private lastFileCheck = 0;

  /**
   * The region file shrank under us (the addon survived the SIGBUS and the mapping now reads
   * zeros) or its path names a new file: open it again — growing it back to our size — and start
   * a new session there, so consumers that re-open it find a producer.
   */
  private checkRegion(): boolean {
    const now = performance.now();
    let why: string | null = null;
    if (this.region.closed) {
      // An earlier re-open failed (the path is gone or unusable): try again twice a second.
      if (now - this.lastFileCheck < 500) return true;
      why = 'the region could not be opened again';
    } else if (this.region.broken) {
      why = `${this.region.path} was truncated under the stub`;
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
      this.region = openRegion(this.options.shmPath, { createBytes: Math.round(this.options.sizeMiB * MiB), size: this.options.mapBytes });
    } catch (err) {
      this.problem(`${why}; re-opening ${this.options.shmPath} failed: ${(err as Error).message}`);
      return true;
    }
    this.problem(`${why}; opened it again`);
    this.dv = new DataView(this.region.buffer);
    this.watcher = new native.Watcher(this.region, { spinUs: 20, maxSleepUs: 200 });
    this.stats.reopens++;
    this.startSession();
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
          this.cursorOverride = request;
          this.stats.cursorRequests++;
        }
        this.pointerQ.ackData();
      }
      if (this.pointerQ.newSubs() > 0) this.postCursor(true);
      this.tamper('tick-end');
    } catch (err) {
      this.recover(err);
    }
  };

  /** A lock a consumer left taken (killed inside its critical section) means a new session; anything else is reported. */
  private recover(err: unknown): void {
    try {
      if (err instanceof LockTimeoutError) this.restart('a queue lock stayed taken (a consumer died holding it)');
      else this.problem(`producer step failed: ${(err as Error).message}`);
    } catch (again) {
      this.problem(`cannot start a new session: ${(again as Error).message}`);
    }
  }

  /** Waits until a frame slot is free (the consumer acknowledged); false when stopping. */
  private async waitForRoom(): Promise<boolean> {
    let waited = false;
    while (this.running && this.region.closed) await sleep(50); // a re-open is being retried
    while (this.running && !this.region.closed && this.frameQ.pending() >= KVMFR.FRAME_QUEUE_LEN) {
      if (!waited) this.stats.waitsForConsumer++;
      waited = true;
      const result = await new Promise<number>((resolve) => this.watcher.wait([this.frameQ.countOffset, KVMFR.FRAME_QUEUE_LEN], 50, (i) => resolve(i)));
      // Closed: stop() ends the loop; a re-opened region brought a new watcher and session.
      if (result === WATCH_CLOSED && !this.running) return false;
    }
    return this.running;
  }

  private async produce(): Promise<void> {
    const period = this.options.fps > 0 ? 1000 / this.options.fps : 0;
    const started = performance.now();
    const deadline = this.options.seconds !== undefined ? started + this.options.seconds * 1000 : Infinity;
    let next = started;
    let slot = 0;
    while (this.running && performance.now() < deadline) {
      let slept = false;
      if (period) {
        const wait = next - performance.now();
        if (wait > 1) {
          await sleep(wait - 0.5);
          slept = true;
        }
        // After a hiccup (the host descheduled us, the consumer stalled) catch up on up to one
        // second of frames instead of silently lowering the rate: the cap holds on average.
        next = Math.max(next + period, performance.now() - Math.max(10 * period, 1000));
      }
      // A producer that is behind (or uncapped) and finds a free slot at once only awaits
      // resolved promises: without a turn of the event loop the 10 ms heartbeat timer never
      // runs and consumers declare the producer dead after 1 s (seen in a slow TCG guest).
      if (!slept) await nextTurn();
      if (this.options.frames !== undefined && this.stats.framesPosted >= this.options.frames) {
        await sleep(20); // all frames sent: keep the session (heartbeat, cursor) alive
        continue;
      }
      if (!(await this.waitForRoom())) break;
      let result: 'posted' | 'no-subscribers' | 'full';
      try {
        result = this.postFrame(slot);
      } catch (err) {
        // The region went away under us (a re-open is under way) or a lock stayed taken.
        if (!this.region.closed) this.recover(err);
        await sleep(10);
        continue;
      }
      if (result !== 'posted') {
        this.stats.framesSkipped++;
        if (result === 'no-subscribers') await sleep(5);
        continue;
      }
      slot ^= 1;
    }
  }

  /** Renders, posts and writes one frame into frame buffer `slot` (post first, then write, as B7 does). */
  private postFrame(slot: number): 'posted' | 'no-subscribers' | 'full' {
    const serial = this.serial;
    const painter = this.painter;
    painter.paint(serial);
    this.drawInput();
    const pointerMoved = this.echo?.draw(painter.pixels, painter.pitch, this.rows) ?? false;
    const mem = this.frames[slot]!;
    writeFrame(this.dv, mem.offset, painter.frameFields(serial, this.stats.truncated));
    const wpOffset = wpOffsetOf(mem);
    this.region.store32(wpOffset, 0);
    stampTimestamp(painter.pixels, process.hrtime.bigint());
    this.tamper('frame', mem);
    // Post first, then write: the consumer copies while we are still writing (as B7 does).
    const posted = this.frameQ.post(0, mem);
    if (posted !== 'posted') return posted;
    this.stats.framesPosted++;
    this.sessionPosted++;
    this.tamper('frame-posted', mem);
    // Written on this thread right after the post (as B7's capture thread does): a thread-pool
    // job could start late on a loaded host and leave the consumer waiting on wp = 0.
    this.region.writeIn(painter.pixels, 0, wpOffset + FRAMEBUFFER.data, painter.pixels.length, wpOffset, MiB);
    this.tamper('frame-written', mem);
    this.serial = (this.serial + 1) >>> 0;
    if (!this.echo || pointerMoved) this.postCursor(false);
    return 'posted';
  }

  /** Starts the heartbeat and the frame loop; resolves when the loop ends (seconds elapsed or stop()). */
  run(): Promise<void> {
    if (this.loop) return this.loop;
    this.running = true;
    this.timer = setInterval(this.tick, 10);
    this.tick();
    this.loop = this.produce().finally(() => {
      this.running = false;
    });
    return this.loop;
  }

  /** Stops producing; the region and its last frames stay (consumers see the heartbeat stop). */
  async stop(): Promise<void> {
    this.running = false;
    this.watcher.cancel();
    await this.loop?.catch(() => undefined);
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.watcher.close();
    this.region.close();
    this.echo?.close();
    await this.input?.close();
  }
}
