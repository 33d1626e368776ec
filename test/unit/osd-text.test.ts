/**
 * OSD text on real canvas output: long OSD messages wrap instead of being cut, the help panel is
 * as wide as its longest row, and the waiting screen wraps a long message inside the window.
 * "Fits" is checked on the pixels: the panel's right padding holds nothing but background.
 */
import { describe, expect, it } from 'vitest';
import { Osd, helpLines, helpPanel, messageScreen, osdLines, type OsdFigures } from '../../src/viewer/osd.js';
import { ESCAPE_BINDINGS } from '../../src/viewer/escape-bindings.js';
import { textPanel, wrapText } from '../../src/draw/text-panel.js';
import { BGRA } from '../../src/kvmfr/pixels.js';
import { createCanvas } from '@napi-rs/canvas';

/** Columns [x0, x1) of a BGRA panel hold only the pixel (b, g, r). */
function onlyBackground(p: { width: number; height: number; pixels: Buffer }, x0: number, x1: number, bgr: [number, number, number]): boolean {
  for (let y = 0; y < p.height; y++) {
    for (let x = x0; x < x1; x++) {
      const o = (y * p.width + x) * 4;
      if (p.pixels[o] !== bgr[0] || p.pixels[o + 1] !== bgr[1] || p.pixels[o + 2] !== bgr[2]) return false;
    }
  }
  return true;
}

const figures = (messages: string[]): OsdFigures => ({ fps: 60, ups: 60, latencyMs: 1.25, resolution: '1920x1080', format: 'BGRA', capture: false, input: 'spice 127.0.0.1:5900', messages });
const SPICE_PROBLEM = 'SPICE: retrying in 2 s: cannot connect to the SPICE server at 127.0.0.1:5900: ECONNREFUSED — start the VM with -spice port=5900, or check --spice';

describe('OSD text', () => {
  it('wraps a long message over several rows instead of cutting it, all inside the panel', () => {
    const short = new Osd().render(figures(['input to the guest off']));
    const long = new Osd().render(figures([SPICE_PROBLEM]));
    expect(long.width).toBe(short.width);
    expect(long.height).toBeGreaterThanOrEqual(short.height + 2 * 18); // at least two more rows
    expect(onlyBackground(long, long.width - 6, long.width, [0x18, 0x10, 0x10])).toBe(true);
  });

  it('the help panel is as wide as its longest row', () => {
    for (const key of ['ScrollLock', 'ControlRight', 'MediaPlayPause']) {
      const p = helpPanel(key);
      const ctx = createCanvas(1, 1).getContext('2d');
      ctx.font = '14px "DejaVu Sans Mono", monospace';
      const longest = Math.ceil(ctx.measureText(`${key}+I       input to the guest on/off`).width);
      expect(p.width, key).toBeGreaterThanOrEqual(longest + 20);
      expect(onlyBackground(p, p.width - 8, p.width, [0x40, 0x20, 0x20]), key).toBe(true);
    }
  });

  it('the help lists every Looking Glass B7 binding and glasspane\'s own, by the escape key\'s name', () => {
    const text = helpLines('ScrollLock').map(([t]) => t).join('\n');
    for (const b of ESCAPE_BINDINGS) {
      const label = b.action === 'send-ctrl-alt' ? 'F1..F12' : b.label;
      expect(text, b.label).toMatch(new RegExp(`^ScrollLock\\+${label.replace(/\./g, '\\.')} +${b.action === 'send-ctrl-alt' ? 'send Ctrl\\+Alt\\+F1\\.\\.F12' : b.help.replace(/[()+.]/g, '\\$&')}$`, 'm'));
    }
    for (const k of ['F1..F12', 'Insert', 'Delete', 'Up', 'Down', 'M', 'LWin', 'RWin', 'V', 'R', 'O', 'E', 'C', 'F', 'D', 'I', 'S', 'Q']) expect(text).toContain(`ScrollLock+${k} `);
    expect(helpLines('ScrollLock')[0]![0]).toMatch(/^ScrollLock \(tap\) +capture on\/off$/);
  });

  it('the OSD shows the mouse sensitivity on the capture line', () => {
    expect(osdLines({ ...figures([]), capture: true, mouseSens: '+3' })[3]![0]).toBe('CAPTURE · input: spice 127.0.0.1:5900 · mouse sensitivity +3');
    expect(osdLines(figures([]))[3]![0]).toBe('no capture · input: spice 127.0.0.1:5900');
  });

  it('the waiting screen wraps a long message inside the window', () => {
    const W = 480;
    const H = 270;
    const img = messageScreen(['waiting for the guest…', SPICE_PROBLEM], W, H);
    // RGBA; the outer 16 columns on each side stay black.
    const black = (x0: number, x1: number) => {
      for (let y = 0; y < H; y++) for (let x = x0; x < x1; x++) if (img[(y * W + x) * 4] !== 0 || img[(y * W + x) * 4 + 1] !== 0 || img[(y * W + x) * 4 + 2] !== 0) return false;
      return true;
    };
    expect(black(0, 16)).toBe(true);
    expect(black(W - 16, W)).toBe(true);
    expect(img.length).toBe(W * H * 4);
  });

  it('wrapText breaks at spaces, and inside a word only when the word alone is too wide', () => {
    const ctx = createCanvas(1, 1).getContext('2d');
    ctx.font = '14px "DejaVu Sans Mono", monospace';
    const cw = ctx.measureText('x').width;
    expect(wrapText(ctx, 'aaa bbb ccc', cw * 7.5)).toEqual(['aaa bbb', 'ccc']);
    expect(wrapText(ctx, 'abcdefghij', cw * 4.5)).toEqual(['abcd', 'efgh', 'ij']);
    expect(wrapText(ctx, 'fits', cw * 10)).toEqual(['fits']);
  });

  it('a plain textPanel keeps its size (the stub overlay does not change)', () => {
    const p = textPanel([['hello', '#ffffff']], { width: 100, background: '#000000' }, BGRA);
    expect([p.width, p.height]).toEqual([100, 18 + 16 - 4]);
  });
});
