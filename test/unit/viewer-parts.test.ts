import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fitRect, windowToFrame } from '../../src/viewer/geometry.js';
import { KeyRouter, hidForCode } from '../../src/viewer/key-router.js';
import { CursorOverlay, type CursorImage } from '../../src/viewer/cursor-overlay.js';
import { DamageTracker } from '../../src/viewer/damage.js';
import { checkFrame, isSoftwareGl, packRects } from '../../src/viewer/native-presenter.js';
import { presentableFormat } from '../../src/viewer/pixel-format.js';
import { pixelGeometry } from '../../src/kvmfr/geometry.js';
import { loadViewerConfig } from '../../src/viewer/config.js';
import { ViewerStats } from '../../src/viewer/viewer-stats.js';
import { formatOf } from '../../src/kvmfr/formats.js';
import type { FrameInfo } from '../../src/kvmfr/frame.js';
import { coded } from '../support/errors.js';

describe('geometry', () => {
  it('letterboxes and pillarboxes keeping the aspect ratio, centred', () => {
    expect(fitRect(1920, 1080, 1280, 1024)).toEqual({ x: 0, y: 152, width: 1280, height: 720 });
    expect(fitRect(1920, 1080, 800, 300)).toEqual({ x: 133, y: 0, width: 533, height: 300 });
    expect(fitRect(640, 360, 1400, 800, true)).toEqual({ x: 60, y: 40, width: 1280, height: 720 }); // 2x, not 2.18x
    // A guest larger than the window: a whole divisor (1/2, 1/3), never a fraction such as 0.75.
    expect(fitRect(1920, 1080, 960, 540, true)).toEqual({ x: 0, y: 0, width: 960, height: 540 }); // exactly 1/2
    expect(fitRect(2560, 1440, 1920, 1080, true)).toEqual({ x: 320, y: 180, width: 1280, height: 720 }); // 1/2, not 3/4
    expect(fitRect(3840, 2160, 1280, 800, true)).toEqual({ x: 0, y: 40, width: 1280, height: 720 }); // exactly 1/3
    expect(fitRect(3840, 2160, 1200, 800, true)).toEqual({ x: 120, y: 130, width: 960, height: 540 }); // 1/4, not 0.3125
  });
  it('maps window positions to clamped frame positions', () => {
    const d = fitRect(1920, 1080, 960, 540);
    expect(windowToFrame(480, 270, d, 1920, 1080)).toEqual({ x: 960, y: 540 });
    expect(windowToFrame(-50, 9999, d, 1920, 1080)).toEqual({ x: 0, y: 1079 });
  });
});

