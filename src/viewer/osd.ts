/**
 * The on-screen display: figures and messages drawn with @napi-rs/canvas into a small opaque
 * BGRA panel, once per change (not per frame), which the presenter shows as an overlay over the
 * frame. Also the help overlay and the full-window message screen shown before any frame.
 */
import { createCanvas } from '@napi-rs/canvas';
import { textPanel, wrapText, type TextPanel } from '../draw/text-panel.js';
import { BGRA } from '../kvmfr/pixels.js';

/** An opaque panel of text: width * 4 bytes per row, BGRA, alpha 255. */
export type Panel = TextPanel;

/**
 * What the OSD panel shows. Messages are the last three given, each cut at 400 characters and
 * wrapped to the panel.
 */
export interface OsdFigures {
  /** Renders per second (frames presented, including cursor-only redraws). */
  fps: number;
  /** Guest frames per second. */
  ups: number;
  /** Frame copied out of the region → presented, ms (median of the last second). */
  latencyMs: number | null;
  /** Guest frames consumed but not presented (a newer one came first), since the start. */
  skipped?: number;
  resolution: string;
  format: string;
  capture: boolean;
  input: string;
  /** Guest audio, e.g. "audio 48 kHz · 21 ms · 0 underruns · MIC LIVE"; no line when absent. */
  audio?: string;
  messages: string[];
}

/**
 * Draws the OSD panel; keeps the last one and its text so an unchanged OSD costs nothing. The
 * returned panel is the Osd's: it stays valid (and unchanged) until a render with other text.
 */
export class Osd {
  private key = '';
  private panel: Panel | null = null;

  /** The OSD panel for these figures; the same object while nothing visible changed. */
  render(f: OsdFigures): Panel {
    const lines: Array<[string, string]> = [
      [`FPS ${f.fps.toFixed(0).padStart(4)}   UPS ${f.ups.toFixed(0).padStart(4)}`, '#ffffff'],
      [`latency ${f.latencyMs === null ? '   -' : f.latencyMs.toFixed(2)} ms${f.skipped ? ` · skipped ${f.skipped}` : ''}`, '#ffffff'],
      [`${f.resolution} ${f.format}`, '#c0c0c0'],
      [`${f.capture ? 'CAPTURE' : 'no capture'} · input: ${f.input}`, f.capture ? '#ffd060' : '#c0c0c0'],
      ...(f.audio ? [[f.audio, f.audio.includes('MIC LIVE') ? '#ff6060' : '#c0c0c0'] as [string, string]] : []),
      // Whole messages, wrapped to the panel (a cut "…cannot c" hid the cause and the fix).
      ...f.messages.slice(-3).map((m): [string, string] => [m.length > 400 ? `${m.slice(0, 399)}…` : m, '#ff8080']),
    ];
    const key = lines.map((l) => l[0]).join('\n');
    if (key === this.key && this.panel) return this.panel;
    this.key = key;
    this.panel = textPanel(lines, { width: 420, background: '#101018', wrap: true }, BGRA);
    return this.panel;
  }
}

/** The help overlay shown while the escape key is held. */
export function helpPanel(escapeName: string): Panel {
  const rows: Array<[string, string]> = [
    [`${escapeName} (tap)   capture on/off`, '#ffd060'],
    [`${escapeName}+F       fullscreen`, '#ffffff'],
    [`${escapeName}+Q       quit`, '#ffffff'],
    [`${escapeName}+D       on-screen display on/off`, '#ffffff'],
    [`${escapeName}+I       input to the guest on/off`, '#ffffff'],
    [`${escapeName}+S       screenshot (PNG)`, '#ffffff'],
  ];
  // As wide as its longest row (a longer escape key name, "input to the guest on/off").
  return textPanel(rows, { width: 380, background: '#202040', pad: 10, fit: true, maxWidth: 900 }, BGRA);
}

/**
 * A full-window RGBA image with a centred message (before the first frame, or a refused format).
 * Lines wrap to the window with a margin; the first message is white, the rest grey.
 */
export function messageScreen(lines: string[], width: number, height: number): Buffer {
  const canvas = createCanvas(width, height);
  const ctx = canvas.getContext('2d');
  ctx.fillStyle = '#000000';
  ctx.fillRect(0, 0, width, height);
  ctx.font = '18px "DejaVu Sans", sans-serif';
  ctx.textAlign = 'center';
  ctx.textBaseline = 'middle';
  const margin = Math.min(32, Math.floor(width / 10));
  const rows = lines.flatMap((line, i) => wrapText(ctx, line, Math.max(1, width - 2 * margin)).map((text) => ({ text, first: i === 0 })));
  for (const [i, row] of rows.entries()) {
    ctx.fillStyle = row.first ? '#ffffff' : '#b0b0b0';
    ctx.fillText(row.text, width / 2, height / 2 + (i - (rows.length - 1) / 2) * 28);
  }
  return Buffer.from(ctx.getImageData(0, 0, width, height).data.buffer);
}
