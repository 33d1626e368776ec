/**
 * `glasspane capture`: an X11 desktop written into the region in Looking Glass B7's format, so that
 * glasspane's viewer and the official B7 client both show it. The session, heartbeat, mailbox and
 * recovery are B7Producer's (the stub's); this module adds the desktop:
 *
 * - **Pixels** are copied by the X server itself, straight into the frame buffers: the region file
 *   is handed to the server (MIT-SHM ShmAttachFd) and each frame buffer becomes a shared pixmap,
 *   so a CopyArea of a damaged rectangle lands at its place with the frame's pitch. This process
 *   never touches a pixel. A frame is posted once its pixels are complete (write pointer at the
 *   end), which every consumer accepts; B7's post-then-write only overlaps a copy this producer
 *   does not make.
 * - **Damage** (XDamage) drives everything: nothing is posted while nothing changes; a change is
 *   posted as one frame carrying the changed rectangles as KVMFR damage, at most `fps` frames a
 *   second. Each buffer is brought up to date with what changed since it was last written
 *   (capture-damage.ts).
 * - **Cursor**: XFixes' shape (x11-cursor.ts) and the pointer position on XInput 2 raw motion, as
 *   cursor messages; a consumer's SETCURSORPOS warps the pointer.
 * - **Resolution**: a new root size (xrandr) becomes a new format (formatVer + 1) in the same
 *   session, without a restart.
 * - **New consumers** (a viewer restarted) get the last frame again at once, as B7 does.
 */
import { randomUUID } from 'node:crypto';
import { B7Producer, type B7ProducerOptions, type B7ProducerStats, type SessionShape } from './b7-producer.js';
import { wpOffsetOf } from './b7-session.js';
import { openX11Display, screenFormat, screenFrame, x11Error, type ScreenFormat } from './x11-display.js';
import { PointerState } from './x11-cursor.js';
import { Wakeup } from './wakeup.js';
import { BufferDamage, clipRects, frameDamage, pixelsIn, toQuads } from './capture-damage.js';
import { X11Pending, type NativeX11Capture } from '../src/native.js';
import { writeFrame, type Rect } from '../src/kvmfr/frame.js';
import { writeCursor } from '../src/kvmfr/cursor.js';
import { FRAMEBUFFER } from '../src/kvmfr/layout.js';
import { regionSizeMiB } from '../src/kvmfr/sizing.js';
import { GlasspaneError } from '../src/errors.js';

/**
 * The capture's LGMP duty period. A 10 ms timer (B7's) alone costs about 1 % of a core here (each
 * wake of the event loop, with nothing to do); 50 ms keeps the heartbeat well inside every
 * consumer's limits (b7-producer.ts startDuty) and bounds what it delays — a new viewer's first
 * frame and cursor, a SETCURSORPOS — to 50 ms, at a fifth of the idle cost.
 */
export const CAPTURE_DUTY_MS = 50;

/** The producer version string the capture writes into the KVMFR header. */
export const CAPTURE_VERSION = 'glasspane-capture 0.1.0';

/** What a CaptureProducer captures and where; the region options are B7Producer's. */
export interface CaptureOptions extends Omit<B7ProducerOptions, 'sizeMiB'> {
  /** The X display (undefined: $DISPLAY). */
  display?: string;
  /** Region size in MiB when the file is created (default: the B7 rule for the screen). */
  sizeMiB?: number;
  /** At most this many frames a second (0: as fast as changes come and consumers acknowledge). */
  fps: number;
  /** The VM UUID to advertise in VMINFO (default: random). */
  uuid?: string;
  /** Stop after this many seconds (undefined = until stop()). */
  seconds?: number;
}

/** What the capture did, for its status lines and tests. Counts since the producer was made. */
export interface CaptureStats extends B7ProducerStats {
  framesPosted: number;
  /** The last frame posted again for a new consumer (nothing had changed). */
  framesReposted: number;
  /** Frames whose buffer was written whole (the first of a session or format). */
  wholeFrames: number;
  /** Pixels the X server copied into the region. */
  pixelsCopied: number;
  /** The rectangles copied for the last frame, and its KVMFR damage ([] = the whole frame). */
  lastCopied: Rect[];
  lastDamage: Rect[];
  /** Screen size changes turned into a new format. */
  formatChanges: number;
  width: number;
  height: number;
  cursorShapes: number;
  cursorMessages: number;
  /** Times a frame waited because both frame buffers were still being read. */
  waitsForConsumer: number;
}

