/**
 * `glasspane capture` as a user runs it, with `glasspane view --headless` as the viewer in another
 * process: a viewer killed with SIGKILL while frames flow and started again sees the desktop at
 * once (the last frame, posted again for it), and frames flow on; and no display, with its exit
 * status and nothing left behind. (--shm and --device are producerRegion()'s, tested with the stub.)
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { startXvfb, type Xvfb } from '../support/xvfb.js';
import { killAll, removeShm, runCli, shmPath, startCli, waitFor, type CliRun } from '../support/helpers.js';
import { needs, CAPTURE_PARTS } from '../support/system.js';
import { openRegion } from '../../src/region.js';
import { HEADER, QUEUE, queueOffset } from '../../src/lgmp/layout.js';
import { subsBad, subsOn } from '../../src/lgmp/subs.js';
import { XDraw } from './x-support.js';

const procs: CliRun[] = [];
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  await killAll(procs);
  for (const c of cleanups.splice(0).reverse()) await c();
});
afterAll(removeShm);

function start(args: string[], env?: NodeJS.ProcessEnv): CliRun {
  const c = startCli(args, env);
  procs.push(c);
  return c;
}

/** The frame queue's live subscribers (ON and not timed out) in the region at `path`. */
function liveFrameSubscribers(path: string): number {
  const r = openRegion(path);
  try {
    for (let i = 0; i < r.load32(HEADER.numQueues); i++) {
      const q = queueOffset(i);
      if (r.load32(q + QUEUE.queueID) !== 2) continue;
      const subs = r.load64(q + QUEUE.subs);
      return (subsOn(subs) & ~subsBad(subs)).toString(2).replace(/0/g, '').length;
    }
    return 0;
  } finally {
    r.close();
  }
}

interface ViewReport {
  frames: number;
  errors: string[];
  session: { producerVersion: string };
}

describe.skipIf(needs(...CAPTURE_PARTS))('glasspane capture and a viewer in another process', () => {
  let x: Xvfb;
  beforeAll(async () => {
    x = await startXvfb(320, 240);
  });
  afterAll(async () => {
    await x?.stop();
  });

  it('a viewer killed while frames flow and started again: the desktop at once, then frames flow on', async () => {
    const draw = new XDraw(x.display);
    cleanups.push(() => draw.close());
    await draw.do('root 405060');
    const shm = shmPath('cli');
    const capture = start(['capture', '--shm', shm, '--display', x.display, '--fps', '30']);
    await waitFor(() => capture.stderr().includes('320x240'), 30_000, 'the capture to start');
    const first = start(['view', '--shm', shm, '--headless', '--seconds', '120']);
    await waitFor(() => liveFrameSubscribers(shm) === 1, 30_000, 'the first viewer to subscribe');
    // Frames flow: a rectangle drawn again and again.
    let drawing = true;
    const drawer = (async () => {
      for (let i = 0; drawing; i++) await draw.do(`rect ${(i * 7) % 280} 10 20 20 ${i % 2 ? 'ff0000' : '00ff00'}`);
    })();
    cleanups.push(async () => {
      drawing = false;
      await drawer;
    });
    await waitFor(() => /capture: \d+ fps, [\d.]+ Mpx copied, ([1-9]\d*) frames posted/.test(capture.stderr()), 30_000, 'frames posted to the first viewer');
    first.child.kill('SIGKILL');
    await first.exited;
    drawing = false;
    await drawer;

    // Nothing changes on the screen now; the new viewer still gets a frame.
    const second = await runCli(['view', '--shm', shm, '--headless', '--json', '--frames', '1', '--seconds', '60']);
    expect(second.code, second.stderr).toBe(0);
    const r = JSON.parse(second.stdout) as ViewReport;
    expect(r.frames).toBe(1);
    expect(r.errors).toEqual([]);
    expect(r.session.producerVersion).toBe('glasspane-capture 0.1.0');

    // And changes reach a third viewer as frames.
    const third = start(['view', '--shm', shm, '--headless', '--json', '--frames', '3', '--seconds', '60']);
    await waitFor(() => liveFrameSubscribers(shm) >= 1, 30_000, 'the third viewer to subscribe');
    drawing = true;
    const again = (async () => {
      for (let i = 0; drawing; i++) await draw.do(`rect ${(i * 11) % 280} 100 20 20 ${i % 2 ? '0000ff' : 'ffff00'}`);
    })();
    const done = await third.exited;
    drawing = false;
    await again;
    expect(done, third.stderr()).toEqual({ code: 0, signal: null });
    expect((JSON.parse(third.stdout()) as ViewReport).frames).toBe(3);
    expect(capture.child.exitCode).toBeNull();
  }, 180_000);
});

describe.skipIf(needs('x11capture'))('glasspane capture refuses what cannot work', () => {
  it('no display: exit 2 naming DISPLAY, and no region file made', async () => {
    const shm = shmPath('nodisplay');
    const r = await runCli(['capture', '--shm', shm], { env: { DISPLAY: undefined } });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/DISPLAY is not set/);
    expect(existsSync(shm)).toBe(false);
    const gone = await runCli(['capture', '--shm', shm, '--display', ':987']);
    expect(gone.code).toBe(2);
    expect(gone.stderr).toMatch(/cannot connect to the X display :987/);
    expect(existsSync(shm)).toBe(false);
  });
});
