/**
 * A window asked for on a display that does not answer (a stale DISPLAY from another session, a
 * typo): `view` fails with ERR_DISPLAY_UNREACHABLE (exit 4) naming the display instead of running
 * on SDL's offscreen driver and reporting success; `demo` says so and runs headless. And a window
 * on a real display (Xvfb) starts without SDL's "silent error" noise.
 */
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CliRun, killAll, removeShm, runCli, shmPath, startCli, waitFor } from '../support/helpers.js';
import { needs, WINDOW_PARTS } from '../support/system.js';
import { startXvfb, type Xvfb } from '../support/xvfb.js';
import { errorInfo } from '../../src/errors.js';
import { EXIT_STATUS_OF_CLASS } from '../../src/cli/exit-codes.js';

/** An X display number nothing serves: no socket and no lock file for it. */
function deadDisplay(): string {
  for (let n = 4000 + (process.pid % 1000); ; n++) {
    if (!existsSync(`/tmp/.X11-unix/X${n}`) && !existsSync(`/tmp/.X${n}-lock`)) return `:${n}`;
  }
}

const procs: CliRun[] = [];
let x: Xvfb;
beforeAll(async () => {
  if (!needs(...WINDOW_PARTS)) x = await startXvfb(640, 480);
});
afterAll(async () => {
  await killAll(procs);
  await x?.stop();
  removeShm();
});

describe.skipIf(needs('sdl'))('a display that does not answer', () => {
  const env = () => ({ DISPLAY: deadDisplay(), WAYLAND_DISPLAY: undefined, SDL_VIDEODRIVER: undefined });

  it('view: ERR_DISPLAY_UNREACHABLE, exit 4, naming the display (no window-less success)', async () => {
    const e = env();
    const r = await runCli(['view', '--shm', shmPath('nodisplay'), '--seconds', '3', '--stats'], { env: e, timeoutMs: 60_000 });
    expect(r.code, r.stderr).toBe(EXIT_STATUS_OF_CLASS[errorInfo('ERR_DISPLAY_UNREACHABLE').exit]);
    expect(r.code).toBe(4);
    expect(r.stderr).toContain(`glasspane: cannot open a window on ${e.DISPLAY}: no X server answers there\n  fix: `);
    expect(r.stdout).toBe(''); // no --stats figures of a window that never was
    expect(r.stderr).not.toMatch(/SDL silent error|XDG_RUNTIME_DIR/);
  });

  it('demo: says the window cannot open and runs the verifying consumer instead', async () => {
    const e = env();
    const r = await runCli(['demo', '--size', '320x200', '--fps', '30', '--seconds', '2'], { env: e, timeoutMs: 60_000 });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain(`glasspane demo: cannot open a window on ${e.DISPLAY}: no X server answers there, so no window: running the demo headless instead.`);
    expect(r.stdout).toMatch(/^demo: [1-9]\d* frames verified with 0 failures/m);
  });
});

describe.skipIf(needs(...WINDOW_PARTS))('a window on a real display', () => {
  it('starts without SDL "silent error" noise on stderr', async () => {
    const shm = shmPath('quiet');
    const stub = startCli(['stub', '--shm', shm, '--size', '8', '--width', '320', '--height', '200', '--fps', '30', '--quiet'], x.env);
    procs.push(stub);
    const view = startCli(['view', '--shm', shm, '--size', '320x200', '--stats'], x.env);
    procs.push(view);
    await waitFor(() => /"frames":[1-9]/.test(view.stdout()), 30_000, 'the window to present frames');
    expect(view.stderr()).not.toMatch(/SDL silent error/);
  }, 60_000);
});
