/**
 * Looking Glass B7's 24-bit frame layouts, which its Windows host sends to save a quarter of the
 * bandwidth, so that the stub can produce them and the viewer be tested against them:
 * - BGR_32 (DXGI/D12 "RGB24" packing): B,G,R bytes back to back, 3 per pixel, carried in a
 *   32-bit texture: dataWidth = stride = texels per row = ceil(frameWidth*3 / 4) rounded up to a
 *   multiple of 64; pitch = dataWidth * 4; frameWidth is the pixel width.
 * - RGB_24 (NvFBC): R,G,B bytes, 3 per pixel; dataWidth = frameWidth; stride in pixels, padded
 *   to a multiple of 256 (stride/4 a multiple of 64, as B7's NvFBC backend does); pitch = stride * 3.
 * Only the first frameWidth*3 bytes of each row are image; the rest is padding.
 */
import { FrameType } from '../src/kvmfr/layout.js';

/**
 * A 24-bit frame's row layout: `dataWidth` and `stride` as KVMFRFrame carries them (texels for
 * BGR_32, pixels for RGB_24), `pitch` in bytes per row.
 */
export interface Layout24 {
  dataWidth: number;
  stride: number;
  pitch: number;
}

const alignUp = (n: number, a: number) => Math.ceil(n / a) * a;

/**
 * The B7 row layout of a `width`-pixel frame of FrameType `type` (BGR_32 or RGB_24; any other
 * throws RangeError).
 */
export function layout24(type: number, width: number): Layout24 {
  if (type === FrameType.BGR_32) {
    const texels = alignUp(Math.ceil((width * 3) / 4), 64);
    return { dataWidth: texels, stride: texels, pitch: texels * 4 };
  }
  if (type === FrameType.RGB_24) {
    const stride = alignUp(width, 256);
    return { dataWidth: width, stride, pitch: stride * 3 };
  }
  throw new RangeError(`frame type ${type} is not a 24-bit type`);
}

/**
 * Packs `rows` rows of 4-byte pixels (the first 3 bytes in the wanted order: BGRA for BGR_32,
 * RGBA for RGB_24) into 3-byte pixels at `dstPitch`. Padding bytes are left as they are.
 */
export function pack24(src: Buffer, srcPitch: number, dst: Buffer, dstPitch: number, width: number, rows: number): void {
  for (let y = 0; y < rows; y++) {
    let s = y * srcPitch;
    let d = y * dstPitch;
    for (let x = 0; x < width; x++, s += 4, d += 3) {
      dst[d] = src[s]!;
      dst[d + 1] = src[s + 1]!;
      dst[d + 2] = src[s + 2]!;
    }
  }
}
