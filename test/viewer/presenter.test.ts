/**
 * The viewer's NativePresenter on a real SDL window under Xvfb (driven in a child process,
 * fixtures/presenter-driver.mjs), checked by screenshots of the X display:
 *  - setFrame uploads exactly the rectangles it is given: a change outside them stays unseen
 *    until named, for every frame layout, on SDL's software renderer and on OpenGL (llvmpipe);
 *  - overlays blend over the frame, are cut at its edge, move and hide without a new frame;
 *  - window-space overlays (the OSD, help) stay 1:1 in window pixels whatever the frame's scale,
 *    and are not cut at the frame's edge; a frame turned by quarter turns takes its cursor along;
 *  - a renderer the binding recreates (setAccelerated, setVsync) keeps frame and overlays;
 *  - bad geometry is refused with ERR_PRESENT_GEOMETRY (TS) or a RangeError/TypeError (addon),
 *    and the process lives on.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { startXvfb, findWindow, type Xvfb } from '../support/xvfb.js';
import { screenshot, type XImage } from '../support/xwd.js';
import { waitFor } from '../support/helpers.js';
import type { FrameGeometry } from '../../src/viewer/native-presenter.js';
import type { SdlFormat } from '../../src/viewer/pixel-format.js';
import type { Rect } from '../../src/viewer/geometry.js';
import { needs, WINDOW_PARTS } from '../support/system.js';

type RGB = [number, number, number];
interface Reply {
  ok: boolean;
  result?: unknown;
  error?: { name: string; code?: string; message: string };
}

let x: Xvfb;
let driver: { child: ChildProcessWithoutNullStreams; call: (cmd: object) => Promise<Reply> } | null = null;

beforeAll(async () => {
  x = await startXvfb(640, 480);
});
afterEach(async () => {
  if (!driver) return;
  const d = driver.child;
  driver = null;
  d.kill('SIGKILL');
  await new Promise((r) => d.once('exit', r));
});
afterAll(async () => {
  await x?.stop();
});

function startDriver(): NonNullable<typeof driver> {
  const child = spawn(process.execPath, [join(import.meta.dirname, 'fixtures', 'presenter-driver.mjs')], { env: x.env, stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const waiting: Array<(r: Reply) => void> = [];
  createInterface({ input: child.stdout }).on('line', (l) => waiting.shift()?.(JSON.parse(l) as Reply));
  child.once('exit', (code) => {
    for (const w of waiting.splice(0)) w({ ok: false, error: { name: 'Exit', message: `driver exited (${code}): ${stderr}` } });
  });
  const call = (cmd: object) =>
    new Promise<Reply>((resolve) => {
      waiting.push(resolve);
      child.stdin.write(`${JSON.stringify(cmd)}\n`);
    });
  driver = { child, call };
  return driver;
}

/** Calls the driver and expects success. */
async function ok<T = unknown>(cmd: object): Promise<T> {
  const r = await driver!.call(cmd);
  if (!r.ok) throw new Error(`${JSON.stringify(cmd).slice(0, 80)}: ${r.error!.message}`);
  return r.result as T;
}

const BPP: Record<SdlFormat, number> = { bgra32: 4, rgba32: 4, bgr24: 3, rgb24: 3 };
/** Byte offsets of r, g, b in a pixel of each layout. */
const ORDER: Record<SdlFormat, [number, number, number]> = { bgra32: [2, 1, 0], rgba32: [0, 1, 2], bgr24: [2, 1, 0], rgb24: [0, 1, 2] };

class Frame {
  readonly pixels: Buffer;
  readonly geometry: FrameGeometry;
  constructor(width: number, height: number, format: SdlFormat, fill: RGB) {
    // Rows padded past the pixels, as producers do: the stride is honoured, the padding never shown.
    this.geometry = { width, height, stride: width * BPP[format] + 12, format };
    this.pixels = Buffer.alloc(this.geometry.stride * height, 0xee);
    this.paint({ x: 0, y: 0, width, height }, fill);
  }
  paint(r: Rect, rgb: RGB): this {
    const { stride, format } = this.geometry;
    const [ri, gi, bi] = ORDER[format];
    for (let y = r.y; y < r.y + r.height; y++) {
      for (let xx = r.x; xx < r.x + r.width; xx++) {
        const o = y * stride + xx * BPP[format];
        this.pixels[o + ri] = rgb[0];
        this.pixels[o + gi] = rgb[1];
        this.pixels[o + bi] = rgb[2];
        if (BPP[format] === 4) this.pixels[o + 3] = 255;
      }
    }
    return this;
  }
  clone(): Frame {
    const f = Object.create(Frame.prototype) as Frame;
    Object.assign(f, { pixels: Buffer.from(this.pixels), geometry: this.geometry });
    return f;
  }
}

