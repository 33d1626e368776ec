/**
 * Checks a received frame against the test scene, row by row with native compares (no per-pixel
 * JS), and extracts the producer's serial and post timestamp for latency measurements.
 */
import { BarsScene, HEADER_TEXELS, SCENE_MAGIC, bandOf, rowTag } from './bars.js';

/** What SceneVerifier.verify() found: ok, or the first mismatch; plus the markers it could read. */
export interface VerifyResult {
  ok: boolean;
  /** What was wrong (first mismatch), when !ok. */
  error?: string;
  serial?: number;
  /** The producer's post time, CLOCK_MONOTONIC ns. */
  postedNs?: bigint;
}

/**
 * Checks frames against the bars scene. Keeps the last scene it built and builds a new one when
 * the size or pixel format changes, so a stream of same-sized frames costs no allocation. `data`
 * is read only during verify(); nothing is kept.
 */
export class SceneVerifier {
  private scene: BarsScene | null = null;

  /**
   * `data` holds `rows` rows of `pitch` bytes (rows < height when the producer truncated).
   * `frameSerial` is the KVMFRFrame serial the scene must carry.
   */
  verify(data: Buffer, width: number, height: number, rows: number, pitch: number, frameType: number, frameSerial: number): VerifyResult {
    if (width < 8) return { ok: false, error: `frame width ${width} is narrower than any test scene` };
    if (!this.scene || this.scene.width !== width || this.scene.height !== height || this.scene.frameType !== frameType) {
      this.scene = new BarsScene(width, height, frameType);
    }
    const s = this.scene;
    if (data.readUInt32LE(0) !== SCENE_MAGIC) return { ok: false, error: `row 0 does not start with the scene marker (found 0x${data.readUInt32LE(0).toString(16)})` };
    const serial = data.readUInt32LE(4);
    const postedNs = data.readBigUInt64LE(8);
    if (serial !== frameSerial >>> 0) return { ok: false, serial, postedNs, error: `the pixels carry serial ${serial} but the frame header says ${frameSerial}` };
    if (data.readUInt32LE(16) !== width || data.readUInt32LE(20) !== height) return { ok: false, serial, postedNs, error: 'the scene size markers do not match the frame size' };
    const start = s.rowStart(serial);
    const rowBytes = s.rowBytes;
    for (let y = 0; y < rows; y++) {
      const row = y * pitch;
      const band = s.periodic[bandOf(y, height)];
      const skip = y === 0 ? HEADER_TEXELS * 4 : 4;
      if (y > 0 && data.readUInt32LE(row) !== rowTag(y, serial)) return { ok: false, serial, postedNs, error: `row ${y} carries the tag of another row or frame` };
      if (band.compare(data, row + skip, row + rowBytes, start + skip, start + rowBytes) !== 0) {
        return { ok: false, serial, postedNs, error: `row ${y} pixels differ from the scene for serial ${serial}` };
      }
    }
    return { ok: true, serial, postedNs };
  }
}
