/**
 * The "input-echo" scene: the bars scene with what the guest's evdev devices reported drawn over
 * it, and the same facts as machine-readable markers so a consumer can match every echo to the
 * input it sent and check every pixel of the frame.
 *
 * Row 0, after the bars header (texels 0..5), raw u32 little-endian:
 *   6       ECHO_MAGIC
 *   7       key events: EV_KEY with value 0 or 1 (presses and releases, mouse buttons included;
 *           autorepeats, value 2, are counted in 17 instead: they depend on guest timing)
 *   8, 9    code and value of the last such key event
 *   10, 11  its kernel timestamp, µs (low, high) on the device clock (CLOCK_REALTIME by default)
 *   12, 13  guest CLOCK_REALTIME, µs (low, high), when the stub read it from the device
 *   14      relative-motion events (EV_REL)
 *   15, 16  pointer x, y: relative motion summed from the frame centre, clamped to the frame
 *   17      autorepeat events
 *   18      all events other than EV_SYN
 *   19..42  keys held: bitmap of KEY_CNT (768) codes, bit c%32 of texel 19 + c/32
 *   43      FNV-1a of the bytes of texels 6..42 (a torn or overwritten marker row fails it)
 * The drawing (panel at (8, 8): a 48x16 grid with one cell per key code, lit while held; the last
 * key event as "code value seconds.micros"; the pointer as "x y"; a white crosshair at the
 * pointer) is a pure function of the markers, so EchoVerifier re-renders the frame from them and
 * compares all of it.
 */
import { BarsScene, HEADER_TEXELS } from '../src/scenes/bars.js';
import { EV_KEY, EV_REL, EV_SYN, KEY_CNT, REL_X, REL_Y, EvdevReader, listEventDevices, type InputEvent } from './evdev-reader.js';
import { FrameType } from '../src/kvmfr/layout.js';

/** Row 0 texel 6 of an input-echo frame: "ECHO". */
export const ECHO_MAGIC = 0x4f484345; // "ECHO"
/** Texel indices of the markers in row 0 (see the module comment). */
export const M = {
  magic: 6,
  keyEvents: 7,
  lastCode: 8,
  lastValue: 9,
  lastTimeUs: 10,
  lastReadUs: 12,
  relEvents: 14,
  x: 15,
  y: 16,
  repeats: 17,
  events: 18,
  held: 19,
  checksum: 43,
} as const;
/** Texels of the held-keys bitmap (KEY_CNT bits). */
export const HELD_TEXELS = KEY_CNT / 32;
/** Texels of row 0 the echo markers occupy, header included (0..43). */
export const ECHO_TEXELS = M.checksum + 1;

const PANEL_X = 8;
const PANEL_Y = 8;
const GRID_COLS = 48;
const CELL = 5; // 4 px lit square + 1 px gap
const FONT_SCALE = 2;
const GLYPH_ADVANCE = 4 * FONT_SCALE;
const LINE = 6 * FONT_SCALE;
const PANEL_W = 4 + GRID_COLS * CELL + 4;
const PANEL_H = 4 + (KEY_CNT / GRID_COLS) * CELL + 4 + 2 * LINE + 4;
/** The smallest frame the panel and markers fit in: its width in pixels… */
export const MIN_ECHO_WIDTH = PANEL_X + PANEL_W;
/** …and its height. */
export const MIN_ECHO_HEIGHT = PANEL_Y + PANEL_H;

/** Guest-side input state, changed only by apply(). */
export interface EchoState {
  keyEvents: number;
  lastCode: number;
  lastValue: number;
  lastTimeUs: bigint;
  lastReadUs: bigint;
  relEvents: number;
  x: number;
  y: number;
  repeats: number;
  events: number;
  held: Uint32Array;
}

/** The state before any event: nothing pressed, counters 0, the pointer at the frame centre. */
export function initialEchoState(width: number, height: number): EchoState {
  return { keyEvents: 0, lastCode: 0, lastValue: 0, lastTimeUs: 0n, lastReadUs: 0n, relEvents: 0, x: width >> 1, y: height >> 1, repeats: 0, events: 0, held: new Uint32Array(HELD_TEXELS) };
}

