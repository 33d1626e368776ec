/**
 * Starting SDL's video when the display refuses for a moment (an X server whose listen queue is
 * full while many clients connect, a session still starting): loadSdl tries again before it calls
 * the display unreachable. The waits run on fake timers; the real wrong-DISPLAY case (every try
 * fails: ERR_DISPLAY_UNREACHABLE, exit 4) is tested with the built CLI in test/viewer.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { retryVideo, VIDEO_RETRY_DELAYS_MS } from '../../src/viewer/sdl.js';
import { native } from '../../src/native.js';

afterEach(() => void vi.useRealTimers());

describe('SDL video start', () => {
  it('a first start that worked is taken as it is, with no second try', async () => {
    const again = vi.fn(() => 'x11');
    expect(await retryVideo('x11', again)).toBe('x11');
    expect(again).not.toHaveBeenCalled();
  });

  it('a display that answers on a later try is used, each try after its wait', async () => {
    vi.useFakeTimers();
    const answers = [null, null, 'x11'];
    const again = vi.fn(() => answers.shift() ?? null);
    const started = retryVideo(null, again);
    await vi.advanceTimersByTimeAsync(VIDEO_RETRY_DELAYS_MS[0] - 1);
    expect(again).toHaveBeenCalledTimes(0);
    await vi.advanceTimersByTimeAsync(1 + VIDEO_RETRY_DELAYS_MS[1] + VIDEO_RETRY_DELAYS_MS[2]);
    expect(await started).toBe('x11');
    expect(again).toHaveBeenCalledTimes(3);
  });

  it('a display that never answers gives null after every wait (about 1.5 s in all)', async () => {
    vi.useFakeTimers();
    const again = vi.fn(() => null);
    const started = retryVideo(null, again);
    await vi.advanceTimersByTimeAsync(VIDEO_RETRY_DELAYS_MS.reduce((a, b) => a + b, 0));
    expect(await started).toBeNull();
    expect(again).toHaveBeenCalledTimes(VIDEO_RETRY_DELAYS_MS.length);
  });

  it('the addon\'s try is null while SDL2 is not loaded in the process (headless)', () => {
    expect(native.sdlStartVideo()).toBeNull();
  });
});
