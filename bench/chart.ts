/**
 * The results chart (PNG, drawn with @napi-rs/canvas): latency histograms of both consumers
 * (notification at 144 fps; pipelined frame latency per size as a multiple of one memcpy), copy
 * efficiency per size and strategy, sustained rates, the idle cost, and the viewer window against
 * the same stream headless (rates and CPU). Targets are dashed lines.
 */
import { createCanvas, type SKRSContext2D } from '@napi-rs/canvas';
import { percentile } from './lib.js';
import type { CopyTrialResult } from './copy.js';
import type { FramesResult } from './frames.js';
import type { BenchJson } from './bench-json.js';

type Consumer = 'relay' | 'poll1ms';

export interface ChartInput {
  title: string;
  result: BenchJson;
  copy: CopyTrialResult[];
  notify: Partial<Record<Consumer, FramesResult>>;
  pipeline: Record<Consumer, FramesResult[]>;
  memcpyMs: (mode: string) => number | null;
}

const FONT = '"DejaVu Sans", "Liberation Sans", Arial, sans-serif';
const COLOURS: Record<Consumer, string> = { relay: '#1f77b4', poll1ms: '#d62728' };
const LABELS: Record<Consumer, string> = { relay: 'glasspane (watcher)', poll1ms: 'B7-style 1 ms poll' };
const TARGET = '#2ca02c';

interface Box {
  x: number;
  y: number;
  w: number;
  h: number;
}

function frame(g: SKRSContext2D, b: Box, title: string): Box {
  g.fillStyle = '#222';
  g.font = `bold 14px ${FONT}`;
  g.textAlign = 'left';
  g.fillText(title, b.x, b.y + 14);
  const plot = { x: b.x + 50, y: b.y + 28, w: b.w - 60, h: b.h - 64 };
  g.strokeStyle = '#888';
  g.lineWidth = 1;
  g.strokeRect(plot.x, plot.y, plot.w, plot.h);
  return plot;
}

function xTicks(g: SKRSContext2D, p: Box, max: number, unit: string): void {
  g.fillStyle = '#444';
  g.font = `11px ${FONT}`;
  g.textAlign = 'center';
  for (let i = 0; i <= 4; i++) {
    const v = (max * i) / 4;
    g.fillText(`${Number(v.toPrecision(3))}`, p.x + (p.w * i) / 4, p.y + p.h + 14);
  }
  g.fillText(unit, p.x + p.w / 2, p.y + p.h + 28);
}

function dashedX(g: SKRSContext2D, p: Box, x: number, colour: string, label: string): void {
  g.save();
  g.setLineDash([5, 4]);
  g.strokeStyle = colour;
  g.beginPath();
  g.moveTo(x, p.y);
  g.lineTo(x, p.y + p.h);
  g.stroke();
  g.restore();
  g.fillStyle = colour;
  g.font = `11px ${FONT}`;
  g.textAlign = 'left';
  g.fillText(label, x + 3, p.y + 12);
}

/** Overlaid histograms; samples above `max` go into the last bin (marked ≥). */
function histogram(g: SKRSContext2D, b: Box, title: string, series: Array<{ consumer: Consumer; samples: number[] }>, max: number, unit: string, target?: { at: number; label: string }): void {
  const p = frame(g, b, title);
  const bins = 50;
  const counts = series.map((s) => {
    const c = new Array<number>(bins).fill(0);
    for (const v of s.samples) c[Math.min(bins - 1, Math.max(0, Math.floor((v / max) * bins)))]!++;
    return c.map((n) => n / Math.max(1, s.samples.length));
  });
  const top = Math.max(0.01, ...counts.flat());
  const bw = p.w / bins;
  series.forEach((s, i) => {
    g.fillStyle = `${COLOURS[s.consumer]}88`;
    counts[i]!.forEach((f, k) => {
      const h = (f / top) * (p.h - 20);
      g.fillRect(p.x + k * bw + 1, p.y + p.h - h, bw - 2, h);
    });
    const med = percentile(s.samples, 50);
    if (med !== null) {
      const x = p.x + Math.min(1, med / max) * p.w;
      g.strokeStyle = COLOURS[s.consumer];
      g.lineWidth = 2;
      g.beginPath();
      g.moveTo(x, p.y + 16);
      g.lineTo(x, p.y + p.h);
      g.stroke();
      g.lineWidth = 1;
    }
  });
  if (target) dashedX(g, p, p.x + Math.min(1, target.at / max) * p.w, TARGET, target.label);
  xTicks(g, p, max, unit);
  g.textAlign = 'right';
  g.font = `11px ${FONT}`;
  series.forEach((s, i) => {
    g.fillStyle = COLOURS[s.consumer];
    const med = percentile(s.samples, 50);
    g.fillText(`${LABELS[s.consumer]}: p50 ${med === null ? '-' : Number(med.toPrecision(3))} (n=${s.samples.length})`, p.x + p.w - 4, p.y + 28 + i * 14);
  });
  g.fillStyle = '#666';
  g.fillText(`last bin: ≥ ${Number((max * (bins - 1) / bins).toPrecision(3))}`, p.x + p.w - 4, p.y + p.h - 4);
}

