/**
 * Test scenes: deterministic functions of (frameSerial, x, y), so a consumer can verify every
 * pixel it receives. guest-stub draws them and glasspane's verifier (./verify.ts) checks them, so
 * they live here, below both, not in the producer. Rendering and checking work a row at a time with native copies (no per-pixel
 * JS on the frame path): every scene row is a window into a precomputed periodic row, plus a few
 * marker texels.
 *
 * Layout of the "bars" scene (W x H texels, 4 bytes each, BGRA or RGBA byte order):
 *   row 0, texels 0..5: raw u32 markers: SCENE_MAGIC, frameSerial, post timestamp (ns, low/high
 *                       u32, this host's CLOCK_MONOTONIC), width, height
 *   every row y >= 1, texel 0: rowTag(y, serial) — catches rows copied to the wrong place
 *   all other texels: eight colour bars, shifted right by 4*serial texels (moving); the bottom
 *                     quarter shows the complementary colours.
 */
import { FrameType } from '../kvmfr/layout.js';

/** Row 0, texel 0 of every scene frame: "GPSB" as a little-endian u32. */
export const SCENE_MAGIC = 0x42535047; // "GPSB"
/** Texels of row 0 the scene header occupies (magic, serial, timestamp low/high, width, height). */
export const HEADER_TEXELS = 6;
/** The narrowest frame a scene fits in, in texels: one per bar (the 6-texel header fits too). */
export const MIN_SCENE_WIDTH = 8;
/**
 * bars: the verifiable test scene; input: bars with the viewer's input drawn over them;
 * input-echo: bars with what the guest's /dev/input/event* devices reported (guest-stub/evdev-echo.ts).
 */
export const SCENE_NAMES = ['bars', 'input', 'input-echo'] as const;
/** One of SCENE_NAMES. */
export type SceneName = (typeof SCENE_NAMES)[number];

/** The eight bars, RGB. */
export const BAR_COLOURS: ReadonlyArray<readonly [number, number, number]> = [
  [235, 235, 235],
  [235, 235, 16],
  [16, 235, 235],
  [16, 235, 16],
  [235, 16, 235],
  [235, 16, 16],
  [16, 16, 235],
  [16, 16, 16],
];

/** Texel 0 of row `y` (≥ 1) in frame `serial`: a hash that differs between rows and between frames. */
export const rowTag = (y: number, serial: number): number => (Math.imul(y, 0x9e3779b1) ^ serial ^ 0x5a5a0000) >>> 0;

/** Bars move this many texels per frame. */
export const BAR_SPEED = 4;

/** Which band row y is in: 0 = the bars, 1 = the complementary bottom quarter. */
export const bandOf = (y: number, height: number): 0 | 1 => (y >= height - Math.floor(height / 4) ? 1 : 0);

/** The RGB colour the scene has at (x, y) for `serial` (ignores the marker texels). */
export function sceneColour(serial: number, x: number, y: number, width: number, height: number): [number, number, number] {
  const shift = (serial * BAR_SPEED) % width;
  const src = (x - shift + width) % width;
  const [r, g, b] = BAR_COLOURS[Math.floor((src * 8) / width)]!;
  return bandOf(y, height) ? [255 - r, 255 - g, 255 - b] : [r, g, b];
}

/** Cursor path: a circle around the frame centre, one step per frame. */
export function cursorPosition(serial: number, width: number, height: number): { x: number; y: number } {
  const a = serial * 0.05;
  const r = Math.min(width, height) / 3;
  return { x: Math.round(width / 2 + r * Math.cos(a)), y: Math.round(height / 2 + r * Math.sin(a)) };
}

/**
 * Per-(width, format) precomputed rows. `periodic[band]` holds 2W texels of bars so that the row
 * for any shift s is the window [W - s, 2W - s).
 */
export class BarsScene {
  readonly periodic: [Buffer, Buffer];
  readonly rowBytes: number;

  constructor(
    readonly width: number,
    readonly height: number,
    readonly frameType: number,
  ) {
    if (width < MIN_SCENE_WIDTH) throw new RangeError(`the test scene needs a width of at least ${MIN_SCENE_WIDTH} (got ${width})`);
    if (frameType !== FrameType.BGRA && frameType !== FrameType.RGBA) throw new RangeError('the test scene renders BGRA or RGBA');
    this.rowBytes = width * 4;
    const bgra = frameType === FrameType.BGRA;
    const make = (band: 0 | 1) => {
      const row = Buffer.alloc(this.rowBytes * 2);
      for (let x = 0; x < width; x++) {
        let [r, g, b] = BAR_COLOURS[Math.floor((x * 8) / width)]!;
        if (band) [r, g, b] = [255 - r, 255 - g, 255 - b];
        for (const at of [x, x + width]) {
          const o = at * 4;
          row[o] = bgra ? b : r;
          row[o + 1] = g;
          row[o + 2] = bgra ? r : b;
          row[o + 3] = 255;
        }
      }
      return row;
    };
    this.periodic = [make(0), make(1)];
  }

  /** Byte offset into `periodic[band]` where the row for `serial` starts. */
  rowStart(serial: number): number {
    const shift = (serial * BAR_SPEED) % this.width;
    return (this.width - shift) * 4;
  }

  /**
   * Renders the scene for `serial` into `out` (pitch bytes per row, `rows` rows) and returns it.
   * The timestamp texels are left for stampTimestamp() right before the frame is posted.
   */
  render(out: Buffer, pitch: number, rows: number, serial: number): void {
    const start = this.rowStart(serial);
    const split = Math.min(rows, this.height - Math.floor(this.height / 4));
    for (const [band, from, to] of [
      [0, 0, split],
      [1, split, rows],
    ] as const) {
      if (to <= from) continue;
      // First row of the band from the periodic row, then double the filled part each step.
      this.periodic[band].copy(out, from * pitch, start, start + this.rowBytes);
      let filled = 1;
      while (filled < to - from) {
        const n = Math.min(filled, to - from - filled);
        out.copyWithin((from + filled) * pitch, from * pitch, (from + n) * pitch);
        filled += n;
      }
    }
    for (let y = 1; y < rows; y++) out.writeUInt32LE(rowTag(y, serial), y * pitch);
    out.writeUInt32LE(SCENE_MAGIC, 0);
    out.writeUInt32LE(serial >>> 0, 4);
    out.writeUInt32LE(this.width, 16);
    out.writeUInt32LE(this.height, 20);
  }
}

/** Writes the post timestamp (CLOCK_MONOTONIC ns) into row 0. */
export function stampTimestamp(out: Buffer, ns: bigint): void {
  out.writeBigUInt64LE(ns, 8);
}
