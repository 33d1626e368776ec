/**
 * The SPICE inputs channel: keys as PC set-1 scancodes, relative motion with the MOTION_ACK
 * window, absolute positions, buttons with their cumulative state, wheel, lock-key LEDs.
 *
 * Ordering contract: everything goes out in the order it was asked for. When the motion window
 * is full (MAX_UNACKED motion/position messages without ACK), motion accumulates in one pending
 * message and anything asked for after it (a button, a key) waits behind it, so a click always
 * lands where the pointer was moved first and Shift+click stays Shift+click.
 *
 * Every wait has a deadline: when the window is full and the server sends no MOTION_ACK for
 * `ackTimeoutMs` (default MOTION_ACK_TIMEOUT_MS), the channel ends with ERR_SPICE_TIMEOUT (a session
 * then reconnects; `glasspane send` says so and exits), so nothing queued behind the motion waits
 * forever.
 */
import { debuglog } from 'node:util';
import type { SpiceAddress } from './address.js';
import { SpiceChannel } from './channel.js';
import { SpiceError } from './errors.js';
import { ChannelType, InputsClientMsg, InputsServerMsg, Leds, MOTION_ACK_BUNCH } from './protocol.js';

const debug = debuglog('glasspane:spice');
/** Checked before each debug line on a per-message path: a disabled debuglog still costs its call. */
const debugOn = debug.enabled;

/**
 * At most this many MOTION/POSITION messages without MOTION_ACK: two ACK bunches in flight, so
 * motion keeps flowing while one ACK is on its way back, and a slow server is never flooded.
 */
export const MAX_UNACKED = 2 * MOTION_ACK_BUNCH;

/** How long a full motion window waits for a MOTION_ACK before the channel is given up (ms). */
export const MOTION_ACK_TIMEOUT_MS = 5000;

/** Set-1 scancodes of the lock keys (the server derives LED state from them). */
const LOCK_KEYS = new Set([0x3a, 0x45, 0x46]);

/**
 * The KEY_DOWN / KEY_UP u32 for a set-1 scancode written as 0xNN or 0xe0NN: the scancode bytes
 * in wire order, low byte first, zero-terminated; for a release the break bit (0x80) is set in the
 * last byte (the server does not set it).
 */
export function keyCodeU32(set1: number, down: boolean): number {
  const bytes = set1 > 0xff ? [set1 >>> 8, set1 & 0xff] : [set1 & 0xff];
  if (!down) bytes[bytes.length - 1]! |= 0x80;
  let v = 0;
  bytes.forEach((b, i) => (v |= b << (8 * i)));
  return v >>> 0;
}

type Out =
  | { kind: 'motion'; dx: number; dy: number; buttons: number }
  | { kind: 'position'; x: number; y: number; buttons: number }
  | { kind: 'msg'; type: number; payload: Buffer };

/** What the inputs channel reports; called on the main thread from socket events. */
export interface InputsEvents {
  /** Guest lock-key LEDs (Leds bits) from INPUTS_INIT and KEY_MODIFIERS. */
  leds?(leds: number): void;
  close?(err?: SpiceError): void;
}

/**
 * The inputs channel of one session (see the module comment for the ordering contract). Made by
 * open(); main thread only. Sending never throws and never blocks: messages queue behind pending
 * motion and are dropped once the channel is closed. Scancodes are trusted to be 0xNN or 0xe0NN
 * (scancodes.ts makes them).
 */
export class InputsChannel {
  /** Guest LED state as last reported by the server. */
  leds = 0;
  /** Current button mask (bit `1 << (id-1)`), as of the last event asked for. */
  buttons = 0;
  /** Highest number of unacknowledged motion messages seen (for tests and the debug log). */
  maxUnacked = 0;
  private unacked = 0;
  private readonly queue: Out[] = [];
  private readonly held = new Set<number>();
  private readonly channel: SpiceChannel;
  private drainWaiters: Array<() => void> = [];
  private readonly ackTimeoutMs: number;
  /** Runs while the window is full and motion waits for an ACK (see the module comment). */
  private ackTimer?: NodeJS.Timeout;

  private constructor(channel: SpiceChannel, ackTimeoutMs: number) {
    this.channel = channel;
    this.ackTimeoutMs = ackTimeoutMs;
  }

