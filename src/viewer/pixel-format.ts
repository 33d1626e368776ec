/**
 * KVMFR frame formats to SDL texture formats. Formats SDL 2.26 cannot take as they are (RGBA10's
 * bit order has no SDL equivalent; RGBA16F is half-float) are refused with a message rather than
 * shown as garbage.
 */
import type { FrameInfo } from '../kvmfr/frame.js';

/**
 * The SDL texture formats frames are shown in (byte order of a pixel; the 24-bit ones have 3-byte pixels).
 */
export type SdlFormat = 'bgra32' | 'rgba32' | 'bgr24' | 'rgb24';

/**
 * presentableFormat()'s answer: the SDL format and the frame's pixel geometry (from the validated
 * FrameInfo), or the message to show instead of the frame.
 */
export type Presentable =
  | { ok: true; sdlFormat: SdlFormat; width: number; height: number; stride: number; bytesPerPixel: 3 | 4 }
  | { ok: false; message: string };

/** The SDL texture format for each format SDL 2.26 can show as it is. */
const SDL_FORMATS: Partial<Record<FrameInfo['format']['name'], SdlFormat>> = { BGRA: 'bgra32', RGBA: 'rgba32', BGR_32: 'bgr24', RGB_24: 'rgb24' };

/** How to show `f`: its geometry comes from the validator's pixelGeometry (kvmfr/geometry.ts), never recomputed here. */
export function presentableFormat(f: FrameInfo): Presentable {
  const sdlFormat = SDL_FORMATS[f.format.name];
  const g = f.geometry;
  switch (sdlFormat) {
    case 'bgra32':
    case 'rgba32':
    case 'bgr24':
    case 'rgb24':
      return { ok: true, sdlFormat, width: g.width, height: g.height, stride: g.stride, bytesPerPixel: g.bytesPerPixel === 3 ? 3 : 4 };
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