/**
 * The X11 capture producer (see the module comment). The constructor connects to the display,
 * opens (or creates) the region, hands it to the X server and starts a session; run() captures
 * until `seconds`, stop(), or a fatal error. Throws GlasspaneError ERR_X11_MISSING,
 * ERR_X11_DISPLAY, ERR_X11_EXTENSION, ERR_X11_FORMAT, ERR_X11_SHM, openRegion()'s errors and
 * ERR_REGION_TOO_SMALL; run() rejects with ERR_X11_LOST when the X server goes away. Everything
 * runs on the event loop; the X round trips run on the libuv pool and the X server does the copies.
 */
export class CaptureProducer extends B7Producer {
  readonly stats: CaptureStats;
  protected readonly producerName = 'the capture';
  private readonly x: NativeX11Capture;
  private format: ScreenFormat;
  private formatVer = 1;
  private readonly uuid: string;
  private readonly damage = new BufferDamage(2);
  /** The buffer the next frame goes into. */
  private slot = 0;
  /** The buffer of the last frame posted in this session and format (null: none yet). */
  private lastPosted: number | null = null;
  private serial = 0;
  /** The screen changed since the last frame (or a whole frame is due). */
  private dirty = true;
  /** A new consumer subscribed to frames. */
  private repostWanted = false;
  private nextFrameAt = 0;
  /** The X server maps the current region and holds a pixmap over each frame buffer. */
  private targetsReady = false;
  private targetsTriedAt = 0;
  /** Why the targets could not be set up, the last time they could not. */
  private targetsError: GlasspaneError | null = null;
  private readonly pointer = new PointerState();
  private cursorNeeded = true;
  private shapeRetry = false;
  private readonly wakeup = new Wakeup();
  private loop: Promise<void> | null = null;
  private lastXProblem = '';

  constructor(readonly options: CaptureOptions) {
    // The display first: without one nothing is opened or created.
    const x = openX11Display(options.display);
    let format: ScreenFormat;
    try {
      format = screenFormat(x.screen());
    } catch (err) {
      x.close();
      throw x11Error(err);
    }
    try {
      super({ ...options, sizeMiB: options.sizeMiB ?? regionSizeMiB(format.width, format.height) });
    } catch (err) {
      x.close();
      throw err;
    }
    this.x = x;
    this.format = format;
    this.uuid = (options.uuid ?? randomUUID()).replace(/-/g, '');
    this.stats = {
      sessionID: 0,
      truncated: false,
      dataHeight: format.height,
      maxFrameBytes: 0,
      cursorRequests: 0,
      restarts: 0,
      reopens: 0,
      framesPosted: 0,
      framesReposted: 0,
      wholeFrames: 0,
      pixelsCopied: 0,
      lastCopied: [],
      lastDamage: [],
      formatChanges: 0,
      width: format.width,
      height: format.height,
      cursorShapes: 0,
      cursorMessages: 0,
      waitsForConsumer: 0,
    };
    try {
      this.startSession();
      if (this.targetsError) throw this.targetsError;
    } catch (err) {
      this.closeShared();
      x.close();
      throw err;
    }
  }

  protected sessionShape(): SessionShape {
    const f = this.format;
    return { producerVersion: CAPTURE_VERSION, capture: 'X11 (MIT-SHM)', uuid: this.uuid, width: f.width, height: f.height, pitch: f.pitch };
  }

  protected onSession(reopened: boolean): void {
    this.damage.full();
    this.lastPosted = null;
    this.slot = 0;
    this.dirty = true;
    this.cursorRing.startSession(this.region, this.shapeSlots, this.pointer.shape ? (r, slot) => this.pointer.writeShape(r, slot) : null);
    this.setTargets(reopened || !this.targetsReady);
    this.wakeup.wake();
  }

  /**
   * Gives the X server the region (when `attach`) and a pixmap over each frame buffer, `rows`
   * rows of the screen's width. On failure the reason is reported and frames wait; the frame path
   * tries again once a second.
   */
  private setTargets(attach: boolean): void {
    this.targetsTriedAt = performance.now();
    this.targetsReady = false;
    try {
      if (attach) this.x.attach(this.region.path);
      this.x.setTargets(
        this.frames.map((f) => wpOffsetOf(f) + FRAMEBUFFER.data),
        this.format.width,
        this.rows,
      );
      this.targetsReady = true;
      this.targetsError = null;
    } catch (err) {
      this.targetsError = x11Error(err);
      this.xProblem(err);
    }
  }