const setFrame = (f: Frame, rects?: Rect[]) => ok<number>({ op: 'setFrame', pixels: f.pixels.toString('base64'), geometry: f.geometry, rects });

async function open(width: number, height: number, title: string, accelerated: boolean) {
  startDriver();
  const r = await ok<{ id: number; info: { renderer: string } }>({ op: 'open', width, height, title, accelerated });
  let win: ReturnType<typeof findWindow> | null = null;
  await waitFor(
    () => {
      try {
        win = findWindow(x, title);
        return win.width === width;
      } catch {
        return false;
      }
    },
    10_000,
    `window ${title}`,
  );
  return { ...r, win: win! };
}

/** Presents, then reads the window's pixel at (px, py) through a screenshot of the display. */
async function presentAndShoot(win: { x: number; y: number }, dst: Rect, scaling: 'nearest' | 'linear' = 'nearest', quarterTurns = 0) {
  expect(await ok<boolean>({ op: 'present', dst, scaling, quarterTurns })).toBe(true);
  const img: XImage = screenshot(x.display);
  return (px: number, py: number) => img.rgb(win.x + px, win.y + py);
}

const GREY: RGB = [40, 40, 40];
const RED: RGB = [230, 20, 10];
const GREEN: RGB = [10, 200, 30];
const BLUE: RGB = [20, 30, 240];

