/**
 * guest-stub: a Looking Glass B7-format producer for demos, tests and benchmarks. Lays out the
 * region exactly as B7's producer does (frame queue of 2, pointer queue of 20, 1000 ms subscriber
 * timeout, 20 cursor position slots, 3 cursor shape buffers, two page-aligned frame buffers),
 * runs the LGMP heartbeat every 10 ms, and publishes frames by posting first and then writing the
 * pixels with the write pointer advancing every 1 MiB — so the official B7 client can show it.
 * The format and these rules: docs/protocol.md (#region-map, #publishing-a-frame).
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep, setImmediate as nextTurn } from 'node:timers/promises';
import { wpOffsetOf } from './b7-session.js';
import { B7Producer, type B7ProducerStats, type SessionShape } from './b7-producer.js';
import { writeFrame } from '../src/kvmfr/frame.js';
import { writeCursor } from '../src/kvmfr/cursor.js';
import { FRAMEBUFFER, FrameType } from '../src/kvmfr/layout.js';
import { FramePainter, sceneFrameType } from './frame-painter.js';
import { checkStubOptions, type StubOptions } from './stub-options.js';
import { BarsScene, cursorPosition, stampTimestamp } from '../src/scenes/bars.js';
import { StubInputServer } from './input-server.js';
import { BGRA, RGBA } from '../src/kvmfr/pixels.js';
import { EvdevEchoScene } from './evdev-echo.js';

export type { StubOptions } from './stub-options.js';

/** The producer version string the stub writes into the KVMFR header (shown by viewers). */
export const STUB_VERSION = 'glasspane-stub 0.1.0';
const MiB = 1024 * 1024;

/** What the stub did, for its status lines and tests. Counts since the producer was made. */
export interface StubStats extends B7ProducerStats {
  framesPosted: number;
  /** Frames rendered while no consumer was subscribed (not posted). */
  framesSkipped: number;
  /** Times the producer waited because both frame slots were still unacknowledged. */
  waitsForConsumer: number;
  cursorMessages: number;
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
export class StubProducer extends B7Producer {
  readonly stats: StubStats;
  protected readonly producerName = 'the stub';
  private loop: Promise<void> | null = null;
  private readonly frameType: number;
  /** The frame's pixels and the KVMFRFrame fields that describe them. */
  private readonly painter: FramePainter;
  private serial = 0;
  private cursorOverride: { x: number; y: number } | null = null;
  private readonly uuid: string;
  private input: StubInputServer | null = null;
  private readonly echo: EvdevEchoScene | null;

  constructor(readonly options: StubOptions) {
    const fmt = checkStubOptions(options);
    // Opened before the region so that a missing device leaves no half-made session behind.
    const echo = options.scene === 'input-echo' ? new EvdevEchoScene(options.width, options.height, fmt.type, options.evdevPaths) : null;
    try {
      super(options);
    } catch (err) {
      echo?.close();
      throw err;
    }
    this.echo = echo;
    this.frameType = fmt.type;
    this.uuid = (options.uuid ?? randomUUID()).replace(/-/g, '');
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
  }

  protected sessionShape(): SessionShape {
    return { producerVersion: STUB_VERSION, capture: 'glasspane-stub', uuid: this.uuid, width: this.options.width, height: this.options.height, pitch: this.painter.pitch };
  }

  protected onSession(): void {
    this.painter.setRows(this.rows);
    this.cursorRing.startSession(this.region, this.shapeSlots);
  }

  protected onCursorRequest(pos: { x: number; y: number }): void {
    this.cursorOverride = pos;
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
  protected postCursor(withShape: boolean): void {
    const pos = this.cursorPos();
    const { mem, flags } = this.cursorRing.next(withShape, this.cursorSlots);
    writeCursor(this.dv, mem.offset, pos);
    this.tamper('cursor', mem);
    if (this.pointerQ.post(flags, mem) === 'posted') this.stats.cursorMessages++;
    this.tamper('cursor-posted', mem);
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
      if (!(await this.waitForRoom(() => this.stats.waitsForConsumer++))) break;
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
    this.startDuty();
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
    this.closeShared();
    this.echo?.close();
    await this.input?.close();
  }
}