describe('KeyRouter', () => {
  const SCROLL = hidForCode('ScrollLock')!;
  const A = 4;
  const F = 9;
  /** A KeyRouter on a hand-driven clock: `advance(ms)` runs the timers that come due. */
  function routerWithClock(shouldForward: () => boolean) {
    let t = 0;
    let timers: Array<{ at: number; fn: () => void; live: boolean }> = [];
    const help: boolean[] = [];
    const r = new KeyRouter(SCROLL, shouldForward, {
      now: () => t,
      schedule: (fn, ms) => {
        const timer = { at: t + ms, fn, live: true };
        timers.push(timer);
        return () => (timer.live = false);
      },
      onHelp: (on) => help.push(on),
    });
    const advance = (ms: number) => {
      t += ms;
      for (const tm of timers.filter((x) => x.live && x.at <= t)) {
        tm.live = false;
        tm.fn();
      }
      timers = timers.filter((x) => x.live);
    };
    return { r, advance, help };
  }

  it('a tap of the escape key toggles capture without showing the help', () => {
    const { r, advance, help } = routerWithClock(() => false);
    expect(r.keyDown(SCROLL, false)).toEqual({ forward: false });
    advance(120);
    expect(r.keyUp(SCROLL)).toEqual({ action: 'toggle-capture', forward: false, help: undefined });
    advance(1000);
    expect(help).toEqual([]); // no flash of the overlay on a tap
  });

  it('a hold shows the help after 300 ms and its release does not toggle capture', () => {
    const { r, advance, help } = routerWithClock(() => false);
    r.keyDown(SCROLL, false);
    advance(299);
    expect(help).toEqual([]);
    advance(1);
    expect(help).toEqual([true]);
    advance(2000); // reading the help
    expect(r.keyDown(SCROLL, true)).toEqual({ forward: false }); // auto-repeat changes nothing
    expect(r.keyUp(SCROLL)).toEqual({ action: undefined, forward: false, help: false });
    expect(help).toEqual([true]); // hidden through the result of keyUp, not twice
  });

  it('a release after 300 ms is not a tap even if the timer has not run yet', () => {
    let t = 0;
    const r = new KeyRouter(SCROLL, () => false, { now: () => t, schedule: () => () => {} });
    r.keyDown(SCROLL, false);
    t = 450;
    expect(r.keyUp(SCROLL).action).toBeUndefined();
  });

  it('held, the escape key combines with F, Q, D, I, S; a combination is not a tap and shows no help', () => {
    let capture = false;
    const { r, advance, help } = routerWithClock(() => capture);
    r.keyDown(SCROLL, false);
    advance(50);
    expect(r.keyDown(F, false)).toMatchObject({ action: 'fullscreen', forward: false });
    expect(r.keyUp(F)).toEqual({ forward: false });
    advance(500);
    expect(r.keyUp(SCROLL)).toEqual({ action: undefined, forward: false, help: undefined });
    expect(help).toEqual([]);
    expect(r.keyDown(A, false)).toEqual({ forward: false }); // no capture
    capture = true;
    expect(r.keyDown(A, false)).toEqual({ forward: true });
    capture = false;
    expect(r.keyUp(A)).toEqual({ forward: true }); // its press was forwarded, so its release is too
    expect(r.keyUp(A)).toEqual({ forward: false });
  });

  it('reset() (focus lost) hides a help that is showing', () => {
    const { r, advance, help } = routerWithClock(() => false);
    r.keyDown(SCROLL, false);
    advance(400);
    r.reset();
    expect(help).toEqual([true, false]);
    expect(r.keyUp(SCROLL).action).toBeUndefined();
  });
});

