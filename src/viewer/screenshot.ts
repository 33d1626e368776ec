/** A guest frame as a PNG at the guest's size (escape+S, or `view --screenshot FILE`). */
import { createCanvas } from '@napi-rs/canvas';
import type { FrameInfo } from '../kvmfr/frame.js';
import { channelOrder, presentableFormat } from './pixel-format.js';
import { GlasspaneError } from '../errors.js';

/**
 * Encodes the frame's pixels as a PNG of the frame's size (a new buffer). `data` must hold the
 * rows `info.geometry` describes (a frame the relay handed out does). The pixels are read before
 * the first await, so `data` need only stay valid for the synchronous part of the call. Rejects
 * with GlasspaneError ERR_FORMAT for a format the viewer cannot show (RGBA10, RGBA16F).
 */
export async function framePng(info: FrameInfo, data: Buffer): Promise<Buffer> {
  const p = presentableFormat(info);
  if (!p.ok) throw new GlasspaneError('ERR_FORMAT', p.message);
  const { width, height, stride, bytesPerPixel: bpp } = p;
  const { r, g, b } = channelOrder(p.sdlFormat);
  const canvas = createCanvas(width, height);
  const ctx = canvas.getContext('2d');
  const img = ctx.createImageData(width, height);
  const out = img.data;
  for (let y = 0, o = 0; y < height; y++) {
    let s = y * stride;
    for (let x = 0; x < width; x++, s += bpp, o += 4) {
      out[o] = data[s + r]!;
      out[o + 1] = data[s + g]!;
      out[o + 2] = data[s + b]!;
      out[o + 3] = 255;
    }
  }
  ctx.putImageData(img, 0, 0);
  return canvas.encode('png');
}
