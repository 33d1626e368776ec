/**
 * The real viewer window under Xvfb against a real guest-stub: screenshots of the X display show
 * the stub's scene at the expected places (exact colours), the guest cursor where the stub put
 * it, the aspect ratio kept when the window is resized, and a resolution change followed.
 */
import { describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createCanvas, loadImage } from '@napi-rs/canvas';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findWindow, xdotool } from '../support/xvfb.js';
import { screenshot } from '../support/xwd.js';
import { eventually, runCli, shmPath, waitFor, type CliRun } from '../support/helpers.js';
import { useWindowHarness } from '../support/window-harness.js';
import { cursorPosition, sceneColour } from '../../src/scenes/bars.js';
import { fitRect } from '../../src/viewer/geometry.js';
import { needs, WINDOW_PARTS } from '../support/system.js';
import { exitStatusOf } from '../support/errors.js';

const h = useWindowHarness();
const start = (args: string[]) => h.start(args);

interface Figures {
  /** Guest frames presented; with `skipped` (superseded by a newer one first), every frame consumed. */
  frames: number;
  skipped: number;
  fps: number;
  ups: number;
  latencyMs: number | null;
  presentMs: number | null;
  width: number;
  height: number;
  capture: boolean;
}
/** Frames the viewer took: presented, or superseded before it got to them (latest wins). */
const consumed = (f: Figures | null): number => (f ? f.frames + f.skipped : 0);
const lastFigures = (p: CliRun): Figures | null => {
  const lines = p.stdout().trim().split('\n').filter(Boolean);
  return lines.length ? (JSON.parse(lines.at(-1)!) as Figures) : null;
};

/** Window coordinates of frame pixel (fx, fy) — the centre of its scaled footprint. */
function toWindow(win: { x: number; y: number; width: number; height: number }, fw: number, fh: number, fx: number, fy: number) {
  const d = fitRect(fw, fh, win.width, win.height);
  return { x: win.x + d.x + Math.floor(((fx + 0.5) * d.width) / fw), y: win.y + d.y + Math.floor(((fy + 0.5) * d.height) / fh) };
}

/** Points well inside bars (away from edges, the marker texels and the band border). */
function samplePoints(fw: number, fh: number): Array<[number, number]> {
  const pts: Array<[number, number]> = [];
  for (const fy of [Math.floor(fh * 0.3), Math.floor(fh * 0.9)]) for (let i = 1; i < 8; i++) pts.push([Math.floor(((i + 0.5) * fw) / 8), fy]);
  return pts;
}

