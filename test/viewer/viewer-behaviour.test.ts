/**
 * The viewer's behaviour in process, through a fake window and a fake frame source (no SDL, no
 * child process): capture and the escape key, what reaches the guest and when, focus loss, OSD
 * messages, the fault barrier, skipped frames in the figures, and quitting.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Osd, type OsdFigures } from '../../src/viewer/osd.js';
import type { AudioBridge } from '../../src/viewer/audio-bridge.js';
import { waitFor } from '../support/helpers.js';
import { Viewer, type ViewerOptions } from '../../src/viewer/viewer.js';
import { FakeFrameSource, FakeWindowBackend, RecordingSink, startFakeViewer, testFrame } from '../support/fake-backend.js';
import { GlasspaneError } from '../../src/errors.js';

const SCROLL_LOCK = 0x47;
const PAUSE = 0x48;
const KEY_A = 0x04;
const KEY_Q = 0x14;
const KEY_I = 0x0c;

let viewers: Viewer[] = [];
afterEach(async () => {
  for (const v of viewers.splice(0)) await v.close();
  vi.restoreAllMocks();
});

/** A running viewer over fakes; resolves once the window is open. */
const start = (extra: Partial<ViewerOptions> = {}) => startFakeViewer(viewers, extra);

const turn = () => new Promise((r) => setImmediate(r));

