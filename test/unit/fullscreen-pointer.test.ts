/**
 * The parts behind fullscreen in capture, on their own: the relative pointer ignores the jump a
 * geometry change makes, and the fullscreen switch restores the windowed size, leaves a granted
 * request to the window manager, and covers the screen by hand when nothing granted it. The real
 * window under a bare X server is in test/viewer/fullscreen.test.ts; the fake window here only
 * reaches the window-manager branch, which that X server has none for.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { RelativePointer } from '../../src/viewer/relative-pointer.js';
import { displayUnder, FullscreenSwitch, type FullscreenWindow } from '../../src/viewer/fullscreen.js';

describe('RelativePointer', () => {
  it('sends each move away from the centre and pulls the pointer back', () => {
    const p = new RelativePointer();
    expect(p.step(330, 175, 320, 180)).toEqual({ dx: 10, dy: -5, warp: true });
    expect(p.step(320, 180, 320, 180)).toEqual({ dx: 0, dy: 0, warp: false });
  });

  it('after a re-centre, sends nothing until the pointer is seen at the centre', () => {
    let t = 0;
    const p = new RelativePointer(250, () => t);
    p.recentred();
    expect(p.step(160, 40, 640, 400)).toEqual({ dx: 0, dy: 0, warp: true }); // the jump of a fullscreen switch
    t = 10;
    expect(p.step(640, 400, 640, 400)).toEqual({ dx: 0, dy: 0, warp: false });
    expect(p.step(647, 404, 640, 400)).toEqual({ dx: 7, dy: 4, warp: true }); // the user again
  });

  it('stops waiting for a lost warp after the settle time', () => {
    let t = 0;
    const p = new RelativePointer(250, () => t);
    p.recentred();
    expect(p.step(100, 100, 640, 400).dx).toBe(0);
    t = 300;
    expect(p.step(100, 100, 640, 400)).toEqual({ dx: 0, dy: 0, warp: true });
    expect(p.step(642, 400, 640, 400)).toEqual({ dx: 2, dy: 0, warp: true });
  });
});

/** A window whose manager grants fullscreen (or, with `wm: false`, where nothing does). */
function fakeWindow(wm: boolean): FullscreenWindow & { calls: string[] } {
  const calls: string[] = [];
  const w = {
    x: 320,
    y: 220,
    width: 640,
    height: 360,
    fullscreen: false,
    destroyed: false,
    calls,
    setFullscreen(on: boolean) {
      calls.push(`fullscreen ${on}`);
      w.fullscreen = on;
      // SDL believes the window covers the screen at once; only a window manager moves it.
      if (on) Object.assign(w, { width: 1280, height: 800 }, wm ? { x: 0, y: 0 } : {});
      else if (wm) Object.assign(w, { x: 320, y: 220, width: 640, height: 360 });
    },
    setPosition(x: number, y: number) {
      calls.push(`position ${x},${y}`);
      Object.assign(w, { x, y });
    },
    setSize(width: number, height: number) {
      calls.push(`size ${width}x${height}`);
      Object.assign(w, { width, height });
    },
  };
  return w;
}
const SCREEN = { x: 0, y: 0, width: 1280, height: 800 };

describe('FullscreenSwitch', () => {
  afterEach(() => vi.useRealTimers());

  it('with a window manager: asks SDL, and on the way back has nothing to fix', () => {
    vi.useFakeTimers();
    const w = fakeWindow(true);
    const f = new FullscreenSwitch(w, () => SCREEN, 1000);
    f.toggle();
    vi.advanceTimersByTime(1500);
    expect(f.active).toBe(true);
    f.toggle();
    expect(w.calls).toEqual(['fullscreen true', 'fullscreen false']);
    expect([w.x, w.y, w.width, w.height]).toEqual([320, 220, 640, 360]);
  });

  it('without one: covers the screen by hand, and restores position and size on the way back', () => {
    vi.useFakeTimers();
    const w = fakeWindow(false);
    const f = new FullscreenSwitch(w, () => SCREEN, 1000);
    f.toggle();
    vi.advanceTimersByTime(1500);
    expect(f.active).toBe(true);
    expect(w.calls).toEqual(['fullscreen true', 'fullscreen false', 'position 0,0', 'size 1280x800']);
    f.toggle();
    expect(f.active).toBe(false);
    expect(w.calls.slice(4)).toEqual(['position 320,220', 'size 640x360']);
  });

  it('leaving before the check ran still gives SDL the windowed size back (no cropped picture)', () => {
    vi.useFakeTimers();
    const w = fakeWindow(false);
    const f = new FullscreenSwitch(w, () => SCREEN, 1000);
    f.toggle();
    f.toggle();
    vi.advanceTimersByTime(1500);
    expect(w.calls).toEqual(['fullscreen true', 'fullscreen false', 'size 640x360']);
    expect([w.width, w.height]).toEqual([640, 360]);
  });

  it('is pending from the request until granted (settle on the window manager\'s move) or done by hand, then says to draw again', () => {
    vi.useFakeTimers();
    const settled: string[] = [];
    const wm = fakeWindow(true);
    const granted = new FullscreenSwitch(wm, () => SCREEN, 1000, () => settled.push('wm'));
    granted.toggle();
    expect(granted.pending).toBe(true);
    granted.settle(); // the window manager's move arrived
    expect(granted.pending).toBe(false);
    expect(settled).toEqual(['wm']);
    const bare = fakeWindow(false);
    const byHand = new FullscreenSwitch(bare, () => SCREEN, 1000, () => settled.push('by hand'));
    byHand.toggle();
    byHand.settle(); // SDL's own resize: nothing granted yet
    expect(byHand.pending).toBe(true);
    vi.advanceTimersByTime(1000);
    expect(byHand.pending).toBe(false);
    expect(settled).toEqual(['wm', 'by hand']);
  });

  it('displayUnder picks the display under the window centre', () => {
    const displays = [{ geometry: SCREEN }, { geometry: { x: 1280, y: 0, width: 1920, height: 1080 } }];
    expect(displayUnder({ x: 1500, y: 100, width: 640, height: 360 }, displays)).toEqual(displays[1]!.geometry);
    expect(displayUnder({ x: -900, y: 100, width: 640, height: 360 }, displays)).toEqual(SCREEN);
  });
});