  protected onCursorRequest(pos: { x: number; y: number }): void {
    const x = Math.max(0, Math.min(this.format.width - 1, pos.x));
    const y = Math.max(0, Math.min(this.format.height - 1, pos.y));
    try {
      this.x.warp(x, y);
    } catch (err) {
      this.xProblem(err);
    }
  }

  protected onDuty(): void {
    if (this.frameQ.newSubs() > 0) {
      this.repostWanted = true;
      this.wakeup.wake();
    }
    if (this.shapeRetry) {
      this.shapeRetry = false;
      this.postCursor(true);
    }
  }

  /** Pointer messages: the shape's top-left corner (B7's convention), with the shape for new subscribers. */
  protected postCursor(withShape: boolean): void {
    const { mem, flags } = this.cursorRing.next(withShape, this.cursorSlots, this.pointer.visible);
    writeCursor(this.dv, mem.offset, this.pointer.topLeft());
    this.tamper('cursor', mem);
    const r = this.pointerQ.post(flags, mem);
    if (r === 'posted') this.stats.cursorMessages++;
    else if (r === 'full' && withShape) this.shapeRetry = true; // the shape must not be lost: again on the next duty
    this.tamper('cursor-posted', mem);
  }

  /** Starts watching the display, the duty and the frame loop; resolves when the loop ends (seconds elapsed or stop()); rejects with ERR_X11_LOST. */
  run(): Promise<void> {
    if (this.loop) return this.loop;
    this.x.start(() => this.wakeup.wake());
    this.startDuty(CAPTURE_DUTY_MS);
    this.loop = this.produce().finally(() => {
      this.running = false;
    });
    return this.loop;
  }

  private async produce(): Promise<void> {
    const deadline = this.options.seconds !== undefined ? performance.now() + this.options.seconds * 1000 : Infinity;
    while (this.running && performance.now() < deadline) {
      const events = this.x.takeEvents();
      if (events.bits & X11Pending.GONE) throw new GlasspaneError('ERR_X11_LOST', 'the connection to the X server was lost (the desktop session ended or the server reset)');
      for (const e of events.errors) this.problem(`the X server reported ${e}`);
      if (events.bits & X11Pending.SCREEN) this.reconfigure();
      if (events.bits & X11Pending.CURSOR || this.cursorNeeded) await this.readCursor();
      else if (events.bits & X11Pending.POINTER && this.pointer.moveTo(events.pointer)) this.postCursor(false);
      if (events.bits & X11Pending.DAMAGE) this.dirty = true;
      if (!this.targetsReady && performance.now() - this.targetsTriedAt > 1000) this.setTargets(true);
      const wanted = (this.dirty || this.repostWanted) && this.targetsReady && this.hasLiveSubscriber();
      const now = performance.now();
      if (wanted && now >= this.nextFrameAt) await this.sendFrame();
      else await this.wakeup.wait(Math.min(wanted ? this.nextFrameAt - now : 1000, deadline - now));
    }
  }

  private hasLiveSubscriber(): boolean {
    const s = this.frameQ.subscribers();
    return (s.on & ~s.bad) !== 0;
  }

  /** The root window has a new size: a new format in the same session. */
  private reconfigure(): void {
    let f: ScreenFormat;
    try {
      f = screenFormat(this.x.screen());
    } catch (err) {
      this.xProblem(err);
      return;
    }
    if (f.width === this.format.width && f.height === this.format.height) return;
    this.format = f;
    this.formatVer = (this.formatVer + 1) >>> 0;
    this.stats.formatChanges++;
    this.stats.width = f.width;
    this.stats.height = f.height;
    this.rows = Math.min(f.height, Math.floor(this.stats.maxFrameBytes / f.pitch));
    this.stats.truncated = this.rows < f.height;
    this.stats.dataHeight = this.rows;
    if (this.rows < 1) {
      this.problem(`the ${f.width}x${f.height} screen does not fit the region's frame buffers (${this.stats.maxFrameBytes} bytes): no frames until it is smaller`);
      this.targetsReady = false;
      return;
    }
    if (this.stats.truncated) this.problem(`the region is too small for ${f.width}x${f.height}: frames are TRUNCATED to ${this.rows} rows (use a region of ${regionSizeMiB(f.width, f.height)} MiB)`);
    this.damage.full();
    this.lastPosted = null;
    this.dirty = true;
    this.setTargets(false);
  }

