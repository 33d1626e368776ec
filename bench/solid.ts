/**
 * The glass-to-glass stream: every frame one solid colour that names its serial, so a probe
 * reading one pixel of the screen knows which frame it sees. The colour is the serial + 1 times an
 * odd constant, modulo 2^24: distinct for 2^24 frames, and consecutive frames differ in every
 * channel. Drawn by bench/producer.js (`--scene solid`), matched by bench/window.js.
 */

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
    buf.subarray(0, stride * rows).fill(bgra);
    this.lastSerial = serial;
  }
}
