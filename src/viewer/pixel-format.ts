/**
 * KVMFR frame formats to SDL texture formats. Formats SDL 2.26 cannot take as they are (RGBA10's
 * bit order has no SDL equivalent; RGBA16F is half-float) are refused with a message rather than
 * shown as garbage.
 */
import type { FrameInfo } from '../kvmfr/frame.js';

export type SdlFormat = 'bgra32' | 'rgba32' | 'bgr24' | 'rgb24';

export type Presentable =
  | { ok: true; sdlFormat: SdlFormat; width: number; height: number; stride: number; bytesPerPixel: 3 | 4 }
  | { ok: false; message: string };

export function presentableFormat(f: FrameInfo): Presentable {
  switch (f.format.name) {
    case 'BGRA':
      return { ok: true, sdlFormat: 'bgra32', width: f.dataWidth, height: f.dataHeight, stride: f.pitch, bytesPerPixel: 4 };
    case 'RGBA':
      return { ok: true, sdlFormat: 'rgba32', width: f.dataWidth, height: f.dataHeight, stride: f.pitch, bytesPerPixel: 4 };
    // 24-bit pixels packed into 32-bit texels: the rows are plain 24-bit pixels, frameWidth wide.
    case 'BGR_32':
      return { ok: true, sdlFormat: 'bgr24', width: f.frameWidth, height: f.dataHeight, stride: f.pitch, bytesPerPixel: 3 };
    case 'RGB_24':
      return { ok: true, sdlFormat: 'rgb24', width: f.frameWidth, height: f.dataHeight, stride: f.pitch, bytesPerPixel: 3 };
    default:
      return {
        ok: false,
        message: `the guest sends ${f.format.name} frames (HDR), which glasspane cannot show yet: turn HDR off in the guest`,
      };
  }
}

/** Byte offsets of R, G and B inside a pixel of `format`. */
export function channelOrder(format: SdlFormat): { r: number; g: number; b: number } {
  return format === 'bgra32' || format === 'bgr24' ? { r: 2, g: 1, b: 0 } : { r: 0, g: 1, b: 2 };
}
