/**
 * The real viewer window under Xvfb against frames and producer events that used to close it:
 * 24-bit frames whose geometry does not fit their pitch, and the region truncated under it.
 * The window must stay, say what was wrong (stderr and OSD), and show the next good frame.
 */
import { describe, expect, it } from 'vitest';
import { truncateSync } from 'node:fs';
import { findWindow } from '../support/xvfb.js';
import { screenshot } from '../support/xwd.js';
import { eventually, shmPath, waitFor, type CliRun } from '../support/helpers.js';
import { useWindowHarness } from '../support/window-harness.js';
import { native } from '../../src/native.js';
import type { Region } from '../../src/region.js';
import { FrameType } from '../../src/kvmfr/layout.js';
import { RawProducer } from '../support/raw-producer.js';
import { needs, WINDOW_PARTS } from '../support/system.js';

const cleanups: Array<() => void> = [];
const h = useWindowHarness(() => {
  for (const c of cleanups.splice(0)) c();
});
const start = (args: string[]) => h.start(args);
const figures = (p: CliRun): Array<{ frames: number }> =>
  p
    .stdout()
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { frames: number });
// (the lines also carry state, lastProblemCode and skipped: see FrameSourceFigures)

describe.skipIf(needs(...WINDOW_PARTS))('viewer window against hostile frames', () => {
  it('24-bit frames whose rows do not fit their pitch are refused with a message; the window stays and shows the next good frame', async () => {
    const path = shmPath('geom');
    const region: Region = new native.Region(path, { create: true, size: 8 << 20 });
    const producer = new RawProducer(region);
    cleanups.push(() => {
      producer.stop();
      region.close();
    });
    const view = start(['view', '--shm', path, '--size', '320x160', '--no-osd', '--stats', '--title', 'hostile']);
    await waitFor(() => producer.frames.hasSubs(), 60_000, 'the viewer subscribing');
    for (const type of [FrameType.BGR_32, FrameType.RGB_24]) {
      producer.post(undefined, 512, { type, frameWidth: 16384, dataWidth: 4, pitch: 16, dataHeight: 32 });
      // Taken (acknowledged) before the next is posted: latest-wins would otherwise skip this one.
      await waitFor(() => producer.frames.pending() === 0, 30_000, `the viewer to take the bad type-${type} frame`);
    }
    await waitFor(() => /invalid frame.*do not fit|invalid frame.*pitch 16/.test(view.stderr()), 30_000, 'the refusal on stderr');
    expect(view.child.exitCode).toBeNull();
    // A good 64x32 BGRA frame, all green: it must reach the screen.
    new Uint32Array(region.buffer, producer.pixelOffset, 64 * 32).fill(0xff00ff00);
    producer.post();
    await waitFor(() => (figures(view).at(-1)?.frames ?? 0) >= 1, 30_000, 'the good frame presented');
    const win = findWindow(h.x, 'hostile');
    await eventually(() => expect(screenshot(h.x.display).rgb(win.x + win.width / 2, win.y + win.height / 2)).toEqual([0, 255, 0]), 30_000, 'the good (green) frame on screen');
    expect(view.child.exitCode).toBeNull();
    // --stats carries the relay's state and the last problem's code.
    await waitFor(() => (figures(view).at(-1) as { state?: string } | undefined)?.state === 'connected', 30_000, 'a stats line after the frame');
    expect(figures(view).at(-1)).toMatchObject({ state: 'connected', lastProblemCode: 'ERR_BAD_FRAME', skipped: 0 });
  });

  it('the region truncated under the window: the viewer and the stub both carry on', async () => {
    const path = shmPath('trunc-win');
    const stub = start(['stub', '--shm', path, '--size', '8', '--width', '320', '--height', '200', '--fps', '30']);
    const view = start(['view', '--shm', path, '--size', '320x200', '--stats', '--title', 'truncwin']);
    await waitFor(() => (figures(view).at(-1)?.frames ?? 0) >= 10, 60_000, 'frames in the window');
    truncateSync(path, 0);
    await waitFor(() => /opened it again/.test(stub.stderr()), 30_000, 'the stub to notice the truncation and open the region again').catch((e: Error) => {
      throw new Error(`${e.message}; the stub said: ${stub.stderr().slice(-2000)}`);
    });
    const before = figures(view).at(-1)!.frames;
    await waitFor(() => (figures(view).at(-1)?.frames ?? 0) >= before + 20, 60_000, 'frames after the truncation');
    expect(view.child.exitCode).toBeNull();
    expect(view.child.signalCode).toBeNull();
    expect(stub.child.exitCode).toBeNull();
    // The stub notices by the fault on its next write or by its twice-a-second look at the file, whichever comes first.
    expect(stub.stderr()).toMatch(/(truncated under the stub|changed size from \d+ to 0 bytes); opened it again/);
  });
});