describe('viewer behaviour (fake window, in process)', () => {
  it('a tap of the escape key toggles capture; only in capture do keys reach the guest', async () => {
    const { backend, sink } = await start();
    backend.tap(KEY_A);
    expect(sink.events).toEqual([]);
    backend.tap(SCROLL_LOCK);
    expect(backend.captures.at(-1)).toEqual({ on: true, relative: true });
    expect(backend.titles.at(-1)).toMatch(/capture/i);
    backend.tap(KEY_A);
    expect(sink.events).toContain(`down ${KEY_A}`);
    expect(sink.events).toContain(`up ${KEY_A}`);
    backend.tap(SCROLL_LOCK);
    expect(backend.captures.at(-1)?.on).toBe(false);
    expect(sink.events.at(-1)).toBe('releaseAll');
  });

  it('--escape-key Pause: ScrollLock is then an ordinary key, and the title names Pause', async () => {
    const { backend, sink } = await start({ escapeKey: 'Pause' });
    backend.tap(PAUSE);
    expect(backend.captures.at(-1)?.on).toBe(true);
    backend.tap(SCROLL_LOCK);
    expect(sink.events).toContain(`down ${SCROLL_LOCK}`);
    expect(backend.titles.at(-1)).toMatch(/Pause/);
    expect(backend.titles.at(-1)).not.toMatch(/ScrollLock/);
  });

  it('relative motion goes to the guest in capture; absolute positions map through the frame in client mode', async () => {
    const { backend, sink, source } = await start();
    backend.emit('mouseMove', { x: 10, y: 10, motion: { dx: 3, dy: -2 } });
    expect(sink.events).toEqual([]); // not captured
    backend.tap(SCROLL_LOCK);
    backend.emit('mouseMove', { x: 10, y: 10, motion: { dx: 3, dy: -2 } });
    backend.emit('mouseButton', { button: 3, down: true });
    backend.emit('mouseWheel', -1);
    expect(sink.events).toContain('motion 3,-2');
    expect(sink.events).toContain('button right down');
    expect(sink.events).toContain('wheel -1');
    // The guest agent switched SPICE to client mouse mode: positions in frame pixels.
    source.push(testFrame(1, 9));
    await turn();
    sink.absolute = true;
    backend.emit('mouseMove', { x: 320, y: 180, motion: null });
    expect(backend.captures.at(-1)).toEqual({ on: true, relative: false });
    expect(sink.events.at(-1)).toMatch(/^position 3[12],1[56] of 64x32$/);
  });

  it('losing focus releases capture and every key', async () => {
    const { backend, sink } = await start();
    backend.tap(SCROLL_LOCK);
    backend.emit('keyDown', { scancode: KEY_A, repeat: false });
    backend.emit('blur');
    expect(backend.captures.at(-1)?.on).toBe(false);
    expect(sink.events).toContain('releaseAll');
    backend.emit('keyUp', { scancode: KEY_A, repeat: false });
    expect(sink.events.filter((e) => e === `up ${KEY_A}`)).toHaveLength(0); // nothing more after the release
  });

  it('escape+I turns input off (said on the OSD), escape+Q quits and closes the window', async () => {
    const { backend, sink, messages, running } = await start();
    backend.tap(SCROLL_LOCK);
    backend.emit('keyDown', { scancode: SCROLL_LOCK, repeat: false });
    backend.tap(KEY_I);
    backend.emit('keyUp', { scancode: SCROLL_LOCK, repeat: false });
    expect(messages).toContain('input to the guest off');
    backend.tap(KEY_A);
    expect(sink.events).not.toContain(`down ${KEY_A}`);
    backend.emit('keyDown', { scancode: SCROLL_LOCK, repeat: false });
    backend.tap(KEY_Q);
    await running;
    expect(backend.destroyed).toBe(true);
  });

  it('frames: the newest is presented, damage of consecutive frames only; skipped ones are counted in the figures', async () => {
    const { backend, source, figures } = await start();
    source.push(testFrame(1, 1));
    await turn();
    await turn();
    expect(backend.frames.at(-1)).toMatchObject({ firstByte: 1, rects: undefined, geometry: { width: 64, height: 32, stride: 256, format: 'bgra32' } });
    expect(backend.presents.length).toBeGreaterThan(0);
    const rect = { x: 0, y: 0, width: 8, height: 8 };
    source.push({ ...testFrame(2, 2, { damageRects: [rect] }), fullDamage: false });
    await turn();
    await turn();
    expect(backend.frames.at(-1)).toMatchObject({ firstByte: 2, rects: [rect] });
    source.push(testFrame(3, 3));
    source.push(testFrame(4, 4)); // 3 is superseded before the viewer gets to it
    await turn();
    await turn();
    expect(backend.frames.map((f) => f.firstByte)).toEqual([1, 2, 4]);
    const ticks = figures.length;
    await waitFor(() => figures.length > ticks, 10_000, 'the next once-a-second figures');
    expect(figures.at(-1)).toMatchObject({ skipped: 1, width: 64, height: 32, format: 'BGRA' });
  });

  it('the fault barrier: a frame the window refuses becomes a message; the window stays and shows the next frame', async () => {
    const { backend, source, messages } = await start();
    backend.failSetFrame = new Error('renderer refused the texture');
    source.push(testFrame(1, 1));
    await turn();
    await turn();
    expect(messages.some((m) => /could not show the guest frame: renderer refused the texture/.test(m))).toBe(true);
    expect(backend.messageScreens.at(-1)?.some((l) => /could not show the guest frame/.test(l))).toBe(true);
    expect(backend.destroyed).toBe(false);
    backend.failSetFrame = null;
    source.push(testFrame(2, 2));
    await turn();
    await turn();
    expect(backend.frames.at(-1)?.firstByte).toBe(2);
  });

  it('with SPICE down, the OSD, the title and the audio line say input goes nowhere, and capture says so once', async () => {
    const osd: OsdFigures[] = [];
    const render = Osd.prototype.render;
    vi.spyOn(Osd.prototype, 'render').mockImplementation(function (this: Osd, f: OsdFigures) {
      osd.push(f);
      return render.call(this, f);
    });
    const audio = { osdLine: () => 'audio idle', figures: () => undefined, attachHost: () => {}, onMessage: () => {}, close: () => {} } as unknown as AudioBridge;
    const { viewer, backend, source, messages } = await start({ inputName: 'SPICE: connecting', inputReachable: false, audio });
    source.push(testFrame(1, 1));
    await turn();
    await turn();
    expect(osd.at(-1)).toMatchObject({ input: 'NOWHERE (SPICE: connecting)', audio: 'audio: no SPICE connection' });
    backend.tap(SCROLL_LOCK);
    expect(backend.titles.at(-1)).toMatch(/\(capture: ScrollLock releases\) \[input not connected\]$/);
    expect(messages.filter((m) => m.startsWith('capture is on, but keyboard and mouse go nowhere'))).toEqual(['capture is on, but keyboard and mouse go nowhere: SPICE: connecting']);
    // SPICE connects: everything says where input goes again.
    viewer.setInputStatus('SPICE: connected to vm (relative mouse)', undefined, true);
    await turn();
    await turn();
    expect(backend.titles.at(-1)).toMatch(/\(capture: ScrollLock releases\)$/);
    expect(osd.at(-1)).toMatchObject({ input: 'SPICE: connected to vm (relative mouse)', audio: 'audio idle' });
    // It drops while captured: told again.
    viewer.setInputStatus('SPICE: retrying in 1 s', undefined, false);
    expect(messages.at(-1)).toBe('capture is on, but keyboard and mouse go nowhere: SPICE: retrying in 1 s');
    expect(backend.titles.at(-1)).toMatch(/\[input not connected\]$/);
  });

  it('each relay problem is told once (OSD and stderr), and the waiting screen shows the relay state', async () => {
    const { backend, source, messages } = await start();
    source.emit('status', { state: 'producer-gone', message: 'the guest stopped sending; waiting for it' });
    source.emit('problem', { code: 'ERR_PRODUCER_STALLED', message: 'the producer stopped', fix: 'nothing to do' });
    source.emit('problem', { code: 'ERR_PRODUCER_STALLED', message: 'the producer stopped', fix: 'nothing to do' });
    await turn();
    await turn();
    // stderr gets the fix on a line of its own, as every error (docs/cli.md); the OSD keeps one line.
    expect(messages.filter((m) => m === 'the producer stopped\n  fix: nothing to do')).toHaveLength(1);
    expect(backend.messageScreens.at(-1)).toEqual(['the guest stopped sending; waiting for it', 'the producer stopped — nothing to do']);
  });

  it('holding the escape key shows the help overlay and toggles nothing', async () => {
    const { backend, source } = await start();
    source.push(testFrame(1, 1));
    await turn();
    await turn();
    backend.emit('keyDown', { scancode: SCROLL_LOCK, repeat: false });
    // Shown once the hold time has passed (KeyRouter's unit test checks the threshold on a hand-driven clock).
    await waitFor(() => backend.overlays.get(2)?.visible === true, 10_000, 'the help overlay (slot 2) while the key is held');
    backend.emit('keyUp', { scancode: SCROLL_LOCK, repeat: false });
    await turn();
    await turn();
    expect(backend.overlays.get(2)?.visible).toBe(false);
    expect(backend.captures).toEqual([]);
  });

  it('a frame source that cannot start ends the viewer with its error, the window closed, nothing unhandled', async () => {
    const backend = new FakeWindowBackend();
    const source = new FakeFrameSource();
    source.start = () => Promise.reject(new GlasspaneError('ERR_RELAY_THREAD', 'the relay worker is missing'));
    const viewer = new Viewer({ shm: '/dev/shm/unused', sink: new RecordingSink(), inputName: 'test', source, openWindow: async () => backend });
    viewers.push(viewer);
    await expect(viewer.run()).rejects.toMatchObject({ code: 'ERR_RELAY_THREAD' });
    expect(backend.destroyed).toBe(true);
    expect(source.closed).toBe(true);
  });

  it('input on its way to the guest hints the frame source (at most every 100 ms)', async () => {
    const { backend, source } = await start();
    let hints = 0;
    (source as FakeFrameSource & { hint(): void }).hint = () => hints++;
    backend.emit('mouseMove', { x: 1, y: 1, motion: null });
    backend.emit('keyDown', { scancode: KEY_A, repeat: false, capslock: false, numlock: false });
    expect(hints).toBe(1); // the second came within 100 ms of the first
  });

  it('frames skipped between ticks do not redraw the OSD for every present (its figures move once a second)', async () => {
    const { backend, source } = await start();
    let osdUploads = 0;
    const setOverlay = backend.setOverlay.bind(backend);
    backend.setOverlay = (slot, placement) => {
      if (slot === 1 && placement.image) osdUploads++; // slot 1: the OSD (overlay-scene.ts)
      setOverlay(slot, placement);
    };
    source.push(testFrame(1, 1));
    await turn();
    await turn();
    const before = osdUploads;
    for (let i = 0; i < 5; i++) {
      source.push(testFrame(10 + 2 * i, 1));
      source.push(testFrame(11 + 2 * i, 2)); // the first of the two is skipped: the count moves
      await turn();
      await turn();
    }
    expect(source.skipped).toBe(5);
    expect(backend.presents.length).toBeGreaterThanOrEqual(6);
    expect(osdUploads - before).toBeLessThanOrEqual(1); // at most a once-a-second tick fell in between
  });
});

