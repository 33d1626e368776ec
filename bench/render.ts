/**
 * Render-cost trial: what one present of a guest frame costs on a private Xvfb, per way of doing
 * it, all in one process on one display (the baseline in the same run):
 *   window.render            @kmamal/sdl's window.render(), a texture made and destroyed per call:
 *                            on OpenGL (what SDL picks; without a GPU that is llvmpipe), what the
 *                            viewer did before issue 12
 *   presenter, whole frame   the viewer's NativePresenter (persistent texture), every pixel uploaded
 *   presenter, 1 % damaged   the same with one damage rectangle of 1 % of the frame
 * each on OpenGL and on SDL's software renderer (the viewer's choice when OpenGL is a software
 * rasterizer). Frames alternate between two buffers; the window is the frame's size (1:1); the
 * three ways take turns frame by frame on one window, so they share the machine's load.
 *   node dist/bench/render.js [--modes 1920x1080,2560x1440] [--format bgra32] [--frames N]
 * With --split, only the viewer's way (presenter, whole frame, software renderer) per mode, split
 * into its parts — upload (setFrame), draw and present (SDL_RenderPresent) — the floor of the
 * window trial's glass-to-glass figures: `{ split: [{ mode, uploadMs, drawMs, presentMs }] }`.
 */
import { emitResult, numArg, parseArgs, parseMode, percentile, round } from './lib.js';
import { startXvfb } from './xvfb.js';
import type { SdlFormat } from '../src/viewer/pixel-format.js';

export interface RenderRow {
  mode: string;
  way: string;
  renderer: string;
  p50Ms: number;
  p90Ms: number;
}
/** One mode of `--split`: medians of the viewer's present, in its parts. */
export interface RenderSplit {
  mode: string;
  uploadMs: number;
  drawMs: number;
  presentMs: number;
}
export type RenderResult = { available: false; reason: string } | { available: true; format: SdlFormat; frames: number; rows: RenderRow[]; split?: RenderSplit[] };

const args = parseArgs(process.argv.slice(2));
const modes = (args.get('modes') ?? '1920x1080,2560x1440').split(',').map(parseMode);
const format = (args.get('format') ?? 'bgra32') as SdlFormat;
const frames = numArg(args, 'frames', 60);
const bpp = format === 'bgr24' || format === 'rgb24' ? 3 : 4;

const largest = modes.reduce((a, m) => (m.width * m.height > a.width * a.height ? m : a));
const x = await startXvfb(largest.width, largest.height);
if (typeof x === 'string') {
  emitResult({ available: false, reason: x } satisfies RenderResult);
  process.exit(0);
}
process.env.DISPLAY = x.display;
delete process.env.WAYLAND_DISPLAY;
const { loadSdl } = await import('../src/viewer/sdl.js');
const { NativePresenter } = await import('../src/viewer/native-presenter.js');
const sdl = await loadSdl();

/**
 * Times the ways interleaved (way 0, 1, 2, 0, 1, 2, …) so that every way sees the same load on a
 * shared machine; `n` samples per way after a few unmeasured rounds.
 */
function interleaved(n: number, ways: Array<(i: number) => void>): Array<{ p50Ms: number; p90Ms: number }> {
  const samples = ways.map(() => [] as number[]);
  for (let i = 0; i < n + 3; i++) {
    ways.forEach((f, k) => {
      const t0 = performance.now();
      f(i);
      if (i >= 3) samples[k]!.push(performance.now() - t0);
    });
  }
  return samples.map((t) => ({ p50Ms: round(percentile(t, 50)!, 2), p90Ms: round(percentile(t, 90)!, 2) }));
}

const rows: RenderRow[] = [];
const split: RenderSplit[] = [];
for (const m of args.has('split') ? modes : []) {
  const stride = m.width * bpp;
  const bufs = [Buffer.alloc(stride * m.height, 0x40), Buffer.alloc(stride * m.height, 0x80)];
  const w = sdl.video.createWindow({ width: m.width, height: m.height, accelerated: false, vsync: false });
  const p = NativePresenter.attach(w);
  const upload: number[] = [];
  const draw: number[] = [];
  const put: number[] = [];
  for (let i = 0; i < frames + 3; i++) {
    const t0 = performance.now();
    p.setFrame(bufs[i & 1]!, { width: m.width, height: m.height, stride, format }, undefined);
    const t1 = performance.now();
    p.present({ x: 0, y: 0, width: m.width, height: m.height }, 'linear');
    const t = p.lastPresentTimings();
    if (i < 3) continue;
    upload.push(t1 - t0);
    draw.push(t.drawMs);
    put.push(t.presentMs);
  }
  split.push({ mode: m.mode, uploadMs: round(percentile(upload, 50)!, 3), drawMs: round(percentile(draw, 50)!, 3), presentMs: round(percentile(put, 50)!, 3) });
  p.close();
  w.destroy();
}
for (const m of args.has('split') ? [] : modes) {
  const stride = m.width * bpp;
  const bufs = [Buffer.alloc(stride * m.height, 0x40), Buffer.alloc(stride * m.height, 0x80)];
  const dst = { x: 0, y: 0, width: m.width, height: m.height };
  const geometry = { width: m.width, height: m.height, stride, format };
  const side = Math.round(Math.sqrt(m.width * m.height * 0.01));
  const damage = [{ x: 100, y: 100, width: side, height: side }];
  // OpenGL first (what SDL picks), then SDL's software renderer, which the viewer picks when
  // OpenGL is a software rasterizer: the last rows are the viewer's.
  for (const accelerated of [true, false]) {
    const w = sdl.video.createWindow({ width: m.width, height: m.height, accelerated, vsync: false });
    const p = NativePresenter.attach(w);
    const info = p.info();
    const renderer = info.glRenderer ? `${info.renderer} (${info.glRenderer.split(' (')[0]})` : info.renderer;
    const present = (rects?: typeof damage) => (i: number) => {
      p.setFrame(bufs[i & 1]!, geometry, rects);
      p.present(dst, 'linear');
    };
    const [render, whole, part] = interleaved(frames, [
      (i) => w.render(m.width, m.height, stride, format, bufs[i & 1]!, { scaling: 'linear', dstRect: dst }),
      present(),
      present(damage),
    ]);
    rows.push({ mode: m.mode, way: 'window.render', renderer, ...render! }, { mode: m.mode, way: 'presenter, whole frame', renderer, ...whole! }, { mode: m.mode, way: 'presenter, 1 % damaged', renderer, ...part! });
    p.close();
    w.destroy();
  }
}
emitResult({ available: true, format, frames, rows, ...(args.has('split') ? { split } : {}) } satisfies RenderResult);
// Xvfb (-terminate) goes with our X connection at exit.
process.exit(0);
