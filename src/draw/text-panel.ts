/**
 * Small opaque text panels drawn with @napi-rs/canvas (the viewer's OSD and help, guest-stub's
 * input overlay), returned in a frame's pixel layout so that putting one on a frame is a row copy.
 * Text never runs past the panel: with `wrap` long lines break at spaces (or anywhere, for a
 * word wider than the panel), with `fit` the panel grows to its longest line (up to `maxWidth`).
 */
import { createCanvas, type SKRSContext2D } from '@napi-rs/canvas';
import { convertRgba, type PixelLayout } from '../kvmfr/pixels.js';

/**
 * A drawn panel: `width` × `height` pixels (tightly packed, no row padding) in the pixel layout the
 * caller asked for. The caller owns `pixels`; nothing else keeps it.
 */
export interface TextPanel {
  width: number;
  height: number;
  /** width * bytesPerPixel bytes per row, in the layout asked for. */
  pixels: Buffer;
}

/** How textPanel() lays out its lines; sizes in pixels, colours as CSS colour strings. */
export interface TextPanelStyle {
  /** Panel width, px (the minimum with `fit`). */
  width: number;
  background: string;
  /** Padding around the text, px. */
  pad?: number;
  lineHeight?: number;
  font?: string;
  /** Break lines wider than the panel (continuation lines keep the line's colour). */
  wrap?: boolean;
  /** Widen the panel to the longest line, up to maxWidth (then wrap). */
  fit?: boolean;
  maxWidth?: number;
}

/** The panel font when the style names none: 14 px DejaVu Sans Mono (any monospace when it is missing). */
export const DEFAULT_PANEL_FONT = '14px "DejaVu Sans Mono", monospace';

/** Breaks `text` into lines no wider than `maxWidth` as measured by `ctx` (at spaces when it can). */
export function wrapText(ctx: Pick<SKRSContext2D, 'measureText'>, text: string, maxWidth: number): string[] {
  const fits = (s: string) => ctx.measureText(s).width <= maxWidth;
  if (fits(text)) return [text];
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/(?<= )/)) {
    if (fits((line + word).trimEnd())) {
      line += word;
      continue;
    }
    if (line) lines.push(line.trimEnd());
    line = '';
    // A word wider than the panel: break it where it must.
    let rest = word;
    while (!fits(rest.trimEnd())) {
      let n = rest.length - 1;
      while (n > 1 && !fits(rest.slice(0, n))) n--;
      lines.push(rest.slice(0, n));
      rest = rest.slice(n);
    }
    line = rest;
  }
  if (line.trim()) lines.push(line.trimEnd());
  return lines;
}

/** Draws `lines` ([text, colour]) one under the other on a solid background. */
export function textPanel(lines: ReadonlyArray<readonly [string, string]>, style: TextPanelStyle, layout: PixelLayout): TextPanel {
  const pad = style.pad ?? 8;
  const lineHeight = style.lineHeight ?? 18;
  const font = style.font ?? DEFAULT_PANEL_FONT;
  const measure = createCanvas(1, 1).getContext('2d');
  measure.font = font;
  let width = style.width;
  if (style.fit) {
    const longest = Math.max(0, ...lines.map(([t]) => Math.ceil(measure.measureText(t).width)));
    width = Math.min(Math.max(width, longest + 2 * pad), style.maxWidth ?? Infinity);
  }
  const rows = style.wrap || style.fit ? lines.flatMap(([t, c]) => wrapText(measure, t, width - 2 * pad).map((w): [string, string] => [w, c])) : lines;
  const height = rows.length * lineHeight + 2 * pad - 4;
  const canvas = createCanvas(width, height);
  const ctx = canvas.getContext('2d');
  ctx.fillStyle = style.background;
  ctx.fillRect(0, 0, width, height);
  ctx.font = font;
  ctx.textBaseline = 'top';
  for (const [i, [text, colour]] of rows.entries()) {
    ctx.fillStyle = colour;
    ctx.fillText(text, pad, pad - 2 + i * lineHeight);
  }
  return { width, height, pixels: convertRgba(ctx.getImageData(0, 0, width, height).data, width * height, layout) };
}