describe.skipIf(needs(...WINDOW_PARTS))('NativePresenter under Xvfb', () => {
  it.each([
    ['software', false],
    ['OpenGL (llvmpipe)', true],
  ])('uploads exactly the rectangles it is given (%s renderer)', async (_name, accelerated) => {
    const W = 160;
    const H = 120;
    const { win, info } = await open(W, H, `damage-${String(accelerated)}`, accelerated);
    expect(info.renderer).toBe(accelerated ? 'opengl' : 'software');
    const dst = { x: 0, y: 0, width: W, height: H };
    const a = new Frame(W, H, 'bgra32', GREY);
    expect(await setFrame(a)).toBe(W * H * 4);
    let at = await presentAndShoot(win, dst);
    expect(at(80, 60)).toEqual(GREY);

    // Two changes, only one named: the other must not reach the screen.
    const r1 = { x: 10, y: 10, width: 30, height: 20 };
    const r2 = { x: 100, y: 60, width: 30, height: 30 };
    const b = a.clone().paint(r1, RED).paint(r2, GREEN);
    expect(await setFrame(b, [r1])).toBe(30 * 20 * 4);
    at = await presentAndShoot(win, dst);
    expect([at(10, 10), at(39, 29), at(25, 20)]).toEqual([RED, RED, RED]);
    expect([at(9, 10), at(40, 10), at(10, 30)]).toEqual([GREY, GREY, GREY]);
    expect(at(110, 70)).toEqual(GREY); // changed in the buffer, not named: not uploaded

    expect(await setFrame(b, [r2])).toBe(30 * 30 * 4);
    at = await presentAndShoot(win, dst);
    expect([at(100, 60), at(129, 89), at(10, 10)]).toEqual([GREEN, GREEN, RED]);

    // An empty list uploads nothing; no list uploads everything.
    const c = new Frame(W, H, 'bgra32', BLUE);
    expect(await setFrame(c, [])).toBe(0);
    at = await presentAndShoot(win, dst);
    expect([at(80, 60), at(10, 10)]).toEqual([GREY, RED]);
    await setFrame(c);
    at = await presentAndShoot(win, dst);
    expect([at(80, 60), at(10, 10), at(110, 70)]).toEqual([BLUE, BLUE, BLUE]);
  }, 60_000);

  it('converts RGBA and the 24-bit layouts exactly, whole and in sub-rectangles, honouring the stride', async () => {
    const W = 96;
    const H = 64;
    const { win } = await open(W, H, 'formats', false);
    const dst = { x: 0, y: 0, width: W, height: H };
    for (const format of ['rgba32', 'bgr24', 'rgb24', 'bgra32'] as const) {
      const f = new Frame(W, H, format, GREEN);
      await setFrame(f);
      const r = { x: 33, y: 7, width: 17, height: 9 };
      f.paint(r, RED);
      expect(await setFrame(f, [r])).toBe(17 * 9 * BPP[format]);
      const at = await presentAndShoot(win, dst);
      expect([at(0, 0), at(95, 63), at(33, 7), at(49, 15), at(50, 15), at(33, 16)], format).toEqual([GREEN, GREEN, RED, RED, GREEN, GREEN]);
    }
  }, 60_000);

  it('blends overlays over the frame, cuts them at its edge, moves and hides them without a new frame', async () => {
    const W = 160;
    const H = 120;
    const { win } = await open(200, 150, 'overlays', false);
    const dst = { x: 20, y: 15, width: W, height: H }; // letterboxed: black around the frame
    await setFrame(new Frame(W, H, 'bgra32', GREY));
    // 20x10 RGBA: left half opaque red, right half transparent, bottom row white at half alpha.
    const ow = 20;
    const oh = 10;
    const pixels = Buffer.alloc(ow * oh * 4);
    for (let y = 0; y < oh; y++) {
      for (let xx = 0; xx < ow; xx++) {
        const o = (y * ow + xx) * 4;
        if (y === oh - 1) pixels.set([255, 255, 255, 128], o);
        else if (xx < 10) pixels.set([...RED, 255], o);
      }
    }
    const image = { pixels: pixels.toString('base64'), width: ow, height: oh, order: 'rgba' };
    await ok({ op: 'setOverlay', slot: 0, x: 145, y: 50, visible: true, image });
    let at = await presentAndShoot(win, dst);
    const fx = (v: number) => dst.x + v;
    const fy = (v: number) => dst.y + v;
    expect(at(fx(145), fy(50))).toEqual(RED);
    expect(at(fx(154), fy(58))).toEqual(RED);
    expect(at(fx(157), fy(52))).toEqual(GREY); // transparent texel: the frame shows through
    expect(at(fx(161), fy(52))).toEqual([0, 0, 0]); // beyond the frame's edge: cut, the bar stays black
    const half = at(fx(150), fy(59));
    for (const ch of half) expect(Math.abs(ch - (40 + ((255 - 40) * 128) / 255))).toBeLessThanOrEqual(2);

    // Another slot above it, then a move and a hide: the frame under the old place is intact.
    const blue = Buffer.alloc(4 * 4 * 4);
    for (let i = 0; i < 16; i++) blue.set([...BLUE, 255], i * 4);
    await ok({ op: 'setOverlay', slot: 1, x: 147, y: 52, visible: true, image: { pixels: blue.toString('base64'), width: 4, height: 4, order: 'rgba' } });
    at = await presentAndShoot(win, dst);
    expect([at(fx(147), fy(52)), at(fx(145), fy(50))]).toEqual([BLUE, RED]);
    await ok({ op: 'setOverlay', slot: 0, x: 10, y: 10, visible: true });
    await ok({ op: 'setOverlay', slot: 1, x: 0, y: 0, visible: false });
    at = await presentAndShoot(win, dst);
    expect([at(fx(145), fy(50)), at(fx(147), fy(52)), at(fx(10), fy(10)), at(fx(0), fy(0))]).toEqual([GREY, GREY, RED, GREY]);
    // Scaled with the frame: drawn at half size, the overlay at frame (10, 10) lands at half the offset.
    const small = { x: 20, y: 15, width: W / 2, height: H / 2 };
    at = await presentAndShoot(win, small);
    expect([at(20 + 7, 15 + 7), at(20 + 2, 15 + 2), at(20 + 40, 15 + 30), at(20 + 81, 15 + 30)]).toEqual([RED, GREY, GREY, [0, 0, 0]]);
  }, 60_000);

  it('window-space overlays stay 1:1 in window pixels over a scaled frame; a turned frame takes its frame-space overlays along', async () => {
    const { win } = await open(200, 150, 'spaces', false);
    // A 400x300 frame shown at half size: quadrants red (top-left), green (top-right), blue, grey.
    const f = new Frame(400, 300, 'bgra32', GREY).paint({ x: 0, y: 0, width: 200, height: 150 }, RED).paint({ x: 200, y: 0, width: 200, height: 150 }, GREEN).paint({ x: 0, y: 150, width: 200, height: 150 }, BLUE);
    await setFrame(f);
    const white = Buffer.alloc(10 * 10 * 4, 255);
    const image = { pixels: white.toString('base64'), width: 10, height: 10, order: 'rgba' };
    // Window space: 10x10 window pixels at (5, 5), however the frame is scaled.
    await ok({ op: 'setOverlay', slot: 1, x: 5, y: 5, visible: true, image, space: 'window' });
    let at = await presentAndShoot(win, { x: 0, y: 0, width: 200, height: 150 });
    expect([at(5, 5), at(14, 14), at(15, 15), at(4, 4)]).toEqual([[255, 255, 255], [255, 255, 255], RED, RED]);
    // In a letterbox bar (outside the frame) it is still drawn: not cut at the frame's edge.
    await ok({ op: 'setOverlay', slot: 1, x: 2, y: 2, visible: true, space: 'window' });
    at = await presentAndShoot(win, { x: 50, y: 40, width: 100, height: 75 });
    expect([at(2, 2), at(11, 11), at(12, 12)]).toEqual([[255, 255, 255], [255, 255, 255], [0, 0, 0]]);
    // A quarter turn clockwise: the red top-left quadrant goes to the top right, blue to the top
    // left; a frame-space overlay at frame (0, 0) goes with the corner it marks.
    await ok({ op: 'setOverlay', slot: 1, x: 0, y: 0, visible: false, space: 'window' });
    await ok({ op: 'setOverlay', slot: 0, x: 0, y: 0, visible: true, image });
    at = await presentAndShoot(win, { x: 25, y: 0, width: 150, height: 150 }, 'nearest', 1); // 300x400 turned, at half size
    expect([at(25 + 37, 37), at(25 + 112, 37), at(25 + 37, 112), at(25 + 112, 112)]).toEqual([BLUE, RED, GREY, GREEN]);
    expect([at(25 + 148, 1), at(25 + 146, 3)]).toEqual([[255, 255, 255], [255, 255, 255]]); // frame (0,0) is now the top-right corner
    expect(at(25 + 1, 1)).toEqual(BLUE);
    expect((await driver!.call({ op: 'present', dst: { x: 0, y: 0, width: 10, height: 10 }, scaling: 'nearest', quarterTurns: 4 })).error).toMatchObject({ code: 'ERR_PRESENT_GEOMETRY' });
  }, 60_000);

  it('keeps frame and overlays when the binding recreates the renderer (setAccelerated, setVsync)', async () => {
    const W = 120;
    const H = 90;
    const { win } = await open(W, H, 'recreate', false);
    const dst = { x: 0, y: 0, width: W, height: H };
    const f = new Frame(W, H, 'bgr24', GREY).paint({ x: 60, y: 0, width: 60, height: 90 }, GREEN);
    await setFrame(f);
    const dot = Buffer.alloc(4 * 4 * 4);
    for (let i = 0; i < 16; i++) dot.set([...RED, 255], i * 4);
    await ok({ op: 'setOverlay', slot: 2, x: 5, y: 5, visible: true, image: { pixels: dot.toString('base64'), width: 4, height: 4, order: 'rgba' } });
    const check = async () => {
      const at = await presentAndShoot(win, dst);
      expect([at(30, 45), at(90, 45), at(6, 6)]).toEqual([GREY, GREEN, RED]);
    };
    await check();
    let generation = (await ok<{ generation: number }>({ op: 'info' })).generation;
    for (const [method, arg, renderer] of [
      ['setAccelerated', true, 'opengl'],
      ['setVsync', true, 'opengl'],
      ['setAccelerated', false, 'software'],
      ['setVsync', false, 'software'],
    ] as const) {
      await ok({ op: 'windowCall', method, arg });
      const info = await ok<{ renderer: string; generation: number }>({ op: 'info' });
      expect(info, `${method}(${arg})`).toMatchObject({ renderer, generation: generation + 1 });
      generation = info.generation;
      await check();
    }
    // A new renderer at the old one's address is told apart by the marker it lacks: a second
    // presenter letting go of the renderer takes the marker away, the same as a fresh renderer.
    await ok({ op: 'native', method: 'close', args: [] });
    await check();
    expect((await ok<{ generation: number }>({ op: 'info' })).generation).toBe(generation + 1);
  }, 60_000);

  it('refuses bad geometry with clear errors, in TS and again in the addon, and lives on', async () => {
    const { win } = await open(64, 48, 'refuse', false);
    const f = new Frame(64, 48, 'bgra32', GREY);
    const short = await driver!.call({ op: 'setFrame', pixels: f.pixels.subarray(0, 1000).toString('base64'), geometry: f.geometry });
    expect(short.error).toMatchObject({ code: 'ERR_PRESENT_GEOMETRY', message: expect.stringMatching(/a 64x48 bgra32 frame with stride 268 needs 12852 bytes; the buffer has 1000/) });
    const outside = await driver!.call({ op: 'setFrame', pixels: f.pixels.toString('base64'), geometry: f.geometry, rects: [{ x: 60, y: 0, width: 5, height: 1 }] });
    expect(outside.error).toMatchObject({ code: 'ERR_PRESENT_GEOMETRY', message: expect.stringMatching(/rectangle 0 \(60,0 5x1\) is not inside the 64x48 frame/) });
    const overlay = await driver!.call({ op: 'setOverlay', slot: 0, x: 0, y: 0, visible: true, image: { pixels: '', width: 5000, height: 1, order: 'rgba' } });
    expect(overlay.error).toMatchObject({ code: 'ERR_PRESENT_GEOMETRY', message: expect.stringMatching(/overlay size 5000x1/) });
    expect((await driver!.call({ op: 'attachAgain' })).error).toMatchObject({ code: 'ERR_PRESENTER', message: expect.stringMatching(/already has a presenter/) });

    // The addon without the TS checks: exceptions, never a crash.
    const raw = (method: string, ...args: unknown[]) => driver!.call({ op: 'native', method, args });
    const b64 = (n: number) => ({ b64: Buffer.alloc(n).toString('base64') });
    expect((await raw('setFrame', b64(100), 64, 48, 256, 0, null)).error).toMatchObject({ name: 'RangeError', message: expect.stringMatching(/100 bytes do not hold 64x48 pixels with stride 256/) });
    // (A new texture is uploaded whole whatever the rectangles say, so first one valid frame.)
    expect((await raw('setFrame', b64(64 * 48 * 4), 64, 48, 256, 0, null)).ok).toBe(true);
    expect((await raw('setFrame', b64(64 * 48 * 4), 64, 48, 256, 0, { i32: [0, 0, 65, 1] })).error).toMatchObject({ name: 'RangeError' });
    expect((await raw('setFrame', b64(64 * 48 * 4), 64, 48, 256, 0, { i32: [-1, 0, 2, 2] })).error).toMatchObject({ name: 'RangeError', message: expect.stringMatching(/rectangle 0 is outside/) });
    expect((await raw('setFrame', b64(64 * 48 * 4), 64, 48, 256, 9, null)).error).toMatchObject({ name: 'RangeError', message: expect.stringMatching(/unknown source format 9/) });
    expect((await raw('setFrame', 'pixels', 64, 48, 256, 0, null)).error).toMatchObject({ name: 'TypeError' });
    expect((await raw('setOverlay', 99, b64(16), 2, 2, 8, true)).error).toMatchObject({ name: 'RangeError', message: expect.stringMatching(/slot 99/) });
    expect((await raw('setOverlay', 0, b64(15), 2, 2, 8, true)).error).toMatchObject({ name: 'RangeError' });
    expect((await raw('present', 0, 0, 64, 48, false, [1, 2, 3])).error).toMatchObject({ name: 'TypeError' });
    expect((await raw('present', 0, 0, 64, 48, false, { f64: [7, 1e300, -1e300, Number.NaN, 0, 0] })).result).toBe(true); // junk overlay entries are skipped

    // Still working; then the window goes: a clear error, and close() twice is fine.
    await setFrame(f);
    const at = await presentAndShoot(win, { x: 0, y: 0, width: 64, height: 48 });
    expect(at(32, 24)).toEqual(GREY);
    await ok({ op: 'windowCall', method: 'destroy' });
    const gone = await driver!.call({ op: 'present', dst: { x: 0, y: 0, width: 64, height: 48 }, scaling: 'nearest' });
    expect(gone.error?.message).toMatch(/window \d+ is gone/);
    await ok({ op: 'close' });
    await ok({ op: 'close' });
  }, 60_000);
});
