/**
 * `glasspane capture` against real X servers and a real consumer: CaptureProducer on an Xvfb
 * display writing into a /dev/shm region, FrameRelay reading it. Every frame is checked pixel by
 * pixel against the display's own contents (xwd). Then: a small rectangle drawn → a frame whose
 * KVMFR damage is that rectangle and for which the X server copied only what changed (a sentinel
 * written into the frame buffers elsewhere survives); the cursor's shape, hotspot and position,
 * and SETCURSORPOS; a resolution change (xrandr on a nested Xephyr: Xvfb here cannot resize).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { startXvfb, xdotool, type Xvfb } from '../support/xvfb.js';
import { screenshot } from '../support/xwd.js';
import { removeShm, shmPath, waitFor } from '../support/helpers.js';
import { needs, CAPTURE_PARTS } from '../support/system.js';
import { CaptureProducer, type CaptureOptions } from '../../guest-stub/x11-producer.js';
import { FrameRelay, type CursorEvent } from '../../src/relay/frame-relay.js';
import type { FrameInfo } from '../../src/kvmfr/frame.js';
import { FrameFlags, FrameType } from '../../src/kvmfr/layout.js';
import { wpOffsetOf } from '../../guest-stub/b7-session.js';
import { FRAMEBUFFER } from '../../src/kvmfr/layout.js';
import { openRegion } from '../../src/region.js';
import { HEADER } from '../../src/lgmp/layout.js';
import { compareWithScreen, framePixel, startXephyr, XDraw } from './x-support.js';

/** A frame the test kept: its header and a copy of its pixels. */
interface Got {
  info: FrameInfo;
  data: Buffer;
}

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});
afterAll(removeShm);

function startCapture(o: Partial<CaptureOptions> & { shmPath: string; display: string }): CaptureProducer {
  const problems: string[] = [];
  const cap = new CaptureProducer({ fps: 100, onProblem: (m) => problems.push(m), ...o });
  const run = cap.run();
  cleanups.push(async () => {
    await cap.stop();
    await run;
  });
  return cap;
}

/** A relay on `path` that keeps every frame (copied) and cursor event. */
function startConsumer(path: string): { relay: FrameRelay; frames: Got[]; cursors: CursorEvent[] } {
  const relay = new FrameRelay({ path, retryMs: 30 });
  const frames: Got[] = [];
  const cursors: CursorEvent[] = [];
  relay.on('frame', (f) => {
    frames.push({ info: f.info, data: Buffer.from(f.data) });
    f.release();
  });
  relay.on('cursor', (c) => cursors.push(c));
  void relay.start();
  cleanups.push(() => relay.close());
  return { relay, frames, cursors };
}