describe('CursorOverlay', () => {
  const W = 8;
  const H = 8;
  const frame = (format: 'bgra32' | 'rgba32' = 'bgra32') => ({ data: Buffer.alloc(W * H * 4, 0x40), width: W, height: H, stride: W * 4, format });
  const texel = (img: { pixels: Uint8Array; width: number; stride?: number }, x: number, y: number) => {
    const o = y * (img.stride ?? img.width * 4) + x * 4;
    return [...img.pixels.subarray(o, o + 4)];
  };

  it('shows a colour cursor as its own BGRA pixels, its corner at the message\'s position (B7: not the hotspot), independent of the frame', () => {
    const c = new CursorOverlay();
    const pixels = Buffer.alloc(2 * 12);
    pixels.set([0, 0, 255, 255], 0); // opaque red (BGRA)
    pixels.set([255, 0, 0, 128], 4); // half blue
    const img: CursorImage = { type: 'color', width: 2, height: 2, pitch: 12, hotX: 1, hotY: 1, pixels };
    c.setShape(img);
    expect(c.dependsOnFrame).toBe(false);
    expect(c.current).toMatchObject({ width: 2, height: 2, stride: 12, order: 'bgra' });
    expect(c.current!.pixels).toBe(pixels); // no copy
    expect(c.origin(3, 3)).toEqual({ x: 3, y: 3 }); // hotspot (1, 1): the pointer points at (4, 4)
    c.setShape(null);
    expect(c.current).toBeNull();
  });

  it('turns monochrome AND/XOR masks into transparent, black, white and inverted texels', () => {
    const c = new CursorOverlay();
    // 4x1 cursor, pitch 1: AND row then XOR row. Pixels: (and,xor) = (1,0) (0,0) (0,1) (1,1).
    c.setShape({ type: 'monochrome', width: 4, height: 2, pitch: 1, hotX: 0, hotY: 0, pixels: Buffer.from([0b10010000, 0b00110000]) });
    expect(c.dependsOnFrame).toBe(true);
    const f = frame('rgba32');
    f.data.set([10, 20, 30, 255], 3 * 4); // the frame pixel under the inverting texel (RGBA)
    c.update(f, 0, 0);
    const img = c.current!;
    expect([0, 1, 2, 3].map((x) => texel(img, x, 0))).toEqual([
      [0, 0, 0, 0],
      [0, 0, 0, 255],
      [255, 255, 255, 255],
      [255 - 30, 255 - 20, 255 - 10, 255], // BGRA of the inverted RGBA pixel
    ]);
    c.update(f, W - 3, 0); // the inverting texel is now outside the frame: transparent
    expect(texel(img, 3, 0)[3]).toBe(0);
  });

  it('masked colour: mask 0 replaces, mask 0xff XORs the frame under it (and XOR with black is transparent)', () => {
    const c = new CursorOverlay();
    const pixels = Buffer.from([1, 2, 3, 0, 0x0f, 0xf0, 0xff, 0xff, 0, 0, 0, 0xff]);
    c.setShape({ type: 'masked-color', width: 3, height: 1, pitch: 12, hotX: 0, hotY: 0, pixels });
    const f = frame();
    c.update(f, 0, 0);
    const img = c.current!;
    expect(texel(img, 0, 0)).toEqual([1, 2, 3, 255]);
    expect(texel(img, 1, 0)).toEqual([0x40 ^ 0x0f, 0x40 ^ 0xf0, 0x40 ^ 0xff, 255]);
    expect(texel(img, 2, 0)[3]).toBe(0);
  });
});

describe('DamageTracker', () => {
  const info = (serial: number, rects: Array<[number, number, number, number]>, formatVer = 1) =>
    ({ frameSerial: serial, formatVer, damageRects: rects.map(([x, y, width, height]) => ({ x, y, width, height })) }) as FrameInfo;

  it('uploads the first frame whole, then each frame\'s damage, carrying over what skipped frames changed', () => {
    const d = new DamageTracker();
    expect(d.take(info(1, [[0, 0, 4, 4]]), 100, 100)).toBeUndefined(); // nothing known yet
    expect(d.take(info(2, [[10, 10, 5, 5]]), 100, 100)).toEqual([{ x: 10, y: 10, width: 5, height: 5 }]);
    d.skipped(info(3, [[20, 20, 5, 5]]));
    expect(d.take(info(4, [[30, 30, 5, 5]]), 100, 100)).toEqual([
      { x: 20, y: 20, width: 5, height: 5 },
      { x: 30, y: 30, width: 5, height: 5 },
    ]);
    expect(d.take(info(5, [[95, 95, 10, 10]]), 98, 100)).toEqual([{ x: 95, y: 95, width: 3, height: 5 }]); // clipped to the texture
  });

  it('goes back to whole frames on a serial gap, a new format, a frame without rectangles, or reset()', () => {
    const d = new DamageTracker();
    d.take(info(1, []), 100, 100);
    expect(d.take(info(3, [[0, 0, 1, 1]]), 100, 100)).toBeUndefined(); // frame 2 never reached us
    expect(d.take(info(4, [[0, 0, 1, 1]], 2), 100, 100)).toBeUndefined();
    d.skipped(info(5, [], 2)); // a skipped whole-frame change
    expect(d.take(info(6, [[0, 0, 1, 1]], 2), 100, 100)).toBeUndefined();
    d.reset();
    expect(d.take(info(7, [[0, 0, 1, 1]], 2), 100, 100)).toBeUndefined();
    expect(d.take(info(8, [[0, 0, 1, 1]], 2), 100, 100)).toHaveLength(1);
  });

  it('replaces too many carried rectangles by their bounding box', () => {
    const d = new DamageTracker();
    d.take(info(1, []), 1000, 1000);
    let serial = 2;
    // 9 frames of 8 rectangles: 72 > 64, so their bounding box, then the new frame's own.
    for (let i = 0; i < 9; i++) d.skipped(info(serial++, Array.from({ length: 8 }, (_, k) => [k * 10, i * 10, 5, 5] as [number, number, number, number])));
    expect(d.take(info(serial, [[500, 500, 10, 10]]), 1000, 1000)).toEqual([
      { x: 0, y: 0, width: 75, height: 85 },
      { x: 500, y: 500, width: 10, height: 10 },
    ]);
  });
});