/** Applies events in order; `readUs` is when they were read (guest clock). Returns true when the pointer moved. */
export function applyEvents(s: EchoState, events: InputEvent[], readUs: bigint, width: number, height: number): boolean {
  const { x, y } = s;
  for (const e of events) {
    if (e.type === EV_SYN) continue;
    s.events = (s.events + 1) >>> 0;
    if (e.type === EV_KEY) {
      if (e.value === 2) {
        s.repeats = (s.repeats + 1) >>> 0;
        continue;
      }
      s.keyEvents = (s.keyEvents + 1) >>> 0;
      s.lastCode = e.code;
      s.lastValue = e.value;
      s.lastTimeUs = e.timeUs;
      s.lastReadUs = readUs;
      if (e.code < KEY_CNT) {
        const bit = 1 << (e.code & 31);
        s.held[e.code >> 5] = e.value ? s.held[e.code >> 5]! | bit : s.held[e.code >> 5]! & ~bit;
      }
    } else if (e.type === EV_REL) {
      s.relEvents = (s.relEvents + 1) >>> 0;
      if (e.code === REL_X) s.x = clamp(s.x + e.value, width);
      else if (e.code === REL_Y) s.y = clamp(s.y + e.value, height);
    }
  }
  return s.x !== x || s.y !== y;
}

const clamp = (v: number, size: number) => Math.min(size - 1, Math.max(0, v));

/** True when key `code` is held in `s` (codes ≥ KEY_CNT never are). */
export function isHeld(s: EchoState, code: number): boolean {
  return code < KEY_CNT && (s.held[code >> 5]! & (1 << (code & 31))) !== 0;
}

/** Writes the markers (texels 6..43 of row 0). */
export function writeEchoMarkers(row0: Buffer, s: EchoState): void {
  const put = (t: number, v: number) => row0.writeUInt32LE(v >>> 0, t * 4);
  const put64 = (t: number, v: bigint) => row0.writeBigUInt64LE(BigInt.asUintN(64, v), t * 4);
  put(M.magic, ECHO_MAGIC);
  put(M.keyEvents, s.keyEvents);
  put(M.lastCode, s.lastCode);
  put(M.lastValue, s.lastValue);
  put64(M.lastTimeUs, s.lastTimeUs);
  put64(M.lastReadUs, s.lastReadUs);
  put(M.relEvents, s.relEvents);
  put(M.x, s.x);
  put(M.y, s.y);
  put(M.repeats, s.repeats);
  put(M.events, s.events);
  for (let i = 0; i < HELD_TEXELS; i++) put(M.held + i, s.held[i]!);
  put(M.checksum, fnv1a(row0, M.magic * 4, M.checksum * 4));
}

/** The state the markers carry, or an error message when they are not echo markers or fail the checksum. */
export function readEchoMarkers(row0: Buffer): EchoState | string {
  if (row0.length < ECHO_TEXELS * 4) return `row 0 is ${row0.length} bytes, too short for the echo markers`;
  const get = (t: number) => row0.readUInt32LE(t * 4);
  if (get(M.magic) !== ECHO_MAGIC) return `texel ${M.magic} of row 0 is 0x${get(M.magic).toString(16)}, not the echo marker (is the scene input-echo?)`;
  const sum = fnv1a(row0, M.magic * 4, M.checksum * 4);
  if (get(M.checksum) !== sum) return `echo marker checksum 0x${get(M.checksum).toString(16)} != 0x${sum.toString(16)} (torn or overwritten marker row)`;
  const held = new Uint32Array(HELD_TEXELS);
  for (let i = 0; i < HELD_TEXELS; i++) held[i] = get(M.held + i);
  return {
    keyEvents: get(M.keyEvents),
    lastCode: get(M.lastCode),
    lastValue: row0.readInt32LE(M.lastValue * 4),
    lastTimeUs: row0.readBigInt64LE(M.lastTimeUs * 4),
    lastReadUs: row0.readBigInt64LE(M.lastReadUs * 4),
    relEvents: get(M.relEvents),
    x: get(M.x),
    y: get(M.y),
    repeats: get(M.repeats),
    events: get(M.events),
    held,
  };
}

function fnv1a(b: Buffer, from: number, to: number): number {
  let h = 0x811c9dc5;
  for (let i = from; i < to; i++) h = Math.imul(h ^ b[i]!, 0x01000193);
  return h >>> 0;
}

/** 3x5 glyphs, one row per entry, bit 2 = left column. */
const GLYPHS: Record<string, number[]> = {
  '0': [7, 5, 5, 5, 7],
  '1': [2, 6, 2, 2, 7],
  '2': [7, 1, 7, 4, 7],
  '3': [7, 1, 3, 1, 7],
  '4': [5, 5, 7, 1, 1],
  '5': [7, 4, 7, 1, 7],
  '6': [7, 4, 7, 5, 7],
  '7': [7, 1, 1, 2, 2],
  '8': [7, 5, 7, 5, 7],
  '9': [7, 5, 7, 1, 7],
  '-': [0, 0, 7, 0, 0],
  '.': [0, 0, 0, 0, 2],
  ' ': [0, 0, 0, 0, 0],
};

