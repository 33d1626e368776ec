/**
 * Looking Glass B7's bindings and window behaviours in the viewer, in process (fake window, fake
 * frame source, recording sink): escape+F1..F12 / Up / Down / M / LWin / RWin send what B7
 * sends, escape+Insert/Delete change the sensitivity that scales captured motion, V R O E C T N
 * do their thing or say why not; ignoreWindowsKeys, captureOnFocus, captureOnStart, autoCapture,
 * ignoreQuit, minimizeOnFocusLoss, grabKeyboard, autoResize, rotation; the OSD and help placed in
 * window pixels. The real QEMU trace of the sent keys is test/viewer/looking-glass-keys.test.ts.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { Viewer, ViewerOptions } from '../../src/viewer/viewer.js';
import { FakeWindowBackend, startFakeViewer, testFrame } from '../support/fake-backend.js';
import { waitFor } from '../support/helpers.js';

const SCROLL_LOCK = 0x47;
const HID = { F1: 0x3a, F12: 0x45, Up: 0x52, Down: 0x51, M: 0x10, LWin: 0xe3, RWin: 0xe7, Insert: 0x49, Delete: 0x4c, V: 0x19, R: 0x15, O: 0x12, E: 0x08, C: 0x06, T: 0x17, N: 0x11, A: 0x04 };

let viewers: Viewer[] = [];
afterEach(async () => {
  for (const v of viewers.splice(0)) await v.close();
});

const start = (extra: Partial<ViewerOptions> = {}) => startFakeViewer(viewers, extra);

const turn = () => new Promise((r) => setImmediate(r));
/** escape held, `hid` tapped, escape released. */
function combo(backend: FakeWindowBackend, hid: number): void {
  backend.emit('keyDown', { scancode: SCROLL_LOCK, repeat: false });
  backend.tap(hid);
  backend.emit('keyUp', { scancode: SCROLL_LOCK, repeat: false });
}

