/**
 * The whole remote desktop through a real VM (guest.ts): Xorg in a QEMU TCG guest, captured by
 * `glasspane capture --device auto` running as an unprivileged user into the ivshmem BAR; here on
 * the host a FrameRelay reads the /dev/shm side and a SpiceInputSink types into the guest. The
 * frame must be the picture drawn in the guest, pixel for pixel; the cursor arrives with its
 * shape; a key typed over SPICE reaches the X client, whose repaint comes back as a frame; mouse
 * motion over SPICE moves the cursor the capture reports. Counts and pixels only, no timing.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { FrameRelay, type CursorEvent } from '../../src/relay/frame-relay.js';
import { SpiceInputSink } from '../../src/spice/input-sink.js';
import type { FrameInfo } from '../../src/kvmfr/frame.js';
import { GUEST_PARTS, needs, CAPTURE_PARTS } from '../support/system.js';
import { progressLog } from '../support/progress.js';
import { waitFor } from '../support/helpers.js';
import { framePixel } from './x-support.js';
import { GUEST_SCREEN, RECT, RECT_RGB, ROOT_RGB, startCaptureGuest } from './guest.js';
import type { E2eGuest } from '../e2e/guest.js';

/** The position of the last cursor message that carried one. */
function lastPosition(cursors: CursorEvent[]): { x: number; y: number } | undefined {
  return [...cursors].reverse().find((c) => c.position)?.position;
}

interface Got {
  info: FrameInfo;
  data: Buffer;
}

/** Pixels of `f` that are not the drawn picture (the rectangle in `rect`, the root elsewhere), the first few. */
function offPicture(f: Got, rect: [number, number, number]): string[] {
  const bad: string[] = [];
  for (let y = 0; y < f.info.dataHeight && bad.length < 5; y++) {
    for (let x = 0; x < f.info.frameWidth && bad.length < 5; x++) {
      const inRect = x >= RECT.x && x < RECT.x + RECT.width && y >= RECT.y && y < RECT.y + RECT.height;
      const want = inRect ? rect : ROOT_RGB;
      const got = framePixel(f.data, f.info, x, y);
      if (got.some((v, i) => v !== want[i])) bad.push(`${x},${y}=${got.join(',')} (want ${want.join(',')})`);
    }
  }
  return bad;
}

/** Does `act` (again every 3 s) until `seen` holds; rejects after 2 minutes, naming `what`. */
async function untilSeen(seen: () => boolean, act: () => void, what: string): Promise<void> {
  const end = Date.now() + 120_000;
  while (!seen()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    act();
    await waitFor(seen, 3000, what).catch(() => undefined);
  }
}

const cleanups: Array<() => Promise<unknown>> = [];
afterAll(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
});

describe.skipIf(needs(...GUEST_PARTS, ...CAPTURE_PARTS, 'xorg'))('capture in a QEMU guest: Xorg → ivshmem BAR → host, keys and mouse back over SPICE', () => {
  it('the guest desktop arrives pixel for pixel, with its cursor; a key and mouse motion sent over SPICE come back', async () => {
    const log = progressLog('capture guest');
    const guest: E2eGuest = await startCaptureGuest();
    cleanups.push(() => guest.stop());
    const why = () => `guest serial:\n${guest.serial().slice(-3000)}`;
    const relay = new FrameRelay({ path: guest.shmPath, retryMs: 100 });
    cleanups.push(() => relay.close());
    const frames: Got[] = [];
    const cursors: CursorEvent[] = [];
    relay.on('frame', (f) => {
      frames.push({ info: f.info, data: Buffer.from(f.data) });
      if (frames.length > 8) frames.shift();
      f.release();
    });
    relay.on('cursor', (c) => cursors.push(c));
    void relay.start();
    log('booting');
    const gone = () => guest.lines().some((l) => l.startsWith('capture-exit') || l === 'xorg down') || guest.qemu.proc.exitCode !== null;
    await waitFor(() => frames.length > 0 || gone(), 300_000, 'the first frame from the guest').catch((e) => {
      throw new Error(`${(e as Error).message}\n${why()}`);
    });
    expect(gone(), why()).toBe(false);
    log(`first frame (${guest.lines().filter((l) => l.startsWith('capture-start') || l.startsWith('xorg')).join('; ')})`);
    const first = frames[0]!;
    expect(first.info).toMatchObject({ frameWidth: GUEST_SCREEN.width, frameHeight: GUEST_SCREEN.height });
    expect(relay.session?.producerVersion).toBe('glasspane-capture 0.1.0');
    // x-draw paints after the capture starts: wait for the picture, then it must be exact.
    await waitFor(() => offPicture(frames.at(-1)!, RECT_RGB).length === 0, 120_000, 'the drawn picture').catch(() => {
      throw new Error(`frames differ from the picture: ${offPicture(frames.at(-1)!, RECT_RGB).join('; ')}\n${why()}`);
    });
    await waitFor(() => cursors.some((c) => c.shape && c.shape.width > 0), 60_000, 'the cursor shape');

    log('typing over SPICE');
    const sink = SpiceInputSink.open({ spice: guest.spice });
    cleanups.push(() => sink.close());
    await sink.client.whenConnected();
    // KEY_A is X keycode 38: x-draw paints its window RGB(38, 0x80, 0xff - 38). A key lost while
    // the guest's X server was still settling is typed again, every few seconds.
    const typed: [number, number, number] = [38, 0x80, 0xff - 38];
    await untilSeen(() => offPicture(frames.at(-1)!, typed).length === 0, () => {
      sink.keyDown('KeyA');
      sink.keyUp('KeyA');
    }, 'the key typed over SPICE to come back as a repainted window').catch((e) => {
      throw new Error(`${(e as Error).message}: ${offPicture(frames.at(-1)!, typed).join('; ')}\n${why()}`);
    });

    log('moving the mouse over SPICE');
    const before = lastPosition(cursors) ?? { x: 0, y: 0 };
    await untilSeen(() => {
      const now = lastPosition(cursors);
      return now !== undefined && (now.x !== before.x || now.y !== before.y);
    }, () => sink.mouseMotion(20, 10), 'the cursor to move');
    // What the capture printed: where it writes and what it captures, and no problem.
    const said = guest.lines().filter((l) => l.startsWith('out ') && !/^out glasspane capture: (ivshmem device 0000:00:05\.0, BAR 2 8 MiB |:0 640x480$)/.test(l));
    expect(said, why()).toEqual([]);
  }, 600_000);
});