/** One texel value as the 4 bytes Buffer.fill repeats. */
function texel(frameType: number, r: number, g: number, b: number): Buffer {
  return Buffer.from(frameType === FrameType.BGRA ? [b, g, r, 255] : [r, g, b, 255]);
}

const WHITE = Buffer.from([255, 255, 255, 255]);

/** Fills a clipped rectangle of `out` (pitch bytes per row, `cols` x `rows` texels). */
function fillRect(out: Buffer, pitch: number, cols: number, rows: number, x0: number, y0: number, w: number, h: number, c: Buffer, minXY = 0): void {
  for (let y = Math.max(minXY, y0); y < Math.min(rows, y0 + h); y++) {
    const from = y * pitch + Math.max(minXY, x0) * 4;
    const to = y * pitch + Math.min(cols, x0 + w) * 4;
    if (to > from) out.fill(c, from, to);
  }
}

/** The panel's pixels for `s` (PANEL_W x PANEL_H texels), cached while what it shows is unchanged. */
export class PanelCache {
  private key = '';
  private pixels = Buffer.alloc(PANEL_W * PANEL_H * 4);
  private type = -1;

  /**
   * The panel for `s` in `frameType`'s byte order; the returned buffer is the cache's own, valid
   * (and unchanged) until a call with different state or type.
   */
  get(frameType: number, s: EchoState): Buffer {
    const us = s.lastTimeUs < 0n ? 0n : s.lastTimeUs;
    const lines = [`${s.lastCode} ${s.lastValue} ${us / 1_000_000n}.${String(us % 1_000_000n).padStart(6, '0')}`.slice(0, 30), `${s.x} ${s.y}`];
    const key = `${Array.from(s.held).join(',')}|${lines.join('|')}`;
    if (key === this.key && frameType === this.type) return this.pixels;
    this.key = key;
    this.type = frameType;
    const px = this.pixels;
    const pitch = PANEL_W * 4;
    const rect = (x: number, y: number, w: number, h: number, c: Buffer) => fillRect(px, pitch, PANEL_W, PANEL_H, x, y, w, h, c);
    const on = texel(frameType, 40, 220, 90);
    const off = texel(frameType, 64, 64, 72);
    const fg = texel(frameType, 240, 240, 240);
    rect(0, 0, PANEL_W, PANEL_H, texel(frameType, 24, 24, 32));
    for (let code = 0; code < KEY_CNT; code++) rect(4 + (code % GRID_COLS) * CELL, 4 + Math.floor(code / GRID_COLS) * CELL, CELL - 1, CELL - 1, isHeld(s, code) ? on : off);
    const ty = 4 + (KEY_CNT / GRID_COLS) * CELL + 4;
    for (const [l, str] of lines.entries()) {
      for (const [i, ch] of [...str].entries()) {
        const g = GLYPHS[ch] ?? GLYPHS[' ']!;
        for (let gy = 0; gy < 5; gy++) {
          for (let gx = 0; gx < 3; gx++) if (g[gy]! & (4 >> gx)) rect(4 + i * GLYPH_ADVANCE + gx * FONT_SCALE, ty + l * LINE + gy * FONT_SCALE, FONT_SCALE, FONT_SCALE, fg);
        }
      }
    }
    return px;
  }
}

/**
 * Draws the echo over an already rendered bars frame (`rows` rows of `pitch` bytes, `width`
 * texels wide) and writes the markers. Pure in effect: the same state gives the same pixels
 * (the cache only saves redrawing an unchanged panel).
 */
export function drawEcho(out: Buffer, pitch: number, rows: number, width: number, frameType: number, s: EchoState, cache = new PanelCache()): void {
  const panel = cache.get(frameType, s);
  const w = Math.min(PANEL_W, width - PANEL_X) * 4;
  for (let y = 0; y < PANEL_H && PANEL_Y + y < rows; y++) panel.copy(out, (PANEL_Y + y) * pitch + PANEL_X * 4, y * PANEL_W * 4, y * PANEL_W * 4 + w);
  // Crosshair at the pointer; never on row 0 (markers) or column 0 (row tags).
  fillRect(out, pitch, width, rows, s.x - 8, s.y, 17, 1, WHITE, 1);
  fillRect(out, pitch, width, rows, s.x, s.y - 8, 1, 17, WHITE, 1);
  writeEchoMarkers(out.subarray(0, ECHO_TEXELS * 4), s);
}

