/**
 * The whole input path with real parts: xdotool types into the viewer window under Xvfb, the
 * viewer (capture mode) forwards over SPICE, and real QEMU 7.2's input trace shows the keys,
 * motion and buttons arriving.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startXvfb, findWindow, xdotool, type Xvfb } from '../support/xvfb.js';
import { removeShm, shmPath, startCli, waitFor, type CliRun } from '../support/helpers.js';
import { startQemu, type QemuHandle } from '../spice/qemu.js';
import { needs, WINDOW_PARTS } from '../support/system.js';

let x: Xvfb;
let qemu: QemuHandle;
const procs: CliRun[] = [];
beforeAll(async () => {
  x = await startXvfb();
  qemu = await startQemu({ transport: 'unix' });
});
afterAll(async () => {
  for (const p of procs) {
    p.child.kill('SIGKILL');
    await p.exited;
  }
  await qemu?.stop();
  await x?.stop();
  removeShm();
});

describe.skipIf(needs(...WINDOW_PARTS, 'qemu'))('viewer → SPICE → QEMU', () => {
  it('in capture mode, keys and mouse typed into the window reach QEMU', async () => {
    const shm = shmPath('spice');
    procs.push(startCli(['stub', '--shm', shm, '--size', '8', '--width', '640', '--height', '360', '--fps', '30', '--quiet'], x.env));
    const view = startCli(['view', '--shm', shm, '--size', '640x360', '--spice', qemu.address, '--stats', '--title', 'spicetest'], x.env);
    procs.push(view);
    await waitFor(() => view.stdout().includes('"frames"'), 30_000, 'the viewer to run').catch((e: Error) => {
      throw new Error(`${e.message}; viewer said: ${view.stderr()}`);
    });
    const win = findWindow(x, 'spicetest');
    xdotool(x, 'windowfocus', '--sync', win.id);
    xdotool(x, 'mousemove', String(win.x + 100), String(win.y + 100));
    // The SPICE link comes up in the background; --stats says when it is up.
    await waitFor(() => view.stdout().trim().split('\n').at(-1)!.includes('"spice":{"state":"connected"'), 30_000, 'SPICE connected (--stats)').catch((e: Error) => {
      throw new Error(`${e.message}; viewer said: ${view.stderr()}`);
    });
    xdotool(x, 'key', 'Scroll_Lock');
    await waitFor(() => view.stdout().trim().split('\n').at(-1)!.includes('"capture":true'), 30_000, 'capture on');
    xdotool(x, 'key', 'a');
    xdotool(x, 'key', 'Up');
    const trace = await qemu.waitTrace((t) => t.filter((l) => l.startsWith('input_event_key')).length >= 4, 10_000);
    const keys = trace.filter((l) => l.startsWith('input_event_key')).map((l) => /qcode (\S+), down (\d)/.exec(l)!.slice(1).join(' '));
    expect(keys).toEqual(['a 1', 'a 0', 'up 1', 'up 0']);
    expect(trace.join('\n')).not.toMatch(/unmapped/);

    xdotool(x, 'mousemove_relative', '--', '10', '-5');
    xdotool(x, 'click', '1');
    const t2 = await qemu.waitTrace((t) => t.filter((l) => l.startsWith('input_event_btn')).length >= 2, 10_000);
    const rel = t2.filter((l) => l.startsWith('input_event_rel'));
    const sum = (axis: string) => rel.filter((l) => l.includes(`axis ${axis}`)).reduce((s, l) => s + Number(/value (-?\d+)/.exec(l)![1]), 0);
    expect([sum('x'), sum('y')]).toEqual([10, -5]);
    expect(t2.filter((l) => l.startsWith('input_event_btn')).map((l) => /button (\S+), down (\S+)/.exec(l)!.slice(1).join(' '))).toEqual(['left 1', 'left 0']);
  }, 120_000);
});
