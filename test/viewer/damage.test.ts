/**
 * The real viewer window under Xvfb uses KVMFR damage rectangles: a frame that declares one
 * changed rectangle gets only that rectangle onto the screen (a change it does not declare stays
 * unseen, which a truthful producer never does — here it proves what was uploaded), and after a
 * gap in frame serials (a frame the viewer never got) the whole frame is uploaded again.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startXvfb, findWindow, type Xvfb } from '../support/xvfb.js';
import { screenshot } from '../support/xwd.js';
import { eventually, killAll, removeShm, shmPath, startCli, waitFor, type CliRun } from '../support/helpers.js';
import { native } from '../../src/native.js';
import type { Region } from '../../src/region.js';
import type { Rect } from '../../src/kvmfr/frame.js';
import { RawProducer } from '../support/raw-producer.js';
import { needs, WINDOW_PARTS } from '../support/system.js';

let x: Xvfb;
const procs: CliRun[] = [];
beforeAll(async () => (x = await startXvfb()));
afterEach(() => killAll(procs));
afterAll(async () => {
  await x?.stop();
  removeShm();
});

const presented = (p: CliRun): number => {
  const lines = p.stdout().trim().split('\n').filter(Boolean);
  return lines.length ? (JSON.parse(lines.at(-1)!) as { frames: number }).frames : 0;
};

describe.skipIf(needs(...WINDOW_PARTS))('viewer window with damage rectangles', () => {
  it('uploads only the declared rectangles, and the whole frame after a serial gap', async () => {
    const W = 128;
    const H = 64;
    const fields = { dataWidth: W, dataHeight: H, frameWidth: W, frameHeight: H, screenWidth: W, screenHeight: H, stride: W, pitch: W * 4 };
    const path = shmPath('damage');
    const region: Region = new native.Region(path, { create: true, size: 8 << 20 });
    const producer = new RawProducer(region);
    try {
      // BGRA pixels as little-endian words 0xAARRGGBB.
      const pixels = new Uint32Array(region.buffer, producer.pixelOffset, W * H);
      const fill = (r: Rect, v: number) => {
        for (let y = r.y; y < r.y + r.height; y++) pixels.fill(v, y * W + r.x, y * W + r.x + r.width);
      };
      const view = startCli(['view', '--shm', path, '--size', `${W}x${H}`, '--no-osd', '--stats', '--title', 'damage'], x.env);
      procs.push(view);
      await waitFor(() => producer.frames.hasSubs(), 20_000, 'the viewer subscribing');
      /**
       * Posts frame `serial` and waits until the window shows `want` at `points` (window pixels):
       * the first point is one the frame changed, so it is on screen only once the frame is; the
       * others are then read from the same picture.
       */
      const show = async (serial: number, damageRects: Rect[], count: number, points: Array<[number, number]>, want: Array<[number, number, number]>) => {
        producer.post(undefined, undefined, { ...fields, frameSerial: serial, damageRects });
        await waitFor(() => presented(view) >= count, 30_000, `frame ${serial} presented`);
        const win = findWindow(x, 'damage');
        await eventually(() => {
          const img = screenshot(x.display);
          expect(points.map(([px, py]) => img.rgb(win.x + px, win.y + py)), `frame ${serial} at ${JSON.stringify(points)}`).toEqual(want);
        }, 30_000, `frame ${serial} on screen`);
      };

      fill({ x: 0, y: 0, width: W, height: H }, 0xff282828);
      await show(0, [], 1, [[64, 32]], [[40, 40, 40]]);

      const a = { x: 8, y: 8, width: 20, height: 10 };
      const b = { x: 90, y: 30, width: 20, height: 20 };
      fill(a, 0xffe6140a);
      fill(b, 0xff0ac81e);
      await show(1, [a], 2, [[8, 8], [27, 17], [28, 17], [100, 40]], [[230, 20, 10], [230, 20, 10], [40, 40, 40], [40, 40, 40]]);

      // Frame 2 never came: whatever it changed is unknown, so the whole of frame 3 goes up.
      await show(3, [a], 3, [[100, 40], [8, 8], [64, 5]], [[10, 200, 30], [230, 20, 10], [40, 40, 40]]);
      expect(view.child.exitCode).toBeNull();
    } finally {
      producer.stop();
      region.close();
    }
  }, 150_000);
});
