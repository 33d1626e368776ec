/**
 * Fullscreen in the real viewer under a bare Xvfb (no window manager): toggling it while
 * captured sends the guest no motion of its own (the pointer is re-centred, and the jump that
 * makes is not a user's move), and toggling back shows the whole frame again, not a crop.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startXvfb, findWindow, xdotool, type Xvfb } from '../support/xvfb.js';
import { screenshot } from '../support/xwd.js';
import { type CliRun, killAll, removeShm, shmPath, startCli, waitFor } from '../support/helpers.js';
import { sceneColour } from '../../src/scenes/bars.js';
import { fitRect } from '../../src/viewer/geometry.js';
import type { StubInputMessage } from '../../src/scenes/input-messages.js';
import { needs, WINDOW_PARTS } from '../support/system.js';

let x: Xvfb;
const procs: CliRun[] = [];
beforeAll(async () => {
  x = await startXvfb(1280, 800);
});
afterAll(async () => {
  await killAll(procs);
  await x?.stop();
  removeShm();
});
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const lastStats = (view: CliRun): { capture: boolean; frames: number; skipped: number } | undefined => {
  const lines = view.stdout().trim().split('\n').filter(Boolean);
  return lines.length ? JSON.parse(lines.at(-1)!) : undefined;
};
const motions = (stub: CliRun) =>
  stub
    .stdout()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as StubInputMessage)
    .filter((m): m is Extract<StubInputMessage, { t: 'motion' }> => m.t === 'motion');

/** The stub's last frame (serial 4) at points well inside its bars, in window coordinates. */
function expectWholeFrame(win: { x: number; y: number; width: number; height: number }, fw: number, fh: number, what: string): void {
  const img = screenshot(x.display);
  const d = fitRect(fw, fh, win.width, win.height);
  for (const fy of [Math.floor(fh * 0.3), Math.floor(fh * 0.9)]) {
    for (let i = 1; i < 8; i++) {
      const fx = Math.floor(((i + 0.5) * fw) / 8);
      const px = win.x + d.x + Math.floor(((fx + 0.5) * d.width) / fw);
      const py = win.y + d.y + Math.floor(((fy + 0.5) * d.height) / fh);
      expect(img.rgb(px, py), `${what}: frame pixel ${fx},${fy}`).toEqual(sceneColour(4, fx, fy, fw, fh));
    }
  }
}

describe.skipIf(needs(...WINDOW_PARTS))('fullscreen under a bare X server', () => {
  it('toggling fullscreen in capture sends no motion, and toggling back shows the whole frame', async () => {
    const FW = 640;
    const FH = 360;
    const shm = shmPath('fs');
    const stub = startCli(['stub', '--shm', shm, '--size', '8', '--width', String(FW), '--height', String(FH), '--fps', '30', '--frames', '5', '--scene', 'bars', '--input-port', '0', '--input-log', '--quiet'], x.env);
    procs.push(stub);
    await waitFor(() => /^ws:\/\//m.test(stub.stdout()), 10_000, 'the stub input endpoint');
    const url = /ws:\/\/[0-9.:]+/.exec(stub.stdout())![0];
    const view = startCli(['view', '--shm', shm, '--size', `${FW}x${FH}`, '--no-osd', '--input', `stub:${url}`, '--stats', '--title', 'fstest'], x.env);
    procs.push(view);
    // Presented or superseded by a newer one (latest wins): all 5 taken, the last one on screen.
    await waitFor(() => (lastStats(view)?.frames ?? 0) + (lastStats(view)?.skipped ?? 0) >= 5, 30_000, 'the viewer to take all 5 frames');
    await sleep(300);
    let win = findWindow(x, 'fstest');
    expect([win.width, win.height]).toEqual([FW, FH]);
    expectWholeFrame(win, FW, FH, 'windowed');
    xdotool(x, 'windowfocus', '--sync', win.id);

    xdotool(x, 'key', 'Scroll_Lock');
    await waitFor(() => lastStats(view)?.capture === true, 5000, 'capture on');
    await sleep(300);
    const before = motions(stub).length;

    // Fullscreen on (escape+F) while captured: the window grows to the screen.
    xdotool(x, 'keydown', 'Scroll_Lock', 'key', 'f', 'keyup', 'Scroll_Lock');
    await waitFor(() => findWindow(x, 'fstest').width === 1280, 5000, 'the window to fill the screen');
    await sleep(800);
    expect(lastStats(view)?.capture).toBe(true);
    expect(motions(stub).slice(before), 'motion sent by the fullscreen switch itself').toEqual([]);
    win = findWindow(x, 'fstest');
    expectWholeFrame(win, FW, FH, 'fullscreen');

    // A real move after the switch still arrives, as exactly what the pointer did.
    xdotool(x, 'mousemove_relative', '--', '7', '4');
    await waitFor(() => motions(stub).length > before, 5000, 'motion after the switch');
    await sleep(300);
    const after = motions(stub).slice(before);
    expect([after.reduce((s, m) => s + m.dx, 0), after.reduce((s, m) => s + m.dy, 0)]).toEqual([7, 4]);

    // And back: the window returns to its size and shows the whole frame, not a crop of it.
    const n = motions(stub).length;
    xdotool(x, 'keydown', 'Scroll_Lock', 'key', 'f', 'keyup', 'Scroll_Lock');
    await waitFor(() => findWindow(x, 'fstest').width === FW, 5000, 'the window to return to its size');
    await sleep(800);
    expect(motions(stub).slice(n), 'motion sent by leaving fullscreen').toEqual([]);
    win = findWindow(x, 'fstest');
    expect([win.width, win.height]).toEqual([FW, FH]);
    expectWholeFrame(win, FW, FH, 'back from fullscreen');
  }, 90_000);
});