describe.skipIf(needs(...CAPTURE_PARTS))('glasspane capture on Xvfb', () => {
  let x: Xvfb;
  beforeAll(async () => {
    x = await startXvfb(640, 480);
  });
  afterAll(async () => {
    await x?.stop();
  });

  it('whole frames equal the display; a drawn rectangle is sent as its damage, and only the damage is copied', async () => {
    const draw = new XDraw(x.display);
    cleanups.push(() => draw.close());
    await draw.do('root 204060');
    await draw.do('rect 40 30 200 120 e0c020');
    await draw.do('rect 300 200 150 100 10a0f0');
    const path = shmPath('cap');
    const cap = startCapture({ shmPath: path, display: x.display });
    const { frames } = startConsumer(path);
    await waitFor(() => frames.length >= 1, 30_000, 'the first frame');
    const first = frames[0]!;
    expect(first.info).toMatchObject({ type: FrameType.BGRA, frameWidth: 640, frameHeight: 480, dataWidth: 640, dataHeight: 480, pitch: 2560, damageRects: [] });
    expect(compareWithScreen(first.data, first.info, screenshot(x.display))).toEqual({ differ: 0, first: [] });
    expect(cap.stats.lastCopied).toEqual([{ x: 0, y: 0, width: 640, height: 480 }]);

    // A change while frame buffer 1 is still unwritten: it is written whole.
    await draw.do('rect 500 20 30 30 ff0000');
    await waitFor(() => cap.stats.framesPosted >= 2 && frames.length >= 2, 30_000, 'a second frame');
    expect(cap.stats.wholeFrames).toBe(2);
    expect(frames.at(-1)!.info.damageRects).toEqual([{ x: 500, y: 20, width: 30, height: 30 }]);

    // Both buffers hold the screen now. A sentinel goes into both, away from what will change:
    // if the capture rewrote more than the damage, the sentinel would be gone from the next frame.
    const layout = cap.regionLayout();
    const region = openRegion(path);
    cleanups.push(() => region.close());
    const at = { x: 600, y: 400 };
    for (const f of layout.frames) region.store32(wpOffsetOf(f) + FRAMEBUFFER.data + at.y * 2560 + at.x * 4, 0x00abcdef);
    const n = frames.length;
    await draw.do('rect 100 300 40 20 30ff30');
    await waitFor(() => frames.length > n, 30_000, 'the frame of the small rectangle');
    const small = frames.at(-1)!;
    expect(small.info.damageRects).toEqual([{ x: 100, y: 300, width: 40, height: 20 }]);
    // Its buffer lacked this rectangle and the previous frame's (it was written two frames ago).
    expect(cap.stats.lastCopied).toEqual([
      { x: 500, y: 20, width: 30, height: 30 },
      { x: 100, y: 300, width: 40, height: 20 },
    ]);
    expect(framePixel(small.data, small.info, at.x, at.y)).toEqual([0xab, 0xcd, 0xef]);
    const screen = screenshot(x.display);
    expect(compareWithScreen(small.data, small.info, screen, [{ ...at, width: 1, height: 1 }])).toEqual({ differ: 0, first: [] });
    expect(framePixel(small.data, small.info, 110, 305)).toEqual([0x30, 0xff, 0x30]);
  }, 120_000);

  it('nothing is posted while nothing changes; a new consumer gets the last frame at once', async () => {
    const draw = new XDraw(x.display);
    cleanups.push(() => draw.close());
    await draw.do('root 603020');
    const path = shmPath('idle');
    const cap = startCapture({ shmPath: path, display: x.display });
    const a = startConsumer(path);
    await waitFor(() => a.frames.length >= 1, 30_000, 'the first frame');
    // The heartbeat goes on for 300 ms of the producer's clock (6 duties): no frame meanwhile.
    const posted = cap.stats.framesPosted;
    const beat = cap.stats.sessionID;
    const region = openRegion(path);
    cleanups.push(() => region.close());
    const t0 = region.load64(HEADER.timestamp);
    await waitFor(() => region.load64(HEADER.timestamp) >= t0 + 300n, 30_000, 'the heartbeat to go on for 300 ms');
    expect(cap.stats.framesPosted).toBe(posted);
    const b = startConsumer(path);
    await waitFor(() => b.frames.length >= 1, 30_000, 'the new consumer\'s frame');
    expect(cap.stats.framesReposted).toBeGreaterThanOrEqual(1);
    expect(cap.stats.sessionID).toBe(beat);
    expect(compareWithScreen(b.frames[0]!.data, b.frames[0]!.info, screenshot(x.display)).differ).toBe(0);
  }, 120_000);

  it('a new session (as after a header overwritten) and a region file re-created under it: the X server is given the new buffers, frames go on', async () => {
    const draw = new XDraw(x.display);
    cleanups.push(() => draw.close());
    await draw.do('root 102030');
    await draw.do('rect 10 10 60 40 c0c0c0');
    const path = shmPath('again');
    const cap = startCapture({ shmPath: path, display: x.display, sizeMiB: 8 });
    const { frames } = startConsumer(path);
    await waitFor(() => frames.length >= 1, 30_000, 'the first frame');
    const first = cap.stats.sessionID;
    cap.newSession();
    expect(cap.stats.sessionID).not.toBe(first);
    await draw.do('rect 200 200 30 30 00ffff');
    await waitFor(() => frames.some((f) => framePixel(f.data, f.info, 210, 210).join() === '0,255,255'), 30_000, 'a frame of the new session with the new rectangle');
    expect(compareWithScreen(frames.at(-1)!.data, frames.at(-1)!.info, screenshot(x.display)).differ).toBe(0);

    // The file is deleted and made again (as a host tool would): the capture opens the new file,
    // hands it to the X server and starts a session there; the consumer follows.
    rmSync(path);
    writeFileSync(path, Buffer.alloc(0));
    await waitFor(() => cap.stats.reopens === 1, 30_000, 'the capture to open the new file');
    const n = frames.length;
    await draw.do('rect 300 100 30 30 ff00ff');
    await waitFor(() => frames.length > n && framePixel(frames.at(-1)!.data, frames.at(-1)!.info, 310, 110).join() === '255,0,255', 30_000, 'a frame from the new file');
    expect(compareWithScreen(frames.at(-1)!.data, frames.at(-1)!.info, screenshot(x.display)).differ).toBe(0);
  }, 120_000);

  it('the cursor: its shape and hotspot from XFixes, its position as the shape\'s top-left corner, and SETCURSORPOS', async () => {
    const draw = new XDraw(x.display);
    cleanups.push(() => draw.close());
    await draw.do('root 000000');
    await draw.do('cursor 3 5');
    xdotool(x, 'mousemove', '200', '150');
    const path = shmPath('cursor');
    startCapture({ shmPath: path, display: x.display });
    const { relay, cursors } = startConsumer(path);
    await waitFor(() => cursors.some((c) => c.shape?.width === 16) && cursors.at(-1)?.position?.x === 197, 30_000, 'the 16x16 cursor at 197,145');
    const shape = [...cursors].reverse().find((c) => c.shape)!.shape!;
    expect(shape).toMatchObject({ type: 'color', width: 16, height: 16, pitch: 64, hotX: 3, hotY: 5 });
    const px = (cx: number, cy: number) => [...shape.pixels.subarray(cy * 64 + cx * 4, cy * 64 + cx * 4 + 4)];
    expect(px(0, 0)).toEqual([0, 0, 255, 255]); // (0+0) even: red, BGRA
    expect(px(1, 0)).toEqual([255, 0, 0, 255]); // odd: blue
    expect(px(12, 0)).toEqual([0, 0, 0, 0]); // outside the 12x14 mask
    expect(px(0, 14)).toEqual([0, 0, 0, 0]);
    expect(cursors.at(-1)).toMatchObject({ visible: true, position: { x: 197, y: 145 } });

    // Moved by another client (a warp: no raw motion), then by the consumer's SETCURSORPOS.
    xdotool(x, 'mousemove', '400', '300');
    await waitFor(() => cursors.at(-1)?.position?.x === 397, 30_000, 'the position after the warp');
    expect(cursors.at(-1)!.position).toEqual({ x: 397, y: 295 });
    expect(relay.setCursorPosition(50, 60)).toBe(true);
    await waitFor(() => cursors.at(-1)?.position?.x === 47, 30_000, 'the position SETCURSORPOS asked for');
    expect(cursors.at(-1)!.position).toEqual({ x: 47, y: 55 });
    expect(xdotool(x, 'getmouselocation', '--shell')).toMatch(/X=50\nY=60/);
  }, 120_000);
});

