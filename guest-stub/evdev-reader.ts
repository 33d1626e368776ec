/**
 * Reads Linux input events from /dev/input/event* without blocking and without threads: every
 * device is opened O_NONBLOCK and poll() drains what the kernel has queued, synchronously. The
 * input-echo scene calls poll() right before it renders a frame, as a game loop would, so the
 * frame shows every event that arrived before it was drawn. (A blocking read would park a libuv
 * pool thread per device forever and keep the process from exiting.)
 *
 * struct input_event on 64-bit Linux (x86-64, aarch64) is 24 bytes:
 *   struct timeval time (tv_sec i64, tv_usec i64) | u16 type | u16 code | i32 value
 * The time is the kernel's timestamp of the event on the device's clock (CLOCK_REALTIME unless a
 * reader changed it with EVIOCSCLOCKID).
 */
import { closeSync, constants as fsc, openSync, readdirSync, readSync } from 'node:fs';
import path from 'node:path';
import { GlasspaneError } from '../src/errors.js';

/** Bytes of a struct input_event on 64-bit Linux. */
export const INPUT_EVENT_SIZE = 24;
/** Event types and codes from linux/input-event-codes.h that the echo scene uses. */
export const EV_SYN = 0;
/** See EV_SYN: keys and buttons (value 0 up, 1 down, 2 autorepeat). */
export const EV_KEY = 1;
/** See EV_SYN: relative axes. */
export const EV_REL = 2;
/** See EV_SYN: absolute axes (counted, not drawn). */
export const EV_ABS = 3;
/** See EV_SYN: relative motion along x. */
export const REL_X = 0;
/** See EV_SYN: relative motion along y. */
export const REL_Y = 1;
/** KEY_CNT: key and button codes are below this. */
export const KEY_CNT = 0x300;

/** One decoded input_event: the kernel's values as they came (type, code and value unchecked). */
export interface InputEvent {
  /** Event time in microseconds on the device's clock (tv_sec * 1e6 + tv_usec). */
  timeUs: bigint;
  type: number;
  code: number;
  value: number;
}

/** Parses whole input_event structs from `buf` (a trailing partial one is left for the caller). */
export function parseInputEvents(buf: Buffer, length = buf.length): InputEvent[] {
  const out: InputEvent[] = [];
  for (let o = 0; o + INPUT_EVENT_SIZE <= length; o += INPUT_EVENT_SIZE) {
    out.push({
      timeUs: buf.readBigInt64LE(o) * 1_000_000n + buf.readBigInt64LE(o + 8),
      type: buf.readUInt16LE(o + 16),
      code: buf.readUInt16LE(o + 18),
      value: buf.readInt32LE(o + 20),
    });
  }
  return out;
}

/** The event device nodes in `dir` (default /dev/input), event0 first. */
export function listEventDevices(dir = '/dev/input'): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (err) {
    throw new GlasspaneError('ERR_EVDEV', `cannot list ${dir}: ${(err as Error).message}`, 'mount devtmpfs on /dev and load evdev (modprobe evdev)', { cause: err });
  }
  return names
    .filter((n) => /^event\d+$/.test(n))
    .sort((a, b) => Number(a.slice(5)) - Number(b.slice(5)))
    .map((n) => path.join(dir, n));
}

interface Device {
  path: string;
  fd: number;
  /** Bytes of a partial event carried over to the next read (never happens with evdev, can with a pipe). */
  rest: Buffer;
}

/**
 * Non-blocking readers of event devices (see the module comment). Synchronous and single
 * threaded; owns the file descriptors until close(). Throws GlasspaneError ERR_EVDEV from the
 * constructor (no paths, a device that cannot be opened) and from poll() (a read error other than
 * EAGAIN, e.g. the device went away).
 */
export class EvdevReader {
  private readonly devices: Device[] = [];
  private readonly buf = Buffer.alloc(INPUT_EVENT_SIZE * 64);

  /** Opens every path (read-only, non-blocking); throws naming the first that cannot be opened. */
  constructor(paths: string[]) {
    if (!paths.length) throw new GlasspaneError('ERR_EVDEV', 'no input event devices to read', 'load evdev (modprobe evdev) so /dev/input/event* exist, or pass --evdev PATH');
    try {
      for (const p of paths) this.devices.push({ path: p, fd: openSync(p, fsc.O_RDONLY | fsc.O_NONBLOCK), rest: Buffer.alloc(0) });
    } catch (err) {
      this.close();
      const e = err as NodeJS.ErrnoException;
      throw new GlasspaneError('ERR_EVDEV', `cannot open ${e.path ?? paths.join(', ')}: ${e.message}`, 'run as root (or a member of group input) inside the guest', { cause: err });
    }
  }

  /** The device paths being read, in the order given. */
  get paths(): string[] {
    return this.devices.map((d) => d.path);
  }

  /** Every event queued now, per device in device order, each device's events in kernel order. */
  poll(): InputEvent[] {
    const out: InputEvent[] = [];
    for (const d of this.devices) {
      for (;;) {
        let n: number;
        try {
          n = readSync(d.fd, this.buf, 0, this.buf.length, null);
        } catch (err) {
          const code = (err as NodeJS.ErrnoException).code;
          if (code === 'EAGAIN' || code === 'EWOULDBLOCK') break;
          throw new GlasspaneError('ERR_EVDEV', `reading ${d.path} failed: ${(err as Error).message}`, 'the device went away; restart the stub', { cause: err });
        }
        if (n <= 0) break; // a pipe with no writer
        let chunk = this.buf.subarray(0, n);
        if (d.rest.length) chunk = Buffer.concat([d.rest, chunk]);
        const whole = chunk.length - (chunk.length % INPUT_EVENT_SIZE);
        for (const e of parseInputEvents(chunk, whole)) out.push(e);
        d.rest = Buffer.from(chunk.subarray(whole));
        if (n < this.buf.length) break;
      }
    }
    return out;
  }

  /** Closes every device; safe to call twice. */
  close(): void {
    for (const d of this.devices.splice(0)) {
      try {
        closeSync(d.fd);
      } catch {
        /* already closed */
      }
    }
  }
}