describe('presenter argument checks (before any native call)', () => {
  it('refuses a buffer that does not hold the frame, a bad stride and rectangles outside the frame, naming the values', () => {
    expect(() => checkFrame(Buffer.alloc(100), { width: 10, height: 10, stride: 40, format: 'bgra32' })).toThrow(coded('ERR_PRESENT_GEOMETRY', /needs 400 bytes; the buffer has 100/));
    expect(() => checkFrame(Buffer.alloc(400), { width: 10, height: 10, stride: 29, format: 'bgr24' })).toThrow(coded('ERR_PRESENT_GEOMETRY', /stride 29 for 10 bgr24 pixels \(at least 30\)/));
    expect(() => checkFrame(Buffer.alloc(400), { width: 0, height: 10, stride: 40, format: 'bgra32' })).toThrow(coded('ERR_PRESENT_GEOMETRY', /frame size 0x10/));
    expect(checkFrame(Buffer.alloc(30 * 9 + 30), { width: 10, height: 10, stride: 30, format: 'rgb24' })).toEqual({ code: 3, bpp: 3 });
    expect(() => packRects([{ x: 8, y: 0, width: 3, height: 1 }], 10, 10)).toThrow(expect.objectContaining({ code: 'ERR_PRESENT_GEOMETRY', message: expect.stringMatching(/rectangle 0 \(8,0 3x1\) is not inside the 10x10 frame/) }));
    expect(() => packRects([{ x: 0, y: 0, width: 1.5, height: 1 }], 10, 10)).toThrow(coded('ERR_PRESENT_GEOMETRY', /rectangle 0/));
    expect(packRects(undefined, 10, 10)).toBeNull();
    expect([...packRects([{ x: 1, y: 2, width: 3, height: 4 }], 10, 10)!]).toEqual([1, 2, 3, 4]);
  });
  it('knows the OpenGL implementations that rasterize in software', () => {
    expect(isSoftwareGl('llvmpipe (LLVM 15.0.6, 256 bits)')).toBe(true);
    expect(isSoftwareGl('AMD Radeon RX 6800 (radeonsi, navi21, LLVM 15.0.6, DRM 3.49, 6.1.0)')).toBe(false);
    expect(isSoftwareGl(null)).toBe(false);
  });
});

describe('pixel formats', () => {
  const info = (name: string, frameWidth = 1920): FrameInfo => {
    const f = { format: formatOf(['', 'BGRA', 'RGBA', 'RGBA10', 'RGBA16F', 'BGR_32', 'RGB_24'].indexOf(name))!, dataWidth: 1440, dataHeight: 1080, frameWidth, pitch: name === 'RGBA16F' ? 11520 : 5760 };
    const geometry = pixelGeometry(f.format, f);
    if (typeof geometry === 'string') throw new Error(geometry);
    return { ...f, geometry } as FrameInfo;
  };
  it('shows 8-bit and 24-bit formats as they are and refuses HDR with a message', () => {
    expect(presentableFormat(info('BGR_32'))).toMatchObject({ ok: true, sdlFormat: 'bgr24', width: 1920, stride: 5760 });
    expect(presentableFormat(info('RGB_24'))).toMatchObject({ ok: true, sdlFormat: 'rgb24' });
    expect(presentableFormat(info('RGBA10'))).toMatchObject({ ok: false, message: expect.stringMatching(/RGBA10 .*turn HDR off/) });
    expect(presentableFormat(info('RGBA16F')).ok).toBe(false);
  });
});

