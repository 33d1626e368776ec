/** Frame pixel formats (KVMFR FrameType) and their memory shape. */
import { FrameType, type FrameTypeName } from './layout.js';

/**
 * A KVMFR pixel format: its FrameType number, its name, and how many bytes one texel of the
 * packed data takes (`dataWidth` counts texels; see geometry.ts for pixels).
 */
export interface FormatInfo {
  type: number;
  name: FrameTypeName;
  /** Bytes per texel of the packed data (dataWidth counts texels). */
  texelBytes: number;
}

const FORMATS: Record<number, FormatInfo> = {
  [FrameType.BGRA]: { type: FrameType.BGRA, name: 'BGRA', texelBytes: 4 },
  [FrameType.RGBA]: { type: FrameType.RGBA, name: 'RGBA', texelBytes: 4 },
  [FrameType.RGBA10]: { type: FrameType.RGBA10, name: 'RGBA10', texelBytes: 4 },
  [FrameType.RGBA16F]: { type: FrameType.RGBA16F, name: 'RGBA16F', texelBytes: 8 },
  // 24-bit pixels packed into 32-bit texels: dataWidth = frameWidth * 3 / 4.
  [FrameType.BGR_32]: { type: FrameType.BGR_32, name: 'BGR_32', texelBytes: 4 },
  [FrameType.RGB_24]: { type: FrameType.RGB_24, name: 'RGB_24', texelBytes: 3 },
};

/** The format for a FrameType value read from the region, or undefined when it is invalid. */
export function formatOf(type: number): FormatInfo | undefined {
  return FORMATS[type];
}

/**
 * The format named `name` (case-insensitive: 'bgra', 'RGB_24', …), or undefined for an unknown name
 * (the caller reports it).
 */
export function formatByName(name: string): FormatInfo | undefined {
  return Object.values(FORMATS).find((f) => f.name.toLowerCase() === name.toLowerCase());
}
