/**
 * Checks a received frame against the test scene, row by row with native compares (no per-pixel
 * JS), and extracts the producer's serial and post timestamp for latency measurements.
 */
import { BarsScene, HEADER_TEXELS, SCENE_MAGIC, bandOf, rowTag } from './bars.js';

/**
 * SceneVerifier's verdict on one frame, with the serial and post time read from its pixels when
 * they could be read.
 */
export interface VerifyResult {
  ok: boolean;
  /** What was wrong (first mismatch), when !ok. */
  error?: string;
  serial?: number;
  /** The producer's post time, CLOCK_MONOTONIC ns. */
  postedNs?: bigint;
}

/**
 * Checks received frames against the bars scene (see the module comment); keeps the expected rows
 * of the last frame size and type. Single-threaded. The frame's bytes are the consumer's copy and
 * may hold anything: a frame that does not match returns an error, never throws, as long as `data`
 * holds `rows` rows of `pitch` bytes (pitch ≥ width × 4) as the relay's frames do.
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
