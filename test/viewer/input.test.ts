/**
 * Input through the real viewer under Xvfb, typed with xdotool, arriving at a real guest-stub
 * over the stub input sink: the escape key toggles capture; in capture, keys arrive as PC set-1
 * scancodes, relative motion and buttons arrive; out of capture nothing does; focus loss
 * releases every pressed key towards the guest. Capture holds X keyboard and pointer grabs (seen
 * by a second X client, fixtures/grab-probe.c), and leaving capture lets them go.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startXvfb, findWindow, xdotool, type Xvfb } from '../support/xvfb.js';
import { removeShm, shmPath, startCli, waitFor, type CliRun } from '../support/helpers.js';
import type { StubInputMessage } from '../../src/scenes/input-messages.js';
import { needs, WINDOW_PARTS } from '../support/system.js';

let x: Xvfb;
const procs: CliRun[] = [];
const probeDir = mkdtempSync(join(tmpdir(), 'glasspane-grab-'));
const probeBin = join(probeDir, 'grab-probe');
beforeAll(async () => {
  x = await startXvfb();
  const cc = spawnSync('gcc', ['-O1', '-o', probeBin, join(import.meta.dirname, 'fixtures', 'grab-probe.c'), '-lX11'], { encoding: 'utf8' });
  if (cc.status !== 0) throw new Error(`cannot build the grab probe (needs gcc and libx11-dev): ${cc.stderr}`);
});
afterAll(async () => {
  rmSync(probeDir, { recursive: true, force: true });
  for (const p of procs) {
    p.child.kill('SIGKILL');
    await p.exited;
  }
  await x?.stop();
  removeShm();
});

const received = (stub: CliRun): StubInputMessage[] =>
  stub
    .stdout()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as StubInputMessage);

/** Who holds the X grabs: 'held' when another client (the viewer) has them. */
const grabs = (): string => {
  const out = spawnSync(probeBin, { env: x.env, encoding: 'utf8' }).stdout.trim();
  return out.replace(/=1/g, '=held').replace(/=0/g, '=free');
};

const capture = (view: CliRun): boolean | undefined => {
  const lines = view.stdout().trim().split('\n').filter(Boolean);
  return lines.length ? (JSON.parse(lines.at(-1)!) as { capture: boolean }).capture : undefined;
};

