/**
 * The Viewer's own lifecycle, in process under Xvfb: things that happen around run() rather than
 * frames. A SPICE sink that links while SDL is still loading calls setInputStatus() before the
 * window exists; that once scheduled a present on the missing window and crashed the viewer
 * (seen in CI under load). An uncaught error here fails the test run.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startXvfb, type Xvfb } from '../support/xvfb.js';
import { removeShm, shmPath } from '../support/helpers.js';
import { Viewer } from '../../src/viewer/viewer.js';
import { NullInputSink } from '../../src/input/sink.js';
import { needs, WINDOW_PARTS } from '../support/system.js';

let x: Xvfb;
beforeAll(async () => {
  x = await startXvfb();
  process.env.DISPLAY = x.display;
});
afterAll(async () => {
  await x?.stop();
  removeShm();
});

describe.skipIf(needs(...WINDOW_PARTS))('viewer lifecycle', () => {
  it('takes status and messages before its window exists, then runs and closes cleanly', async () => {
    const figures: number[] = [];
    const viewer = new Viewer({
      shm: shmPath('lifecycle'),
      sink: new NullInputSink(),
      inputName: 'none',
      title: 'lifecycle',
      onFigures: (f) => {
        figures.push(f.frames);
        void viewer.close();
      },
    });
    // Before run(): no window yet. These must only be remembered, not drawn.
    viewer.setInputStatus('SPICE: connected to test', '00112233445566778899aabbccddeeff');
    viewer.setInputStatus('SPICE: reconnecting');
    await new Promise((r) => setImmediate(r));
    await viewer.run();
    expect(figures.length).toBe(1);
    // Closing twice is harmless.
    await viewer.close();
  }, 120_000);
});
