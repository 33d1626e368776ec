/**
 * Looking Glass B7's escape bindings that send keys to the guest, with real parts: xdotool holds
 * ScrollLock and types F1, Up, Down, M and the Windows key into the viewer under Xvfb, the
 * viewer sends them over SPICE, and real QEMU's input trace shows exactly what B7 sends
 * (Ctrl+Alt+F1 pressed then released in B7's order, volume up/down, mute, the Windows key);
 * escape+Insert raises the mouse sensitivity, and captured motion reaches QEMU scaled by it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startXvfb, findWindow, xdotool, type Xvfb } from '../support/xvfb.js';
import { killAll, removeShm, shmPath, startCli, waitFor, type CliRun } from '../support/helpers.js';
import { startQemu, type QemuHandle } from '../spice/qemu.js';
import { needs, WINDOW_PARTS } from '../support/system.js';

let x: Xvfb;
let qemu: QemuHandle;
const procs: CliRun[] = [];
const home = mkdtempSync(join(tmpdir(), 'glasspane-lgkeys-'));
const SKIP = needs(...WINDOW_PARTS, 'qemu');
beforeAll(async () => {
  if (SKIP) return;
  x = await startXvfb();
  qemu = await startQemu({ transport: 'unix' });
});
afterAll(async () => {
  await killAll(procs);
  await qemu?.stop();
  await x?.stop();
  removeShm();
  rmSync(home, { recursive: true, force: true });
});

/** "qcode down" pairs of QEMU's key trace lines from `from` on. */
const keys = (t: string[], from = 0) => t.slice(from).filter((l) => l.startsWith('input_event_key')).map((l) => /qcode (\S+), down (\d)/.exec(l)!.slice(1).join(' '));
const lastStats = (p: CliRun) => {
  const last = p.stdout().trim().split('\n').filter(Boolean).at(-1);
  return last ? (JSON.parse(last) as { frames: number; capture: boolean }) : null;
};

describe.skipIf(SKIP)('Looking Glass escape bindings → SPICE → QEMU', () => {
  it('escape+F1, Up, Down, M and LWin send what B7 sends; escape+Insert scales captured motion', async () => {
    const shm = shmPath('lgkeys');
    const env = { ...x.env, HOME: home, XDG_CONFIG_HOME: join(home, '.config'), GLASSPANE_B7_SYSTEM_INI: join(home, 'etc.ini') };
    procs.push(startCli(['stub', '--shm', shm, '--size', '8', '--width', '640', '--height', '360', '--fps', '30', '--quiet'], env));
    // B7's way of saying where SPICE is (port 0: a unix socket path in spice:host).
    const socket = qemu.address.replace(/^unix:/, '');
    const view = startCli(['view', '-f', shm, '-c', socket, '-p', '0', 'win:size=640x360', 'win:title=lgkeys', '--stats'], env);
    procs.push(view);
    await waitFor(() => (lastStats(view)?.frames ?? 0) > 0 && view.stderr().includes('SPICE: connected'), 60_000, 'frames and the SPICE link').catch((e: Error) => {
      throw new Error(`${e.message}; viewer said: ${view.stderr()}`);
    });
    const win = findWindow(x, 'lgkeys');
    xdotool(x, 'windowfocus', '--sync', win.id);
    xdotool(x, 'mousemove', String(win.x + 100), String(win.y + 100));
    xdotool(x, 'key', 'Scroll_Lock');
    await waitFor(() => lastStats(view)?.capture === true, 30_000, 'capture on');
    // The inputs channel may link a little after the main channel: type until a key arrives.
    await waitFor(
      () => {
        if (keys(qemu.trace()).includes('a 1')) return true;
        xdotool(x, 'key', 'a');
        return false;
      },
      30_000,
      'a typed key in QEMU\'s trace',
    );
    const before = qemu.trace().length;
    xdotool(x, 'keydown', 'Scroll_Lock');
    for (const k of ['F1', 'Up', 'Down', 'm', 'Super_L']) xdotool(x, 'key', k);
    xdotool(x, 'keyup', 'Scroll_Lock');
    const expected = ['ctrl 1', 'alt 1', 'f1 1', 'ctrl 0', 'alt 0', 'f1 0', 'volumeup 1', 'volumeup 0', 'volumedown 1', 'volumedown 0', 'audiomute 1', 'audiomute 0', 'meta_l 1', 'meta_l 0'];
    const t = await qemu.waitTrace((l) => keys(l, before).length >= expected.length, 20_000);
    expect(keys(t, before)).toEqual(expected);

    // escape+Insert five times: sensitivity +5, motion x1.5.
    xdotool(x, 'keydown', 'Scroll_Lock');
    for (let i = 0; i < 5; i++) xdotool(x, 'key', 'Insert');
    xdotool(x, 'keyup', 'Scroll_Lock');
    await waitFor(() => view.stderr().includes('glasspane: mouse sensitivity +5'), 10_000, 'the sensitivity message');
    expect(lastStats(view)?.capture).toBe(true);
    const mark = qemu.trace().length;
    xdotool(x, 'mousemove_relative', '--', '10', '-4');
    const sum = (l: string[], axis: string) => l.slice(mark).filter((s) => s.startsWith('input_event_rel') && s.includes(`axis ${axis}`)).reduce((n, s) => n + Number(/value (-?\d+)/.exec(s)![1]), 0);
    const moved = await qemu.waitTrace((l) => sum(l, 'x') >= 15, 20_000);
    expect([sum(moved, 'x'), sum(moved, 'y')]).toEqual([15, -6]);
  }, 180_000);
});