/** A round x range that shows the bulk of every series: 1.2 × the largest p95, at least `min`. */
function range(series: Array<{ samples: number[] }>, min: number): number {
  const top = Math.max(min, ...series.map((s) => (percentile(s.samples, 95) ?? 0) * 1.2));
  const step = 10 ** Math.floor(Math.log10(top));
  return Math.ceil(top / step) * step;
}

/** Grouped bars: one group per label, one bar per series. */
function bars(g: SKRSContext2D, b: Box, title: string, groups: string[], series: Array<{ name: string; colour: string; values: Array<number | null> }>, max: number, target?: { at: number; label: string }): void {
  const p = frame(g, b, title);
  const gw = p.w / groups.length;
  const bw = (gw * 0.8) / series.length;
  g.font = `11px ${FONT}`;
  groups.forEach((label, i) => {
    series.forEach((s, k) => {
      const v = s.values[i];
      if (v === null || v === undefined) return;
      const h = (Math.min(v, max) / max) * p.h;
      const x = p.x + i * gw + gw * 0.1 + k * bw;
      g.fillStyle = s.colour;
      g.fillRect(x + 1, p.y + p.h - h, bw - 2, h);
      g.fillStyle = '#222';
      g.textAlign = 'center';
      g.fillText(`${Number(v.toPrecision(3))}`, x + bw / 2, p.y + p.h - h - 3);
    });
    g.fillStyle = '#444';
    g.textAlign = 'center';
    g.fillText(label, p.x + i * gw + gw / 2, p.y + p.h + 14);
  });
  if (target) {
    const y = p.y + p.h - (target.at / max) * p.h;
    g.save();
    g.setLineDash([5, 4]);
    g.strokeStyle = TARGET;
    g.beginPath();
    g.moveTo(p.x, y);
    g.lineTo(p.x + p.w, y);
    g.stroke();
    g.restore();
    g.fillStyle = TARGET;
    g.textAlign = 'left';
    g.fillText(target.label, p.x + 4, y - 3);
  }
  g.textAlign = 'left';
  series.forEach((s, k) => {
    g.fillStyle = s.colour;
    g.fillRect(p.x + 6 + k * 150, p.y + p.h + 20, 10, 10);
    g.fillStyle = '#222';
    g.fillText(s.name, p.x + 20 + k * 150, p.y + p.h + 29);
  });
}