describe.skipIf(needs(...WINDOW_PARTS, 'gcc', 'xclock'))('viewer input under Xvfb', () => {
  it('capture mode forwards keys as set-1 scancodes, motion and buttons; the escape key toggles it; focus loss releases keys', async () => {
    const shm = shmPath('input');
    const stub = startCli(['stub', '--shm', shm, '--size', '8', '--width', '640', '--height', '360', '--fps', '30', '--scene', 'input', '--input-port', '0', '--input-log', '--quiet'], x.env);
    procs.push(stub);
    await waitFor(() => /^ws:\/\//m.test(stub.stdout()), 30_000, 'the stub input endpoint (stdout)');
    const url = /ws:\/\/[0-9.:]+/.exec(stub.stdout())![0];
    const view = startCli(['view', '--shm', shm, '--size', '640x360', '--input', `stub:${url}`, '--stats', '--title', 'inputtest'], x.env);
    procs.push(view);
    await waitFor(() => capture(view) !== undefined, 30_000, 'the viewer to run');
    const win = findWindow(x, 'inputtest');
    xdotool(x, 'windowfocus', '--sync', win.id);
    xdotool(x, 'mousemove', String(win.x + 100), String(win.y + 100));

    // Out of capture: nothing reaches the guest, and nothing is grabbed.
    expect(grabs()).toBe('keyboard=free pointer=free');
    // 'b' typed now would reach the stub before the keys typed in capture below (X delivers in
    // order, the viewer sends in order): the exact list of eight key events proves it did not.
    xdotool(x, 'key', 'b');

    // Escape key tapped: capture on.
    xdotool(x, 'key', 'Scroll_Lock');
    await waitFor(() => capture(view) === true, 30_000, 'capture on');
    expect(grabs()).toBe('keyboard=held pointer=held');
    xdotool(x, 'key', 'a');
    xdotool(x, 'key', 'F5');
    xdotool(x, 'key', 'KP_Enter');
    xdotool(x, 'key', 'Up');
    await waitFor(() => received(stub).filter((m) => m.t === 'key').length >= 8, 30_000, 'eight key events');
    expect(received(stub).filter((m) => m.t === 'key')).toEqual([
      { t: 'key', down: true, scancode: 0x1e },
      { t: 'key', down: false, scancode: 0x1e },
      { t: 'key', down: true, scancode: 0x3f },
      { t: 'key', down: false, scancode: 0x3f },
      { t: 'key', down: true, scancode: 0xe01c },
      { t: 'key', down: false, scancode: 0xe01c },
      { t: 'key', down: true, scancode: 0xe048 },
      { t: 'key', down: false, scancode: 0xe048 },
    ]);

    // Relative motion: the pointer is held at the window centre, so every move is a delta.
    xdotool(x, 'mousemove_relative', '--', '10', '-5');
    await waitFor(() => received(stub).some((m) => m.t === 'motion'), 30_000, 'motion');
    // A marker key typed after the move reaches the stub after every piece of it.
    xdotool(x, 'key', 'a');
    await waitFor(() => received(stub).filter((m) => m.t === 'key').length >= 10, 30_000, 'the marker key after the move');
    const motion = received(stub).filter((m): m is Extract<StubInputMessage, { t: 'motion' }> => m.t === 'motion');
    expect([motion.reduce((s, m) => s + m.dx, 0), motion.reduce((s, m) => s + m.dy, 0)]).toEqual([10, -5]);

    xdotool(x, 'click', '1');
    xdotool(x, 'click', '3');
    xdotool(x, 'click', '4'); // wheel up
    await waitFor(() => received(stub).filter((m) => m.t === 'button').length >= 4 && received(stub).some((m) => m.t === 'wheel'), 30_000, 'buttons and wheel');
    expect(received(stub).filter((m) => m.t === 'button' || m.t === 'wheel')).toEqual([
      { t: 'button', button: 'left', down: true, buttons: 1 },
      { t: 'button', button: 'left', down: false, buttons: 0 },
      { t: 'button', button: 'right', down: true, buttons: 4 },
      { t: 'button', button: 'right', down: false, buttons: 0 },
      { t: 'wheel', notches: -1 },
    ]);

    // Escape key again: capture off, keys stay with the host.
    xdotool(x, 'key', 'Scroll_Lock');
    await waitFor(() => capture(view) === false, 30_000, 'capture off');
    expect(grabs()).toBe('keyboard=free pointer=free');
    const before = received(stub).length;
    xdotool(x, 'key', 'c'); // must not reach the stub: checked once 'd' (typed after it, in capture) has come

    // Focus loss with a key held in capture: the guest gets its release.
    xdotool(x, 'key', 'Scroll_Lock');
    await waitFor(() => capture(view) === true, 30_000, 'capture on again');
    xdotool(x, 'keydown', 'd');
    await waitFor(() => received(stub).some((m) => m.t === 'key' && m.down && m.scancode === 0x20), 30_000, 'd pressed');
    expect(received(stub).slice(before).filter((m) => m.t === 'key'), "keys that reached the stub after capture went off: only 'd', not 'c'").toEqual([{ t: 'key', down: true, scancode: 0x20 }]);
    const other = spawn('xclock', ['-geometry', '100x100+0+0', '-title', 'other'], { env: x.env, stdio: 'ignore' });
    try {
      await waitFor(() => {
        try {
          return findWindow(x, '^other$').id.length > 0;
        } catch {
          return false;
        }
      }, 30_000, 'another window');
      xdotool(x, 'windowfocus', '--sync', findWindow(x, '^other$').id);
      await waitFor(() => received(stub).some((m) => m.t === 'key' && !m.down && m.scancode === 0x20), 30_000, 'd released by focus loss');
      await waitFor(() => capture(view) === false, 30_000, 'capture released by focus loss');
      expect(grabs()).toBe('keyboard=free pointer=free');
      xdotool(x, 'keyup', 'd');
    } finally {
      other.kill();
    }
  }, 120_000);
});