  /**
   * Links the inputs channel of session `sessionId` (from MAIN_INIT). Rejects with the SpiceErrors
   * of SpiceChannel.open() (also when `signal` aborts); after that the end is reported once to
   * `events.close`. `ackTimeoutMs`: see the module comment.
   */
  static async open(opts: { address: SpiceAddress; sessionId: number; password?: string; timeoutMs?: number; ackTimeoutMs?: number; signal?: AbortSignal; events?: InputsEvents }): Promise<InputsChannel> {
    const channel = await SpiceChannel.open({
      address: opts.address,
      channelType: ChannelType.INPUTS,
      connectionId: opts.sessionId,
      // KEY_SCANCODE is not offered: every key in our table is at most two bytes (E0 + code),
      // which KEY_DOWN/KEY_UP carry, so the raw-bytes message is never needed.
      channelCaps: [],
      password: opts.password,
      name: 'inputs',
      timeoutMs: opts.timeoutMs,
      signal: opts.signal,
      // Its server messages are 0–2 bytes; 64 KiB leaves room for a padded PING.
      maxMessage: 64 * 1024,
      keep: (type) => (type === InputsServerMsg.INIT || type === InputsServerMsg.KEY_MODIFIERS ? 2 : 0),
    });
    const inputs = new InputsChannel(channel, opts.ackTimeoutMs ?? MOTION_ACK_TIMEOUT_MS);
    const ev = opts.events ?? {};
    channel.attach(
      (type, payload) => {
        switch (type) {
          case InputsServerMsg.INIT:
          case InputsServerMsg.KEY_MODIFIERS: {
            if (payload.length < 2) return channel.protocolError(type, payload, 2, type === InputsServerMsg.INIT ? 'INPUTS_INIT (keyboard_modifiers)' : 'KEY_MODIFIERS (modifiers)');
            inputs.leds = payload.readUInt16LE(0);
            if (debugOn) debug('inputs: guest leds %d', inputs.leds);
            ev.leds?.(inputs.leds);
            return;
          }
          case InputsServerMsg.MOUSE_MOTION_ACK:
            inputs.unacked = Math.max(0, inputs.unacked - MOTION_ACK_BUNCH);
            // Progress: the deadline counts from the last ACK, not from when motion began to wait.
            clearTimeout(inputs.ackTimer);
            inputs.ackTimer = undefined;
            inputs.pump();
            return;
          default:
            return;
        }
      },
      (err) => {
        clearTimeout(inputs.ackTimer);
        inputs.ackTimer = undefined;
        inputs.held.clear();
        inputs.queue.length = 0;
        inputs.resolveDrain();
        ev.close?.(err);
      },
    );
    return inputs;
  }

  /** True once the channel ended; input asked for after that is dropped. */
  get isClosed(): boolean {
    return this.channel.isClosed;
  }

  /** Scancodes (0xNN / 0xe0NN) currently held down, in press order. */
  get heldKeys(): number[] {
    return [...this.held];
  }

  /** True while `set1` was pressed through this channel and not released. */
  isHeld(set1: number): boolean {
    return this.held.has(set1);
  }

  /** Motion/position messages sent and not yet acknowledged. */
  get unacknowledged(): number {
    return this.unacked;
  }

  /** Messages not yet sent: motion held back until the server acknowledges, and what was asked for after it (sent in order). */
  get queued(): number {
    return this.queue.length;
  }

  /** Presses the key with set-1 scancode `set1` (0xNN or 0xe0NN) and remembers it as held. */
  keyDown(set1: number): void {
    this.held.delete(set1); // re-insert: press order decides release order in releaseAll()
    this.held.add(set1);
    this.enqueueMsg(InputsClientMsg.KEY_DOWN, u32(keyCodeU32(set1, true)));
  }

  /** Releases the key with set-1 scancode `set1` (sent even when it was not held). */
  keyUp(set1: number): void {
    this.held.delete(set1);
    this.enqueueMsg(InputsClientMsg.KEY_UP, u32(keyCodeU32(set1, false)));
  }

  /**
   * Makes the guest's lock keys in `mask` (Leds bits) match `wanted`; the others keep the
   * guest's state. Sends KEY_MODIFIERS only on a real mismatch and never while a lock key is
   * held: the server synthesises lock-key taps from it, and a spurious one toggles CapsLock in
   * the guest.
   */
  syncLocks(wanted: number, mask: number = Leds.SCROLL | Leds.NUM | Leds.CAPS): boolean {
    wanted = (this.leds & ~mask) | (wanted & mask);
    if (wanted === this.leds) return false;
    for (const k of this.held) if (LOCK_KEYS.has(k)) return false;
    const b = Buffer.alloc(2);
    b.writeUInt16LE(wanted & (Leds.SCROLL | Leds.NUM | Leds.CAPS), 0);
    this.enqueueMsg(InputsClientMsg.KEY_MODIFIERS, b);
    this.leds = wanted; // optimistic: the guest's LED report confirms or corrects it
    return true;
  }

  /** Relative motion (server mouse mode); +y is down. Accumulates while the window is full. */
  motion(dx: number, dy: number): void {
    if (!Number.isFinite(dx) || !Number.isFinite(dy)) return;
    dx = Math.trunc(dx);
    dy = Math.trunc(dy);
    if (dx === 0 && dy === 0) return;
    const tail = this.queue[this.queue.length - 1];
    if (tail?.kind === 'motion') {
      tail.dx += dx;
      tail.dy += dy;
    } else {
      this.queue.push({ kind: 'motion', dx, dy, buttons: this.buttons });
    }
    this.pump();
  }