export async function drawChart(o: ChartInput): Promise<Buffer> {
  const W = 1500;
  const H = 1400;
  const canvas = createCanvas(W, H);
  const g = canvas.getContext('2d');
  g.fillStyle = '#fff';
  g.fillRect(0, 0, W, H);
  g.fillStyle = '#000';
  g.font = `bold 18px ${FONT}`;
  g.textAlign = 'left';
  g.fillText(o.title, 20, 28);

  // Row 1: notification latency histogram | copy efficiency.
  const consumers: Consumer[] = ['relay', 'poll1ms'];
  const notifySeries = consumers.filter((c) => o.notify[c]).map((c) => ({ consumer: c, samples: o.notify[c]!.notifySamplesUs }));
  histogram(g, { x: 20, y: 50, w: 900, h: 320 }, 'Notification latency at 144 fps (post → consumer sees the message)', notifySeries, range(notifySeries, 500), 'µs', { at: 50, label: 'target p50 50 µs' });
  const strategies = ['auto', 'memcpy', 'avx2-stream'] as const;
  const palette = ['#1f77b4', '#9467bd', '#ff7f0e'];
  bars(
    g,
    { x: 940, y: 50, w: 540, h: 320 },
    'Copy efficiency (memcpy time ÷ region copy time)',
    o.copy.map((c) => c.mode),
    strategies.map((s, i) => ({ name: s === 'auto' ? 'auto (relay)' : s, colour: palette[i]!, values: o.copy.map((c) => c.strategies.find((x) => x.strategy === s)?.efficiency ?? null) })),
    Math.max(1.5, ...o.copy.flatMap((c) => c.strategies.map((s) => s.efficiency))) * 1.1,
    { at: 0.9, label: 'target 0.9' },
  );

  // Row 2: pipelined frame latency per size, as a multiple of one memcpy.
  const modes = [...new Set([...o.pipeline.relay, ...o.pipeline.poll1ms].map((r) => r.mode))];
  const pw = (W - 40 - (modes.length - 1) * 20) / Math.max(1, modes.length);
  modes.forEach((mode, i) => {
    const base = o.memcpyMs(mode);
    const series = consumers
      .map((c) => ({ consumer: c, r: o.pipeline[c].find((x) => x.mode === mode) }))
      .filter((s) => s.r && base)
      .map((s) => ({ consumer: s.consumer, samples: s.r!.latencySamplesUs.map((us) => us / 1000 / base!) }));
    histogram(g, { x: 20 + i * (pw + 20), y: 400, w: pw, h: 320 }, `Pipelined frame latency ${mode} (× one memcpy)`, series, range(series, 2), '× memcpy', { at: 1.3, label: 'target 1.3' });
  });

  // Row 3: sustained rate (fraction of the target fps) | idle cost.
  const r = o.result;
  const sModes = r.sustained.map((s) => s.mode);
  const targetFps: Record<string, number> = { '1920x1080': 240, '2560x1440': 144, '3840x2160': 60 };
  bars(
    g,
    { x: 20, y: 750, w: 900, h: 300 },
    'Sustained rate with verification (fps reached ÷ target; lost and failed frames in the table)',
    sModes.map((m) => `${m} @ ${targetFps[m] ?? '?'}`),
    [
      { name: LABELS.relay, colour: COLOURS.relay, values: r.sustained.map((s) => s.fps / (targetFps[s.mode] ?? s.fps)) },
      { name: LABELS.poll1ms, colour: COLOURS.poll1ms, values: sModes.map((m) => { const p = r.compare.poll1ms.sustained.find((s) => s.mode === m); return p ? p.fps / (targetFps[m] ?? p.fps) : null; }) },
    ],
    1.2,
    { at: 1, label: 'target rate' },
  );
  bars(
    g,
    { x: 940, y: 750, w: 540, h: 300 },
    'Idle cost (consumer CPU, % of one core)',
    ['attached, nothing posted'],
    [
      { name: LABELS.relay, colour: COLOURS.relay, values: [r.idleCpuPct] },
      { name: LABELS.poll1ms, colour: COLOURS.poll1ms, values: [r.compare.poll1ms.idleCpuPct] },
    ],
    Math.max(3, (r.idleCpuPct ?? 0) * 1.3, (r.compare.poll1ms.idleCpuPct ?? 0) * 1.3),
    { at: 2, label: 'target 2 %' },
  );

  // Row 4: the viewer window per stream — rates ÷ the produced rate | the viewer's CPU.
  const win = r.window;
  if (win.length) {
    const streams = win.map((w) => `${w.mode} @ ${w.producedFps}`);
    bars(
      g,
      { x: 20, y: 1080, w: 900, h: 300 },
      'Viewer window under Xvfb: fps ÷ the produced rate (consumed = what the guest could post)',
      streams,
      [
        { name: 'window: consumed', colour: COLOURS.relay, values: win.map((w) => w.consumedFps / w.producedFps) },
        { name: 'window: presented', colour: '#17becf', values: win.map((w) => w.presentedFps / w.producedFps) },
        { name: 'headless: consumed', colour: '#7f7f7f', values: win.map((w) => w.headlessConsumedFps / w.producedFps) },
      ],
      1.2,
      { at: 0.98, label: 'target 0.98' },
    );
    bars(
      g,
      { x: 940, y: 1080, w: 540, h: 300 },
      'Viewer window: CPU (% of one core) and render ms',
      win.map((w) => `${w.mode.split('x')[1]}p · ${w.renderMs ?? '-'} ms`),
      [{ name: 'viewer process CPU %', colour: COLOURS.relay, values: win.map((w) => w.cpuPct) }],
      Math.max(100, ...win.map((w) => w.cpuPct * 1.2)),
    );
  }
  return canvas.encode('png');
}