describe.skipIf(needs(...WINDOW_PARTS))('viewer window under Xvfb', () => {
  it('shows the stub scene pixel-exact with the guest cursor, keeps the aspect ratio on resize, and follows a resolution change', async () => {
    const shm = shmPath('win');
    const FW = 640;
    const FH = 360;
    // 5 frames, then the stub keeps the session alive: the last frame (serial 4) stays on screen.
    start(['stub', '--shm', shm, '--size', '8', '--width', String(FW), '--height', String(FH), '--fps', '30', '--frames', '5', '--quiet']);
    const view = start(['view', '--shm', shm, '--size', `${FW}x${FH}`, '--no-osd', '--stats', '--title', 'wintest']);
    await waitFor(() => consumed(lastFigures(view)) >= 5, 60_000, 'the viewer to take all 5 frames');
    let win = findWindow(h.x, 'wintest');
    expect([win.width, win.height]).toEqual([FW, FH]);

    // Taken is not yet on the X server's screen: wait for the last frame's pixels to be there.
    // The cursor: the stub's arrow has its hotspot at its tip; (2, 10) below the tip is orange body.
    const c = cursorPosition(5, FW, FH);
    const body = toWindow(win, FW, FH, c.x + 2, c.y + 10);
    const outline = toWindow(win, FW, FH, c.x, c.y + 10);
    let img = await eventually(() => {
      const shot = screenshot(h.x.display);
      for (const [fx, fy] of samplePoints(FW, FH)) {
        const p = toWindow(win, FW, FH, fx, fy);
        expect(shot.rgb(p.x, p.y), `frame pixel ${fx},${fy}`).toEqual(sceneColour(4, fx, fy, FW, FH));
      }
      expect(shot.rgb(body.x, body.y), 'cursor body').toEqual([255, 140, 0]);
      expect(shot.rgb(outline.x, outline.y), 'cursor outline').toEqual([0, 0, 0]);
      return shot;
    }, 30_000, 'the last frame (serial 4) and the guest cursor on screen');

    // Resize to a wide window: pillarboxed, aspect ratio kept.
    xdotool(h.x, 'windowsize', win.id, '800', '300');
    await waitFor(() => findWindow(h.x, 'wintest').width === 800, 30_000, 'the window resized to 800 wide');
    win = findWindow(h.x, 'wintest');
    expect([win.width, win.height]).toEqual([800, 300]);
    const d = fitRect(FW, FH, 800, 300);
    expect(d.width / d.height).toBeCloseTo(FW / FH, 1);
    await eventually(() => {
      img = screenshot(h.x.display);
      expect(img.rgb(win.x + 5, win.y + 150)).toEqual([0, 0, 0]);
      expect(img.rgb(win.x + 795, win.y + 150)).toEqual([0, 0, 0]);
      for (const [fx, fy] of samplePoints(FW, FH)) {
        const p = toWindow(win, FW, FH, fx, fy);
        expect(img.rgb(p.x, p.y), `resized: frame pixel ${fx},${fy}`).toEqual(sceneColour(4, fx, fy, FW, FH));
      }
    }, 30_000, 'the frame redrawn pillarboxed in the resized window');

    // The producer restarts at another resolution: the viewer follows.
    h.procs[0]!.child.kill('SIGTERM');
    await h.procs[0]!.exited;
    start(['stub', '--shm', shm, '--size', '8', '--width', '320', '--height', '240', '--fps', '30', '--frames', '5', '--quiet']);
    await waitFor(() => lastFigures(view)?.width === 320 && lastFigures(view)?.height === 240, 60_000, 'the viewer to report 320x240');
    await eventually(() => {
      img = screenshot(h.x.display);
      win = findWindow(h.x, 'wintest');
      for (const [fx, fy] of samplePoints(320, 240)) {
        const p = toWindow(win, 320, 240, fx, fy);
        expect(img.rgb(p.x, p.y), `320x240: frame pixel ${fx},${fy}`).toEqual(sceneColour(4, fx, fy, 320, 240));
      }
    }, 30_000, 'the last 320x240 frame (serial 4) on screen');
  }, 120_000);

  it.each([
    ['bgr_32', 'BGR_32'],
    ['rgb_24', 'RGB_24'],
  ])('shows B7\'s 24-bit %s frames (padded rows) with exact colours, on screen and in an escape+S screenshot', async (format, name) => {
    const shm = shmPath(format);
    const FW = 640;
    const FH = 360;
    start(['stub', '--shm', shm, '--size', '8', '--width', String(FW), '--height', String(FH), '--fps', '30', '--frames', '5', '--format', format, '--quiet']);
    const shots = mkdtempSync(join(tmpdir(), 'glasspane-shots-'));
    const view = start(['view', '--shm', shm, '--size', `${FW}x${FH}`, '--no-osd', '--stats', '--title', `fmt-${format}`, '--screenshot-dir', shots]);
    await waitFor(() => consumed(lastFigures(view)) >= 5, 60_000, 'the viewer to take all 5 frames');
    expect((lastFigures(view) as Figures & { format: string }).format).toBe(name);
    const win = findWindow(h.x, `fmt-${format}`);
    await eventually(() => {
      const img = screenshot(h.x.display);
      for (const [fx, fy] of samplePoints(FW, FH)) {
        const p = toWindow(win, FW, FH, fx, fy);
        expect(img.rgb(p.x, p.y), `${format}: frame pixel ${fx},${fy}`).toEqual(sceneColour(4, fx, fy, FW, FH));
      }
    }, 30_000, `the last ${format} frame (serial 4) on screen`);

    // escape+S: the frame on screen (serial 4) as a PNG at the guest's size.
    const focus = findWindow(h.x, `fmt-${format}`);
    xdotool(h.x, 'windowfocus', '--sync', focus.id);
    xdotool(h.x, 'keydown', 'Scroll_Lock', 'key', 's', 'keyup', 'Scroll_Lock');
    // The message comes once the file is written whole (the file appears before that).
    await waitFor(() => /screenshot saved: /.test(view.stderr()), 30_000, 'the "screenshot saved" message');
    const file = join(shots, readdirSync(shots).find((f) => f.endsWith('.png'))!);
    const png = await loadImage(readFileSync(file));
    const ctx = createCanvas(png.width, png.height).getContext('2d');
    ctx.drawImage(png, 0, 0);
    expect([png.width, png.height]).toEqual([FW, FH]);
    for (const [fx, fy] of samplePoints(FW, FH)) {
      expect([...ctx.getImageData(fx, fy, 1, 1).data.subarray(0, 3)], `${format} PNG: pixel ${fx},${fy}`).toEqual(sceneColour(4, fx, fy, FW, FH));
    }
    rmSync(shots, { recursive: true, force: true });
  }, 120_000);

  // Correctness, not speed (the bench measures rates and the present cost): the figures move
  // with real frames. (No bound on UPS: after a stall the stub catches up on up to a second of
  // frames, so one second may carry more than its rate.)
  it('OSD figures come from real counters: updates, latency and present cost are measured', async () => {
    const shm = shmPath('osd');
    start(['stub', '--shm', shm, '--size', '8', '--width', '640', '--height', '360', '--fps', '30', '--quiet']);
    const view = start(['view', '--shm', shm, '--size', '640x360', '--stats']);
    await waitFor(() => (lastFigures(view)?.frames ?? 0) > 90 && (lastFigures(view)?.ups ?? 0) > 0, 120_000, '90 frames');
    const f = lastFigures(view)!;
    expect(f.ups).toBeGreaterThan(0);
    expect(f.fps).toBeGreaterThan(0);
    expect(f.latencyMs).toBeGreaterThan(0);
    expect(f.presentMs).toBeGreaterThan(0);
    expect([f.width, f.height]).toEqual([640, 360]);
  }, 180_000);

  it('--screenshot writes the guest frame as a PNG at the guest size', async () => {
    const shm = shmPath('shot');
    start(['stub', '--shm', shm, '--size', '8', '--width', '320', '--height', '200', '--fps', '30', '--quiet']);
    const file = join(mkdtempSync(join(tmpdir(), 'glasspane-shot-')), 'shot.png'); // in the run's TMPDIR: removed with it
    const r = await runCli(['view', '--shm', shm, '--screenshot', file]);
    expect(r.code).toBe(0);
    expect(existsSync(file)).toBe(true);
    const png = readFileSync(file);
    expect(png.subarray(1, 4).toString()).toBe('PNG');
    expect([png.readUInt32BE(16), png.readUInt32BE(20)]).toEqual([320, 200]);
  }, 120_000);

  it('without a display, says so and suggests --headless', async () => {
    const r = await runCli(['view', '--shm', '/dev/shm/whatever'], { env: { DISPLAY: undefined, WAYLAND_DISPLAY: undefined } });
    expect(r.code).toBe(exitStatusOf('ERR_NO_DISPLAY'));
    expect(r.stderr).toMatch(/no display to open a window on .* add --headless/s);
  });
});
