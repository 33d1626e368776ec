/**
 * Small opaque text panels drawn with @napi-rs/canvas (the viewer's OSD and help, guest-stub's
 * input overlay), returned in a frame's pixel layout so that putting one on a frame is a row copy.
 */
import { createCanvas } from '@napi-rs/canvas';
import { convertRgba, type PixelLayout } from './kvmfr/pixels.js';

export interface TextPanel {
  width: number;
  height: number;
  /** width * bytesPerPixel bytes per row, in the layout asked for. */
  pixels: Buffer;
}

export interface TextPanelStyle {
  width: number;
  background: string;
  /** Padding around the text, px. */
  pad?: number;
  lineHeight?: number;
  font?: string;
}

/** Draws `lines` ([text, colour]) one under the other on a solid background. */
export function textPanel(lines: ReadonlyArray<readonly [string, string]>, style: TextPanelStyle, layout: PixelLayout): TextPanel {
  const pad = style.pad ?? 8;
  const lineHeight = style.lineHeight ?? 18;
  const width = style.width;
  const height = lines.length * lineHeight + 2 * pad - 4;
  const canvas = createCanvas(width, height);
  const ctx = canvas.getContext('2d');
  ctx.fillStyle = style.background;
  ctx.fillRect(0, 0, width, height);
  ctx.font = style.font ?? '14px "DejaVu Sans Mono", monospace';
  ctx.textBaseline = 'top';
  for (const [i, [text, colour]] of lines.entries()) {
    ctx.fillStyle = colour;
    ctx.fillText(text, pad, pad - 2 + i * lineHeight);
  }
  return { width, height, pixels: convertRgba(ctx.getImageData(0, 0, width, height).data, width * height, layout) };
}
