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
import { needs, WINDOW_PARTS } from '../support/system.js';
import type { StubInputMessage } from '../../src/scenes/input-messages.js';

let x: Xvfb;
const procs: CliRun[] = [];
beforeAll(async () => {
  if (needs(...WINDOW_PARTS)) return;
  x = await startXvfb(1280, 800);
});
afterAll(async () => {
  await killAll(procs);
  await x?.stop();
  removeShm();
});
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
const keys = (stub: CliRun) => stub.stdout().split('\n').filter((l) => l.startsWith('{"t":"key"')).length;

/**
 * Waits until everything the viewer has sent so far has reached the stub: a key typed now, in
 * capture, goes to the stub after it (X delivers events in order, the viewer handles them in order
 * and sends them on one connection). Call once the viewer has handled what the test waits on.
 */
async function inputSettled(stub: CliRun, what: string): Promise<void> {
  const n = keys(stub);
  xdotool(x, 'key', 'a');
  await waitFor(() => keys(stub) >= n + 2, 10_000, `a marker key (down, up) to reach the stub after ${what}`);
}

/** Frame pixels of the stub's last frame (serial 4) well inside its bars that the screen does not show where `win` would put them. */
function wrongPixels(win: { x: number; y: number; width: number; height: number }, fw: number, fh: number): string[] {
  const img = screenshot(x.display);
  const d = fitRect(fw, fh, win.width, win.height);
  const wrong: string[] = [];
  for (const fy of [Math.floor(fh * 0.3), Math.floor(fh * 0.9)]) {
    for (let i = 1; i < 8; i++) {
      const fx = Math.floor(((i + 0.5) * fw) / 8);
      const px = win.x + d.x + Math.floor(((fx + 0.5) * d.width) / fw);
      const py = win.y + d.y + Math.floor(((fy + 0.5) * d.height) / fh);
      if (JSON.stringify(img.rgb(px, py)) !== JSON.stringify(sceneColour(4, fx, fy, fw, fh))) wrong.push(`${fx},${fy}`);
    }
  }
  return wrong;
}

/** The stub's last frame (serial 4) at points well inside its bars, in window coordinates. */
function expectWholeFrame(win: { x: number; y: number; width: number; height: number }, fw: number, fh: number, what: string): void {
  expect(wrongPixels(win, fw, fh), `${what}: frame pixels not shown where they belong`).toEqual([]);
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
    let win = findWindow(x, 'fstest');
    expect([win.width, win.height]).toEqual([FW, FH]);
    await waitFor(() => wrongPixels(findWindow(x, 'fstest'), FW, FH).length === 0, 30_000, 'the last frame on screen, windowed', 100);
    xdotool(x, 'windowfocus', '--sync', win.id);

    xdotool(x, 'key', 'Scroll_Lock');
    await waitFor(() => lastStats(view)?.capture === true, 10_000, 'capture on');
    await inputSettled(stub, 'capture started');
    const before = motions(stub).length;

    // Fullscreen on (escape+F) while captured: the window grows to the screen.
    xdotool(x, 'keydown', 'Scroll_Lock', 'key', 'f', 'keyup', 'Scroll_Lock');
    await waitFor(() => findWindow(x, 'fstest').width === 1280, 10_000, 'the window to fill the screen', 100);
    // The whole frame drawn at the new size: the viewer has handled the resize (and re-centred the
    // pointer), so the marker key comes after any motion that made.
    await waitFor(() => wrongPixels(findWindow(x, 'fstest'), FW, FH).length === 0, 30_000, 'the whole frame, fullscreen', 100);
    await inputSettled(stub, 'the fullscreen switch');
    expect(lastStats(view)?.capture).toBe(true);
    expect(motions(stub).slice(before), 'motion sent by the fullscreen switch itself').toEqual([]);
    win = findWindow(x, 'fstest');
    expectWholeFrame(win, FW, FH, 'fullscreen');

    // A real move after the switch still arrives, as exactly what the pointer did.
    xdotool(x, 'mousemove_relative', '--', '7', '4');
    await waitFor(() => motions(stub).length > before, 10_000, 'motion after the switch');
    await inputSettled(stub, 'the move');
    const after = motions(stub).slice(before);
    expect([after.reduce((s, m) => s + m.dx, 0), after.reduce((s, m) => s + m.dy, 0)]).toEqual([7, 4]);

    // And back: the window returns to its size and shows the whole frame, not a crop of it.
    const n = motions(stub).length;
    xdotool(x, 'keydown', 'Scroll_Lock', 'key', 'f', 'keyup', 'Scroll_Lock');
    await waitFor(() => findWindow(x, 'fstest').width === FW, 10_000, 'the window to return to its size', 100);
    await waitFor(() => wrongPixels(findWindow(x, 'fstest'), FW, FH).length === 0, 30_000, 'the whole frame, back from fullscreen', 100);
    await inputSettled(stub, 'leaving fullscreen');
    expect(motions(stub).slice(n), 'motion sent by leaving fullscreen').toEqual([]);
    win = findWindow(x, 'fstest');
    expect([win.width, win.height]).toEqual([FW, FH]);
    expectWholeFrame(win, FW, FH, 'back from fullscreen');
  }, 90_000);

  it('while a fullscreen request is not yet granted (no window manager: about 1 s), the window never shows a wrongly scaled frame', async () => {
    const FW = 640;
    const FH = 360;
    const shm = shmPath('fs-pending');
    const stub = startCli(['stub', '--shm', shm, '--size', '8', '--width', String(FW), '--height', String(FH), '--fps', '30', '--frames', '5', '--scene', 'bars', '--quiet'], x.env);
    procs.push(stub);
    const view = startCli(['view', '--shm', shm, '--size', `${FW}x${FH}`, '--no-osd', '--stats', '--title', 'fspending'], x.env);
    procs.push(view);
    await waitFor(() => (lastStats(view)?.frames ?? 0) + (lastStats(view)?.skipped ?? 0) >= 5, 30_000, 'the viewer to take all 5 frames');
    await waitFor(() => wrongPixels(findWindow(x, 'fspending'), FW, FH).length === 0, 30_000, 'the last frame on screen', 100);
    const win = findWindow(x, 'fspending');
    xdotool(x, 'windowfocus', '--sync', win.id);
    xdotool(x, 'keydown', 'Scroll_Lock', 'key', 'f', 'keyup', 'Scroll_Lock');
    // Until the switch is done by hand the X window keeps its size: every look at it shows the whole frame.
    const looks: string[][] = [];
    const same = (a: ReturnType<typeof findWindow>, b: ReturnType<typeof findWindow>) => a.x === b.x && a.y === b.y && a.width === b.width && a.height === b.height;
    for (let tries = 0; findWindow(x, 'fspending').width === FW; tries++) {
      const before = findWindow(x, 'fspending');
      const wrong = wrongPixels(before, FW, FH);
      // A look counts only if the window did not move or grow while the screen was read (the switch by hand can land in between).
      if (before.width === FW && same(before, findWindow(x, 'fspending'))) looks.push(wrong);
      if (tries > 400) throw new Error('the window never went fullscreen');
    }
    expect(looks.length, 'looks at the window before it grew').toBeGreaterThan(0);
    expect(looks.filter((w) => w.length > 0), 'looks that showed a crop or a wrongly scaled frame').toEqual([]);
    await waitFor(() => wrongPixels(findWindow(x, 'fspending'), FW, FH).length === 0, 30_000, 'the whole frame, fullscreen', 100);
  }, 90_000);
});
