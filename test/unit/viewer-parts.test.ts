import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fitRect, windowToFrame } from '../../src/viewer/geometry.js';
import { KeyRouter, hidForCode } from '../../src/viewer/key-router.js';
import { FrameCompositor, type CursorImage } from '../../src/viewer/compositor.js';
import { presentableFormat } from '../../src/viewer/pixel-format.js';
import { pixelGeometry } from '../../src/kvmfr/geometry.js';
import { loadViewerConfig } from '../../src/viewer/config.js';
import { ViewerStats } from '../../src/viewer/viewer-stats.js';
import { formatOf } from '../../src/kvmfr/formats.js';
import type { FrameInfo } from '../../src/kvmfr/frame.js';

describe('geometry', () => {
  it('letterboxes and pillarboxes keeping the aspect ratio, centred', () => {
    expect(fitRect(1920, 1080, 1280, 1024)).toEqual({ x: 0, y: 152, width: 1280, height: 720 });
    expect(fitRect(1920, 1080, 800, 300)).toEqual({ x: 133, y: 0, width: 533, height: 300 });
    expect(fitRect(640, 360, 1400, 800, true)).toEqual({ x: 60, y: 40, width: 1280, height: 720 }); // 2x, not 2.18x
    expect(fitRect(1920, 1080, 960, 540, true)).toEqual({ x: 0, y: 0, width: 960, height: 540 }); // below 1x: not integer
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
    expect(r.keyDown(F, false)).toEqual({ action: 'fullscreen', forward: false });
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

describe('FrameCompositor', () => {
  const W = 8;
  const H = 8;
  const frame = () => Buffer.alloc(W * H * 4, 0x40);
  const px = (b: Buffer, x: number, y: number) => [...b.subarray((y * W + x) * 4, (y * W + x) * 4 + 3)];

  it('draws a colour cursor at its hotspot with alpha, and restores what was under it', () => {
    const buf = frame();
    const original = Buffer.from(buf);
    const c = new FrameCompositor();
    c.attach(buf, W, H, W * 4, 'bgra32');
    const pixels = Buffer.alloc(2 * 2 * 4);
    pixels.set([0, 0, 255, 255], 0); // opaque red (BGRA)
    pixels.set([255, 0, 0, 128], 4); // half blue
    const img: CursorImage = { type: 'color', width: 2, height: 2, pitch: 8, hotX: 1, hotY: 1, pixels };
    c.drawCursor(img, 3, 3);
    expect(px(buf, 2, 2)).toEqual([0, 0, 255]); // BGRA red at (3-1, 3-1)
    expect(px(buf, 3, 2)).toEqual([Math.floor((255 * 128 + 0x40 * 127) / 255), 0x40 * 127 / 255 | 0, 0x40 * 127 / 255 | 0]);
    expect(px(buf, 2, 3)).toEqual([0x40, 0x40, 0x40]); // transparent texel
    c.restore();
    expect(buf.equals(original)).toBe(true);
    c.drawCursor(img, 8, 8); // clipped at the bottom-right corner: only its red texel is inside
    expect(px(buf, 7, 7)).toEqual([0, 0, 255]);
    c.restore();
    expect(buf.equals(original)).toBe(true);
  });

  it('draws monochrome AND/XOR cursors: transparent, black, white, inverted', () => {
    const buf = frame();
    const c = new FrameCompositor();
    c.attach(buf, W, H, W * 4, 'rgba32');
    // 4x1 cursor, pitch 1: AND row then XOR row. Pixels: (and,xor) = (1,0) (0,0) (0,1) (1,1).
    const img: CursorImage = { type: 'monochrome', width: 4, height: 2, pitch: 1, hotX: 0, hotY: 0, pixels: Buffer.from([0b10010000, 0b00110000]) };
    c.drawCursor(img, 0, 0);
    expect([px(buf, 0, 0), px(buf, 1, 0), px(buf, 2, 0), px(buf, 3, 0)]).toEqual([
      [0x40, 0x40, 0x40],
      [0, 0, 0],
      [255, 255, 255],
      [0xbf, 0xbf, 0xbf],
    ]);
  });

  it('refuses a buffer too small for the format it is told', () => {
    expect(() => new FrameCompositor().attach(Buffer.alloc(10), W, H, W * 4, 'bgra32')).toThrow(RangeError);
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
    expect(() => loadViewerConfig(file('k.toml', 'escapeKey = "Scroll"\n'))).toThrow(/k\.toml:1:13: escapeKey: not a KeyboardEvent\.code name/);
    expect(() => loadViewerConfig(file('s.toml', 'size = "big"\n'))).toThrow(/size: must look like 1920x1080/);
    expect(() => loadViewerConfig(file('m.toml', 'spiceMouse = "tablet"\n'))).toThrow(/m\.toml:1:14: spiceMouse: expected one of "server", "client", got the string "tablet"/);
    expect(() => loadViewerConfig(file('c.toml', 'clipboard = "yes"\n'))).toThrow(/c\.toml:1:13: clipboard: expected a boolean \(true or false\), got the string "yes"/);
    expect(() => loadViewerConfig(file('u.toml', 'colour = "blue"\n'))).toThrow(/u\.toml:1:10: unknown key "colour"/);
    expect(() => loadViewerConfig(file('t.toml', 'vsync = \n'))).toThrow(/t\.toml:1:9: not valid TOML/);
    expect(loadViewerConfig(file('a.toml', 'audio = false\naudioDevice = "USB DAC"\nmicrophone = true\nmicrophoneDevice = "Headset"\n'))).toEqual({ audio: false, audioDevice: 'USB DAC', microphone: true, microphoneDevice: 'Headset' });
    expect(() => loadViewerConfig(file('mic.toml', 'microphone = "on"\n'))).toThrow(/mic\.toml:1:14: microphone: expected a boolean \(true or false\), got the string "on"/);
    expect(() => loadViewerConfig(join(dir, 'missing.toml'))).toThrow(/does not exist/);
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
    expect(f.presentMs).toBe(1);
    expect(s.tick(t0 + 1500)).toMatchObject({ ups: 0, fps: 0, latencyMs: null, frames: 30, renders: 31 });
  });
});
