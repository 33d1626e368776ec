import { describe, expect, it } from 'vitest';
import { BarsScene, cursorPosition, sceneColour, stampTimestamp } from '../../src/scenes/bars.js';
import { SceneVerifier } from '../../src/scenes/verify.js';
import { FrameType } from '../../src/kvmfr/layout.js';

describe('guest-stub bars scene', () => {
  const W = 640;
  const H = 360;
  const render = (serial: number, type: number = FrameType.BGRA, pitch = W * 4) => {
    const s = new BarsScene(W, H, type);
    const buf = Buffer.alloc(pitch * H);
    s.render(buf, pitch, H, serial);
    stampTimestamp(buf, 123456789n);
    return buf;
  };
  const px = (buf: Buffer, x: number, y: number, pitch = W * 4) => [...buf.subarray(y * pitch + x * 4, y * pitch + x * 4 + 4)];

  it('is the function sceneColour(serial, x, y) at every sampled pixel, in both byte orders', () => {
    for (const serial of [0, 1, 77, 1000]) {
      const bgra = render(serial);
      const rgba = render(serial, FrameType.RGBA);
      for (const [x, y] of [[10, 5], [100, 100], [639, 359], [320, 280], [8, 1], [500, 269], [500, 270]]) {
        const [r, g, b] = sceneColour(serial, x!, y!, W, H);
        expect(px(bgra, x!, y!)).toEqual([b, g, r, 255]);
        expect(px(rgba, x!, y!)).toEqual([r, g, b, 255]);
      }
    }
  });

  it('moves: consecutive serials differ', () => {
    expect(render(1).equals(render(2))).toBe(false);
  });

  it('verifies its own frames, with padding in the pitch, and carries serial and timestamp', () => {
    const v = new SceneVerifier();
    const pitch = W * 4 + 64;
    const buf = render(5, FrameType.BGRA, pitch);
    expect(v.verify(buf, W, H, H, pitch, FrameType.BGRA, 5)).toEqual({ ok: true, serial: 5, postedNs: 123456789n });
  });

  it('detects a single wrong byte, a swapped row, a stale frame and the wrong byte order', () => {
    const v = new SceneVerifier();
    const pitch = W * 4;
    const bad = render(9);
    bad[200 * pitch + 123 * 4 + 1]! ^= 1;
    expect(v.verify(bad, W, H, H, pitch, FrameType.BGRA, 9).error).toMatch(/row 200 pixels differ/);
    const swapped = render(9);
    swapped.copy(swapped, 10 * pitch, 11 * pitch, 12 * pitch);
    expect(v.verify(swapped, W, H, H, pitch, FrameType.BGRA, 9).error).toMatch(/row 10 carries the tag/);
    expect(v.verify(render(8), W, H, H, pitch, FrameType.BGRA, 9).error).toMatch(/carry serial 8 but the frame header says 9/);
    expect(v.verify(render(9), W, H, H, pitch, FrameType.RGBA, 9).ok).toBe(false);
  });

  it('verifies only the rows a truncated frame carries', () => {
    const v = new SceneVerifier();
    const s = new BarsScene(W, H, FrameType.BGRA);
    const rows = 100;
    const buf = Buffer.alloc(W * 4 * rows);
    s.render(buf, W * 4, rows, 3);
    expect(v.verify(buf, W, H, rows, W * 4, FrameType.BGRA, 3).ok).toBe(true);
  });

  it('moves the cursor inside the frame', () => {
    for (let s = 0; s < 200; s += 7) {
      const p = cursorPosition(s, W, H);
      expect(p.x).toBeGreaterThanOrEqual(0);
      expect(p.x).toBeLessThan(W);
      expect(p.y).toBeGreaterThanOrEqual(0);
      expect(p.y).toBeLessThan(H);
    }
    expect(cursorPosition(1, W, H)).not.toEqual(cursorPosition(20, W, H));
  });
});