  /**
   * Absolute position in guest surface pixels (client mouse mode), clamped to
   * [0, width-1] × [0, height-1] because QEMU does not clamp. While the window is full only the
   * latest position is kept.
   */
  position(x: number, y: number, width: number, height: number, displayId = 0): void {
    const cx = clamp(Math.round(x), 0, Math.max(0, width - 1));
    const cy = clamp(Math.round(y), 0, Math.max(0, height - 1));
    const tail = this.queue[this.queue.length - 1];
    if (tail?.kind === 'position') {
      tail.x = cx;
      tail.y = cy;
    } else {
      this.queue.push({ kind: 'position', x: cx, y: cy, buttons: this.buttons | (displayId << 16) });
    }
    this.pump();
  }

  /** Button 1..7 (SpiceButton) down or up; the sent state is the full mask after the event. */
  button(id: number, down: boolean): void {
    if (!Number.isInteger(id) || id < 1 || id > 7) throw new RangeError(`SPICE button id ${id} is not in 1..7`);
    const bit = 1 << (id - 1);
    if (down === ((this.buttons & bit) !== 0)) return; // no duplicate press/release
    this.buttons = down ? this.buttons | bit : this.buttons & ~bit;
    const b = Buffer.alloc(3);
    b.writeUInt8(id, 0);
    b.writeUInt16LE(this.buttons, 1);
    this.enqueueMsg(down ? InputsClientMsg.MOUSE_PRESS : InputsClientMsg.MOUSE_RELEASE, b);
  }

  /** Wheel notches: negative = up (away from the user), positive = down. Each is PRESS+RELEASE of 4/5. */
  wheel(notches: number): void {
    const id = notches < 0 ? 4 : 5;
    for (let i = 0; i < Math.abs(Math.trunc(notches)); i++) {
      this.button(id, true);
      this.button(id, false);
    }
  }

  /** Releases every held key (reverse press order) and button. */
  releaseAll(): void {
    for (const k of [...this.held].reverse()) this.keyUp(k);
    for (let id = 1; id <= 7; id++) if (this.buttons & (1 << (id - 1))) this.button(id, false);
  }

  /**
   * Resolves when everything asked for has been written (pending motion included), or the channel
   * ended; never later than the motion ACK deadline (see the module comment) after the last ACK.
   */
  drain(): Promise<void> {
    if (this.queue.length === 0 || this.channel.isClosed) return Promise.resolve();
    return new Promise((resolve) => this.drainWaiters.push(resolve));
  }

  /** Drains (bounded by `timeoutMs`), then closes; the server releases whatever it saw pressed. */
  async close(timeoutMs = 2000): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.drain(), new Promise((r) => (timer = setTimeout(r, timeoutMs)))]);
    clearTimeout(timer);
    await this.channel.close();
  }

  private enqueueMsg(type: number, payload: Buffer): void {
    this.queue.push({ kind: 'msg', type, payload });
    this.pump();
  }

  /** Sends from the head of the queue until a motion message would overfill the window. */
  private pump(): void {
    while (this.queue.length) {
      const head = this.queue[0]!;
      if (head.kind === 'msg') {
        this.channel.send(head.type, head.payload);
      } else {
        if (this.unacked >= MAX_UNACKED) break;
        this.unacked++;
        if (this.unacked > this.maxUnacked) this.maxUnacked = this.unacked;
        if (head.kind === 'motion') {
          const b = Buffer.alloc(10);
          b.writeInt32LE(head.dx, 0);
          b.writeInt32LE(head.dy, 4);
          b.writeUInt16LE(head.buttons, 8);
          this.channel.send(InputsClientMsg.MOUSE_MOTION, b);
        } else {
          const b = Buffer.alloc(11);
          b.writeUInt32LE(head.x, 0);
          b.writeUInt32LE(head.y, 4);
          b.writeUInt16LE(head.buttons & 0xffff, 8);
          b.writeUInt8(head.buttons >>> 16, 10);
          this.channel.send(InputsClientMsg.MOUSE_POSITION, b);
        }
      }
      this.queue.shift();
    }
    this.watchAcks();
    if (this.queue.length === 0) this.resolveDrain();
  }

  /** Starts the ACK deadline while motion waits for the window, stops it when nothing waits. */
  private watchAcks(): void {
    const waiting = this.queue.length > 0 && !this.channel.isClosed;
    if (!waiting) {
      clearTimeout(this.ackTimer);
      this.ackTimer = undefined;
      return;
    }
    if (this.ackTimer) return;
    const queuedAt = this.unacked;
    this.ackTimer = setTimeout(() => {
      this.ackTimer = undefined;
      if (this.queue.length === 0 || this.channel.isClosed) return;
      this.channel.abort(
        new SpiceError(
          'ERR_SPICE_TIMEOUT',
          `SPICE server sent no MOUSE_MOTION_ACK for ${this.ackTimeoutMs} ms with ${queuedAt} motion messages unacknowledged: ${this.queue.length} input events could not be sent`,
          'check that QEMU is not paused or hung; the server must acknowledge every 4 motion messages',
        ),
      );
    }, this.ackTimeoutMs);
  }

  private resolveDrain(): void {
    const w = this.drainWaiters;
    this.drainWaiters = [];
    for (const f of w) f();
  }
}

function u32(v: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(v >>> 0, 0);
  return b;
}

function clamp(v: number, lo: number, hi: number): number {
  return v < lo ? lo : v > hi ? hi : v;
}
