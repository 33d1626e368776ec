/**
 * The on-screen display: figures and messages drawn with @napi-rs/canvas into a small opaque
 * BGRA panel, once per change (not per frame), which the presenter shows over the frame at the
 * window's resolution (never scaled with the guest), in the UI font and size (Looking Glass's
 * win:uiFont, win:uiSize). Also the help overlay and the full-window message screen.
 */
import { createCanvas } from '@napi-rs/canvas';
import { textPanel, wrapText, type TextPanel } from '../draw/text-panel.js';
import { BGRA } from '../kvmfr/pixels.js';
import { ESCAPE_BINDINGS } from './escape-bindings.js';

/** The font of everything the viewer writes on screen: a family and a size in window pixels. */
export interface UiFont {
  family: string;
  /** px (the CSS font size). */
  size: number;
}

/** glasspane's (and Looking Glass's) default UI font. */
export const DEFAULT_UI_FONT: UiFont = Object.freeze({ family: 'DejaVu Sans Mono', size: 14 });

/** The panel style for a UI font: the line height and widths grow with the size (they were made for 14 px). */
function panelStyle(font: UiFont, width: number, background: string) {
  const k = font.size / 14;
  return { font: `${font.size}px "${font.family}", "DejaVu Sans Mono", monospace`, lineHeight: Math.round(font.size * 1.3), pad: Math.round(8 * k), width: Math.round(width * k), background };
}

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
  /** The mouse sensitivity level as written ("+3", "0", "-2"). */
  mouseSens?: string;
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

  constructor(private readonly font: UiFont = DEFAULT_UI_FONT) {}

  /** The OSD panel for these figures; the same object while nothing visible changed. */
  render(f: OsdFigures): Panel {
    const lines = osdLines(f);
    const key = lines.map((l) => l[0]).join('\n');
    if (key === this.key && this.panel) return this.panel;
    this.key = key;
    this.panel = textPanel(lines, { ...panelStyle(this.font, 420, '#101018'), wrap: true }, BGRA);
    return this.panel;
  }
}

/** The OSD's rows for these figures: [text, colour], as Osd.render() draws them. */
export function osdLines(f: OsdFigures): Array<[string, string]> {
  return [
    [`FPS ${f.fps.toFixed(0).padStart(4)}   UPS ${f.ups.toFixed(0).padStart(4)}`, '#ffffff'],
    [`latency ${f.latencyMs === null ? '   -' : f.latencyMs.toFixed(2)} ms${f.skipped ? ` · skipped ${f.skipped}` : ''}`, '#ffffff'],
    [`${f.resolution} ${f.format}`, '#c0c0c0'],
    [`${f.capture ? 'CAPTURE' : 'no capture'} · input: ${f.input}${f.mouseSens === undefined ? '' : ` · mouse sensitivity ${f.mouseSens}`}`, f.capture ? '#ffd060' : '#c0c0c0'],
    ...(f.audio ? [[f.audio, f.audio.includes('MIC LIVE') ? '#ff6060' : '#c0c0c0'] as [string, string]] : []),
    // Whole messages, wrapped to the panel (a cut "…cannot c" hid the cause and the fix).
    ...f.messages.slice(-3).map((m): [string, string] => [m.length > 400 ? `${m.slice(0, 399)}…` : m, '#ff8080']),
  ];
}

/**
 * The help overlay shown while the escape key is held: the tap, then every combination of
 * escape-bindings.ts (F1–F12 in one row), those without a feature behind them in grey.
 */
export function helpPanel(escapeName: string, font: UiFont = DEFAULT_UI_FONT, maxWidth = 900): Panel {
  // As wide as its longest row, up to the window.
  return textPanel(helpLines(escapeName), { ...panelStyle(font, 380, '#202040'), pad: Math.round(font.size * 0.7), fit: true, maxWidth: Math.max(120, maxWidth) }, BGRA);
}

/** The help's rows: [text, colour] (see helpPanel). */
export function helpLines(escapeName: string): Array<[string, string]> {
  const fKeys = ESCAPE_BINDINGS.filter((b) => b.action === 'send-ctrl-alt');
  const label = (k: string) => `${escapeName}+${k}`.padEnd(escapeName.length + 10);
  const rows: Array<[string, string]> = [[`${`${escapeName} (tap)`.padEnd(escapeName.length + 10)}capture on/off`, '#ffd060']];
  for (const b of ESCAPE_BINDINGS) {
    if (b.action === 'send-ctrl-alt') {
      if (b === fKeys[0]) rows.push([`${label('F1..F12')}send Ctrl+Alt+F1..F12`, '#ffffff']);
      continue;
    }
    rows.push([`${label(b.label)}${b.help}`, b.action === 'unavailable' ? '#9090a0' : '#ffffff']);
  }
  return rows;
}

/**
 * A full-window RGBA image with a centred message (before the first frame, or a refused format).
 * Lines wrap to the window with a margin; the first message is white, the rest grey.
 */
export function messageScreen(lines: string[], width: number, height: number, font: UiFont = { family: 'DejaVu Sans', size: 18 }): Buffer {
  const canvas = createCanvas(width, height);
  const ctx = canvas.getContext('2d');
  ctx.fillStyle = '#000000';
  ctx.fillRect(0, 0, width, height);
  ctx.font = `${font.size}px "${font.family}", "DejaVu Sans", sans-serif`;
  ctx.textAlign = 'center';
  ctx.textBaseline = 'middle';
  const margin = Math.min(32, Math.floor(width / 10));
  const rows = lines.flatMap((line, i) => wrapText(ctx, line, Math.max(1, width - 2 * margin)).map((text) => ({ text, first: i === 0 })));
  for (const [i, row] of rows.entries()) {
    ctx.fillStyle = row.first ? '#ffffff' : '#b0b0b0';
    ctx.fillText(row.text, width / 2, height / 2 + (i - (rows.length - 1) / 2) * Math.round(font.size * 1.55));
  }
  return Buffer.from(ctx.getImageData(0, 0, width, height).data.buffer);
}