/**
 * EchoVerifier's verdict: `error` null when every pixel matched, else the first difference; the
 * decoded markers, serial and post time when they could be read.
 */
export interface EchoCheck {
  error: string | null;
  state?: EchoState;
  serial?: number;
  postedNs?: bigint;
}

/**
 * Checks a whole input-echo frame: the bars header, the markers and their checksum, and every
 * pixel against a re-render of bars + echo from the markers. A frame copied while it was being
 * overwritten, or with rows in the wrong place, fails.
 */
export class EchoVerifier {
  private scene: BarsScene | null = null;
  private scratch = Buffer.alloc(0);
  private readonly panel = new PanelCache();

  /**
   * Checks one received frame: `data` holds `rows` rows of `pitch` bytes (the consumer's copy; any
   * content, bounded before use: sizes are checked before any read). Never throws for bad pixels.
   */
  verify(data: Buffer, width: number, height: number, rows: number, pitch: number, frameType: number, frameSerial: number): EchoCheck {
    if (width < MIN_ECHO_WIDTH || height < MIN_ECHO_HEIGHT) return { error: `frame ${width}x${height} is smaller than any input-echo frame (${MIN_ECHO_WIDTH}x${MIN_ECHO_HEIGHT})` };
    if (data.length < rows * pitch || pitch < width * 4) return { error: `frame data is ${data.length} bytes, short of ${rows} rows of ${pitch}` };
    if (!this.scene || this.scene.width !== width || this.scene.height !== height || this.scene.frameType !== frameType) this.scene = new BarsScene(width, height, frameType);
    const state = readEchoMarkers(data.subarray(0, ECHO_TEXELS * 4));
    if (typeof state === 'string') return { error: state };
    const serial = data.readUInt32LE(4);
    const postedNs = data.readBigUInt64LE(8);
    if (serial !== frameSerial >>> 0) return { error: `the pixels carry serial ${serial} but the frame header says ${frameSerial}`, state, serial, postedNs };
    const need = rows * pitch;
    if (this.scratch.length !== need) this.scratch = Buffer.alloc(need);
    const exp = this.scratch;
    this.scene.render(exp, pitch, rows, serial);
    drawEcho(exp, pitch, rows, width, frameType, state, this.panel);
    data.copy(exp, 8, 8, 16); // the post timestamp is the only texel not derived from the markers
    const rowBytes = width * 4;
    for (let y = 0; y < rows; y++) {
      const o = y * pitch;
      if (exp.compare(data, o, o + rowBytes, o, o + rowBytes) !== 0) return { error: `row ${y} differs from bars + echo for serial ${serial}`, state, serial, postedNs };
    }
    return { error: null, state, serial, postedNs };
  }
}

/**
 * The producer's side of the scene: owns the device reader and the state. Call draw() on every
 * frame after the bars are rendered; it reads what the devices queued since the last frame.
 */
export class EvdevEchoScene {
  readonly state: EchoState;
  private readonly reader: EvdevReader;
  private readonly panel = new PanelCache();

  /** `devices`: event device paths (default: every /dev/input/event*). */
  constructor(
    readonly width: number,
    readonly height: number,
    readonly frameType: number,
    devices?: string[],
  ) {
    if (width < MIN_ECHO_WIDTH || height < MIN_ECHO_HEIGHT) {
      throw new RangeError(`the input-echo scene needs at least ${MIN_ECHO_WIDTH}x${MIN_ECHO_HEIGHT} (got ${width}x${height})`);
    }
    this.reader = new EvdevReader(devices ?? listEventDevices());
    this.state = initialEchoState(width, height);
  }

  /** The event device paths being read. */
  get devices(): string[] {
    return this.reader.paths;
  }

  /** Reads pending events, draws the echo; true when the pointer moved (the caller posts a cursor update). */
  draw(out: Buffer, pitch: number, rows: number): boolean {
    const events = this.reader.poll();
    const readUs = BigInt(Math.round((performance.timeOrigin + performance.now()) * 1000));
    const moved = events.length ? applyEvents(this.state, events, readUs, this.width, this.height) : false;
    drawEcho(out, pitch, rows, this.width, this.frameType, this.state, this.panel);
    return moved;
  }

  /** Closes the devices; safe to call twice. */
  close(): void {
    this.reader.close();
  }
}