describe.skipIf(needs(...CAPTURE_PARTS, 'xephyr', 'xrandr'))('glasspane capture across a resolution change', () => {
  it('xrandr -s on the display: a new format in the same session, whose frames equal the display', async () => {
    const host = await startXvfb(1024, 768);
    cleanups.push(() => host.stop());
    const eph = await startXephyr(host, 640, 480);
    cleanups.push(() => eph.stop());
    const path = shmPath('resize');
    const cap = startCapture({ shmPath: path, display: eph.display, sizeMiB: 16 });
    const { relay, frames } = startConsumer(path);
    const formats: FrameInfo[] = [];
    relay.on('format', (f) => formats.push(f));
    await waitFor(() => frames.length >= 1, 30_000, 'the first frame');
    expect(frames[0]!.info).toMatchObject({ frameWidth: 640, frameHeight: 480 });
    expect(compareWithScreen(frames[0]!.data, frames[0]!.info, screenshot(eph.display)).differ).toBe(0);
    const session = cap.stats.sessionID;
    execFileSync('xrandr', ['-s', '800x600'], { env: eph.env });
    await waitFor(() => frames.some((f) => f.info.frameWidth === 800), 30_000, 'an 800x600 frame');
    const big = frames.find((f) => f.info.frameWidth === 800)!;
    expect(big.info).toMatchObject({ frameHeight: 600, dataHeight: 600, pitch: 3200, formatVer: frames[0]!.info.formatVer + 1, damageRects: [] });
    expect(formats.map((f) => f.frameWidth)).toEqual([640, 800]);
    expect(cap.stats).toMatchObject({ sessionID: session, restarts: 0, formatChanges: 1, width: 800, height: 600 });
    // The frame is the screen as it is now (Xephyr draws its root again after the resize).
    await waitFor(() => compareWithScreen(frames.at(-1)!.data, frames.at(-1)!.info, screenshot(eph.display)).differ === 0, 30_000, 'a frame equal to the resized screen');

    // Larger than the 16 MiB region's frame buffers hold: TRUNCATED, the rows that fit still exact.
    execFileSync('xrandr', ['-s', '1600x1200'], { env: eph.env });
    await waitFor(() => frames.some((f) => f.info.frameWidth === 1600), 30_000, 'a 1600x1200 frame');
    const cut = frames.find((f) => f.info.frameWidth === 1600)!;
    expect(cut.info.flags & FrameFlags.TRUNCATED).toBeTruthy();
    expect(cut.info.dataHeight).toBe(Math.floor(cap.stats.maxFrameBytes / 6400));
    expect(cut.info.dataHeight).toBeLessThan(1200);
    expect(cap.stats).toMatchObject({ sessionID: session, truncated: true, dataHeight: cut.info.dataHeight });
    await waitFor(() => compareWithScreen(frames.at(-1)!.data, frames.at(-1)!.info, screenshot(eph.display)).differ === 0, 30_000, 'a truncated frame equal to the screen\'s first rows');
  }, 120_000);
});