describe('Looking Glass bindings (fake window, in process)', () => {
  it('escape+F1/F12 send Ctrl+Alt+Fn; Up/Down/M volume and mute; LWin/RWin the Windows keys — with or without capture', async () => {
    const { backend, sink } = await start();
    for (const k of [HID.F1, HID.F12, HID.Up, HID.Down, HID.M, HID.LWin, HID.RWin]) combo(backend, k);
    expect(sink.events).toEqual([
      'down ControlLeft', 'down AltLeft', 'down F1', 'up ControlLeft', 'up AltLeft', 'up F1',
      'down ControlLeft', 'down AltLeft', 'down F12', 'up ControlLeft', 'up AltLeft', 'up F12',
      'down AudioVolumeUp', 'up AudioVolumeUp', 'down AudioVolumeDown', 'up AudioVolumeDown', 'down AudioVolumeMute', 'up AudioVolumeMute',
      'down MetaLeft', 'up MetaLeft', 'down MetaRight', 'up MetaRight',
    ]);
  });

  it('escape+Insert/Delete change the sensitivity (told, -9..9) and captured motion is scaled by (level + 10) / 10', async () => {
    const { backend, source, sink, messages, figures } = await start({ mouseSens: 1 });
    source.push(testFrame(1, 1)); // the figures start with the first frame
    backend.tap(SCROLL_LOCK); // capture on
    for (let i = 0; i < 4; i++) combo(backend, HID.Insert);
    expect(messages.slice(-4)).toEqual(['mouse sensitivity +2', 'mouse sensitivity +3', 'mouse sensitivity +4', 'mouse sensitivity +5']);
    await waitFor(() => figures.at(-1)?.mouseSens === 5, 5_000, 'the sensitivity in the figures (--stats, OSD)');
    backend.emit('mouseMove', { x: 0, y: 0, motion: { dx: 10, dy: -4 } });
    backend.emit('mouseMove', { x: 0, y: 0, motion: { dx: 1, dy: 1 } });
    backend.emit('mouseMove', { x: 0, y: 0, motion: { dx: 1, dy: 1 } });
    expect(sink.events.filter((e) => e.startsWith('motion'))).toEqual(['motion 15,-6', 'motion 1,1', 'motion 2,2']); // 1.5 each: fractions carried
    for (let i = 0; i < 20; i++) combo(backend, HID.Delete);
    expect(messages.at(-1)).toBe('mouse sensitivity -9');
  });

  it('V turns the video off (the window says so, no frame is taken) and on; R rotates; O, T and N say why they are not available', async () => {
    const { backend, source, messages } = await start();
    source.push(testFrame(1, 1));
    await turn();
    await turn();
    combo(backend, HID.V);
    await turn();
    expect(messages.at(-1)).toBe('video off');
    expect(backend.messageScreens.at(-1)?.[0]).toBe('video off — ScrollLock+V turns it on');
    const presents = backend.presents.length;
    source.push(testFrame(2, 2));
    await turn();
    await turn();
    expect(backend.presents.length).toBe(presents);
    combo(backend, HID.V);
    await waitFor(() => backend.presents.length > presents, 5_000, 'a present once the video is on');
    expect(backend.frames.at(-1)?.firstByte).toBe(2);
    combo(backend, HID.R);
    await turn();
    expect(messages.at(-1)).toBe('rotation 90°');
    await waitFor(() => backend.presents.at(-1)?.quarterTurns === 1, 5_000, 'a present turned a quarter');
    for (const k of [HID.O, HID.T, HID.N]) combo(backend, k);
    expect(messages.slice(-3).map((m) => m.split(':')[0])).toEqual(['overlay mode is not available', 'frame timing graphs are not available', 'night vision is not available']);
    combo(backend, HID.E);
    combo(backend, HID.C);
    expect(messages.slice(-1)).toEqual(['the microphone needs SPICE audio: start the viewer with --spice (and audio on)']);
  });

  it('ignoreWindowsKeys keeps the Windows keys from the guest in capture, escape+LWin still sends one', async () => {
    const { backend, sink } = await start({ ignoreWindowsKeys: true });
    backend.tap(SCROLL_LOCK);
    backend.tap(HID.LWin);
    backend.tap(HID.A);
    combo(backend, HID.LWin);
    expect(sink.events.filter((e) => e.startsWith('down') || e.startsWith('up'))).toEqual([`down ${HID.A}`, `up ${HID.A}`, 'down MetaLeft', 'up MetaLeft']);
  });

  it('captureOnStart captures at the first focus, captureOnFocus at every focus; grabKeyboard=no leaves the keyboard', async () => {
    const once = await start({ captureOnStart: true });
    once.backend.emit('focus');
    expect(once.backend.captures.at(-1)).toEqual({ on: true, relative: true });
    once.backend.emit('blur');
    once.backend.emit('focus');
    expect(once.backend.captures.at(-1)?.on).toBe(false);
    const every = await start({ captureOnFocus: true, grabKeyboard: false });
    every.backend.emit('focus');
    every.backend.emit('blur');
    every.backend.emit('focus');
    expect(every.backend.captures.filter((c) => c.on)).toEqual([{ on: true, relative: true, keyboard: false }, { on: true, relative: true, keyboard: false }]);
  });

  it('autoCapture captures while the guest hides its cursor and releases when it shows it', async () => {
    const { backend, source } = await start({ autoCapture: true });
    backend.emit('focus');
    source.emit('cursor', { visible: false });
    expect(backend.captures.at(-1)?.on).toBe(true);
    source.emit('cursor', { visible: true });
    expect(backend.captures.at(-1)?.on).toBe(false);
  });

  it('ignoreQuit keeps the window on a close request (escape+Q quits); minimizeOnFocusLoss minimizes on blur', async () => {
    const { backend, messages, running } = await start({ ignoreQuit: true, minimizeOnFocusLoss: true });
    backend.emit('close');
    await turn();
    expect(backend.destroyed).toBe(false);
    expect(messages.at(-1)).toBe('closing the window is ignored (win:ignoreQuit): ScrollLock+Q quits');
    backend.emit('blur');
    expect(backend.minimized).toBe(1);
    combo(backend, 0x14);
    await running;
    expect(backend.destroyed).toBe(true);
  });

  it('autoResize gives the window each new guest resolution', async () => {
    const { backend, source } = await start({ autoResize: true });
    source.emit('format', testFrame(1, 1, { frameWidth: 800, frameHeight: 600 }).info);
    expect(backend.sizes).toEqual([{ width: 800, height: 600 }]);
  });

  it('the OSD and the help are placed in window pixels; the cursor in frame pixels; the window gets the app id and B7 window options', async () => {
    const { backend, source, opened } = await start({ borderless: true, position: { x: 10, y: 20 }, appId: 'lg-test', appIdExplicit: true, resizable: false, helpDelayMs: 20 });
    expect(opened[0]).toMatchObject({ borderless: true, position: { x: 10, y: 20 }, appId: { id: 'lg-test', explicit: true }, resizable: false });
    source.push(testFrame(1, 1));
    await turn();
    await turn();
    expect(backend.overlays.get(1)).toMatchObject({ space: 'window', x: 8, y: 8, visible: true });
    expect(backend.overlays.get(0)).toMatchObject({ space: 'frame' });
    backend.emit('keyDown', { scancode: SCROLL_LOCK, repeat: false });
    await waitFor(() => backend.overlays.get(2)?.visible === true, 5_000, 'the help overlay (input:helpMenuDelay 20 ms)');
    expect(backend.overlays.get(2)).toMatchObject({ space: 'window' });
    backend.emit('keyUp', { scancode: SCROLL_LOCK, repeat: false });
  });
});
