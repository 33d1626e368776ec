/**
 * The glass-to-glass stream: every frame carries one solid colour that names its serial, so a
 * probe reading one pixel of the screen knows which frame it sees. The colour is the serial + 1
 * times an odd constant, modulo 2^24: distinct for 2^24 frames, and consecutive frames differ in
 * every channel. Drawn by bench/producer.js (`--scene solid`), matched by bench/window.js.
 *
 * Only a band across the middle (BAND_ROWS rows, where the probe looks) is repainted per frame:
 * filling a whole 1440p frame costs the producer ~3 ms of its own CPU, which at 144 fps on a
 * two-core machine left it unable to post at the rate asked (consumed 80 of 144 fps). The
 * producer still writes the whole frame into the region every time and the viewer uploads and
 * presents the whole frame, as with any other scene.
 */

/** Rows of the band repainted per frame, centred on the middle row (the probe's). */
export const BAND_ROWS = 64;

/** The 0xRRGGBB pixel the X server shows for frame `serial` (a BGRA frame shown 1:1). */
export function solidPixel(serial: number): number {
  return Math.imul((serial + 1) >>> 0, 0x9e3779) & 0xffffff;
}

/** guest-stub's scene interface (frame-painter.ts SceneDrawer): fills the frame with solidPixel(serial). */
export class SolidScene {
  /** The serial of the frame drawn last (the producer posts it next). */
  lastSerial = -1;

  render(buf: Buffer, stride: number, rows: number, serial: number): void {
    const p = solidPixel(serial);
    const bgra = Buffer.from([p & 0xff, (p >> 8) & 0xff, (p >> 16) & 0xff, 0xff]);
    const first = Math.max(0, (rows >> 1) - (BAND_ROWS >> 1));
    buf.subarray(first * stride, Math.min(rows, first + BAND_ROWS) * stride).fill(bgra);
    this.lastSerial = serial;
  }
}