describe('viewer config', () => {
  const dir = mkdtempSync(join(tmpdir(), 'glasspane-config-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const file = (name: string, text: string) => {
    const p = join(dir, name);
    writeFileSync(p, text);
    return p;
  };
  it('reads and validates the file, expanding ~', () => {
    const c = loadViewerConfig(file('ok.toml', 'escapeKey = "Pause"\nfullscreen = true\nsize = "1920x1080"\nscreenshotDir = "~/shots"\n'));
    expect(c).toMatchObject({ escapeKey: 'Pause', fullscreen: true, size: '1920x1080' });
    expect(c.screenshotDir).toMatch(/\/shots$/);
    expect(c.screenshotDir!.startsWith('~')).toBe(false);
  });
  it('names the file, the key and the fix', () => {
    expect(() => loadViewerConfig(file('k.toml', 'escapeKey = "Scroll"\n'))).toThrow(coded('ERR_CONFIG', /k\.toml:1:13: escapeKey: unknown key "Scroll" \(did you mean ScrollLock/));
    expect(() => loadViewerConfig(file('s.toml', 'size = "big"\n'))).toThrow(coded('ERR_CONFIG', /size: must look like 1920x1080/));
    expect(() => loadViewerConfig(file('m.toml', 'spiceMouse = "tablet"\n'))).toThrow(coded('ERR_CONFIG', /m\.toml:1:14: spiceMouse: expected one of "server", "client", got the string "tablet"/));
    expect(() => loadViewerConfig(file('c.toml', 'clipboard = "yes"\n'))).toThrow(coded('ERR_CONFIG', /c\.toml:1:13: clipboard: expected a boolean \(true or false\), got the string "yes"/));
    expect(() => loadViewerConfig(file('u.toml', 'colour = "blue"\n'))).toThrow(coded('ERR_CONFIG', /u\.toml:1:10: unknown key "colour"/));
    expect(() => loadViewerConfig(file('t.toml', 'vsync = \n'))).toThrow(coded('ERR_CONFIG', /t\.toml:1:9: not valid TOML/));
    expect(loadViewerConfig(file('a.toml', 'audio = false\naudioDevice = "USB DAC"\nmicrophone = true\nmicrophoneDevice = "Headset"\n'))).toEqual({ audio: false, audioDevice: 'USB DAC', microphone: true, microphoneDevice: 'Headset' });
    expect(() => loadViewerConfig(file('mic.toml', 'microphone = "on"\n'))).toThrow(coded('ERR_CONFIG', /mic\.toml:1:14: microphone: expected a boolean \(true or false\), got the string "on"/));
    expect(() => loadViewerConfig(join(dir, 'missing.toml'))).toThrow(coded('ERR_CONFIG', /does not exist/));
  });
  it('a missing default file is an empty config', () => {
    expect(loadViewerConfig(undefined, { XDG_CONFIG_HOME: join(dir, 'nothing') })).toEqual({});
  });
});

describe('viewer stats', () => {
  it('turns counts into per-second rates and medians', () => {
    const s = new ViewerStats();
    const t0 = performance.now();
    for (let i = 0; i < 30; i++) {
      s.frame(i < 15 ? 2 : 4);
      s.render(1);
    }
    s.render(1);
    const f = s.tick(t0 + 500);
    expect(f.ups).toBeCloseTo(60, 0);
    expect(f.fps).toBeCloseTo(62, 0);
    expect(f.latencyMs).toBe(2);
    expect(f.latencyP99Ms).toBe(4);
    expect(f.presentMs).toBe(1);
    expect(s.tick(t0 + 1500)).toMatchObject({ ups: 0, fps: 0, latencyMs: null, latencyP99Ms: null, frames: 30, renders: 31 });
  });
});