  private async readCursor(): Promise<void> {
    this.cursorNeeded = false;
    let img;
    try {
      img = await this.x.cursorAsync();
    } catch (err) {
      this.xProblem(err);
      return;
    }
    if (!this.running) return;
    if (!this.pointer.takeImage(img)) return this.postCursor(false);
    this.cursorRing.newShape(this.region, (r, slot) => this.pointer.writeShape(r, slot));
    this.stats.cursorShapes++;
    this.postCursor(true);
  }

  /**
   * One frame: take the damage, bring the next buffer up to date (the X server copies), describe
   * it and post it — or, when nothing changed and a consumer is new, post the last frame again.
   * A new session during one of the awaits (a restart, a re-opened region) drops the frame.
   */
  private async sendFrame(): Promise<void> {
    const session = this.lgmp.sessionID;
    const same = () => this.running && !this.region.closed && this.lgmp.sessionID === session && this.targetsReady;
    if (!(await this.waitForRoom(() => this.stats.waitsForConsumer++)) || !same()) return;
    if (!this.dirty && this.lastPosted !== null) {
      this.repostWanted = false;
      if (this.frameQ.post(0, this.frames[this.lastPosted]!) === 'posted') this.stats.framesReposted++;
      return;
    }
    this.dirty = false;
    this.repostWanted = false;
    const { width } = this.format;
    const rows = this.rows;
    let changed: Rect[];
    try {
      changed = clipRects(await this.x.takeDamageAsync(), width, rows);
    } catch (err) {
      this.lost(err);
      return;
    }
    if (!same()) return this.lost(null);
    this.damage.add(changed);
    const whole = this.lastPosted === null;
    if (changed.length === 0 && !whole) return; // the damage lay outside the frame
    const slot = this.slot;
    const lack = this.damage.take(slot);
    const copy = lack === 'full' ? [{ x: 0, y: 0, width, height: rows }] : lack;
    try {
      await this.x.copyAsync(slot, toQuads(copy));
    } catch (err) {
      this.lost(err);
      return;
    }
    if (!same()) return this.lost(null);
    this.stats.pixelsCopied += pixelsIn(copy);
    const mem = this.frames[slot]!;
    const f = this.format;
    const damageRects = frameDamage(changed, whole);
    writeFrame(this.dv, mem.offset, screenFrame(f, { formatVer: this.formatVer, serial: this.serial, rows, damageRects }));
    // Complete before the post: the write pointer already says every byte is there.
    this.region.store32(wpOffsetOf(mem), f.pitch * rows);
    this.tamper('frame', mem);
    if (this.frameQ.post(0, mem) !== 'posted') {
      // Everyone left meanwhile: this buffer is up to date, but no consumer saw its damage.
      this.lastPosted = null;
      return;
    }
    this.tamper('frame-posted', mem);
    this.serial = (this.serial + 1) >>> 0;
    this.sessionPosted++;
    this.stats.framesPosted++;
    if (lack === 'full') this.stats.wholeFrames++;
    this.stats.lastCopied = copy;
    this.stats.lastDamage = damageRects;
    this.lastPosted = slot;
    this.slot ^= 1;
    if (this.options.fps > 0) this.nextFrameAt = performance.now() + 1000 / this.options.fps;
  }

  /** A frame was abandoned after its damage was taken: the buffers get everything, and the next frame is whole for consumers. */
  private lost(err: unknown): void {
    if (err) this.xProblem(err);
    this.damage.full();
    this.lastPosted = null;
    this.dirty = true;
  }

  /** Reports an X failure once until a different one (a lost connection ends the loop through the GONE event). */
  private xProblem(err: unknown): void {
    const e = x11Error(err);
    if (e.message !== this.lastXProblem) this.problem(e.message);
    this.lastXProblem = e.message;
  }

  /** Stops capturing; the region and its last frames stay (consumers see the heartbeat stop). */
  async stop(): Promise<void> {
    this.running = false;
    this.wakeup.wake();
    this.watcher.cancel();
    await this.loop?.catch(() => undefined);
    this.closeShared();
    this.x.close();
  }
}
