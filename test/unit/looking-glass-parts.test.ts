/**
 * The pieces behind Looking Glass B7's options and bindings, without a window: frame placement
 * (keepAspect, dontUpscale, integer scaling, quarter turns) and pointer mapping back to the
 * guest's axes, B7's sensitivity formula with carried fractions, the microphone policy
 * (audio:micDefault, escape+E and escape+C), clipboard directions (spice:clipboardToVM /
 * clipboardToLocal), and audio:syncVolume / periodSize.
 */
import { describe, expect, it, onTestFinished, vi } from 'vitest';
import { placeFrame, screenToGuestMotion, windowToFrame } from '../../src/viewer/geometry.js';
import { MouseSensitivity } from '../../src/viewer/mouse-sensitivity.js';
import { MicInput } from '../../src/viewer/mic-input.js';
import { AudioOutput } from '../../src/viewer/audio-output.js';
import { ClipboardBridge, type GuestClipboard, type HostClipboard } from '../../src/viewer/clipboard-bridge.js';
import { ClipboardType } from '../../src/spice/agent.js';
import type { AudioHost } from '../../src/viewer/audio-device.js';
import type { RecordChannel } from '../../src/spice/record-channel.js';

describe('frame placement', () => {
  it('keepAspect=no stretches, dontUpscale stops at 1:1, odd quarter turns swap the frame\'s sides', () => {
    expect(placeFrame(1920, 1080, 1280, 1024, { keepAspect: false })).toEqual({ x: 0, y: 0, width: 1280, height: 1024 });
    expect(placeFrame(640, 360, 1920, 1080, { dontUpscale: true })).toEqual({ x: 640, y: 360, width: 640, height: 360 });
    expect(placeFrame(3840, 2160, 1280, 720, { dontUpscale: true })).toEqual({ x: 0, y: 0, width: 1280, height: 720 }); // down is still free
    expect(placeFrame(1920, 1080, 1280, 1280, { quarterTurns: 1 })).toEqual({ x: 280, y: 0, width: 720, height: 1280 });
    expect(placeFrame(640, 360, 1400, 800, { integer: true, keepAspect: false })).toEqual({ x: 60, y: 40, width: 1280, height: 720 });
  });

  it('maps window positions and motion back into a turned frame', () => {
    const dst = placeFrame(400, 300, 300, 400, { quarterTurns: 1 }); // the frame turned fills the window
    expect(dst).toEqual({ x: 0, y: 0, width: 300, height: 400 });
    expect(windowToFrame(299, 0, dst, 400, 300, 1)).toEqual({ x: 0, y: 0 }); // the top-right corner is the frame's top-left
    expect(windowToFrame(0, 399, dst, 400, 300, 1)).toEqual({ x: 399, y: 299 });
    expect(windowToFrame(150, 200, dst, 400, 300, 2)).toEqual({ x: 200, y: 150 });
    expect(screenToGuestMotion(5, 0, 1)).toEqual({ dx: 0, dy: -5 }); // right on screen is up in the guest
    expect(screenToGuestMotion(5, 2, 2)).toEqual({ dx: -5, dy: -2 });
    expect(screenToGuestMotion(5, 2, 3)).toEqual({ dx: -2, dy: 5 });
  });
});

describe('mouse sensitivity (B7: x (level + 10) / 10)', () => {
  it('passes raw deltas at 0, scales and carries fractions otherwise, clamps to -9..9', () => {
    const s = new MouseSensitivity();
    expect(s.scale(7, -3)).toEqual({ dx: 7, dy: -3 });
    s.level = -5; // x0.5
    expect([s.scale(1, 1), s.scale(1, 1), s.scale(3, -3)]).toEqual([{ dx: 0, dy: 0 }, { dx: 1, dy: 1 }, { dx: 1, dy: -1 }]);
    s.level = 42;
    expect([s.level, s.label]).toEqual([9, '+9']);
    expect(s.scale(10, 0)).toEqual({ dx: 19, dy: 0 });
    s.level = -42;
    expect([s.level, s.label]).toEqual([-9, '-9']);
  });
});

/** A recording SDL audio host: what was opened, and a capture device that always has 10 ms. */
function audioHost() {
  const log: string[] = [];
  const host = {
    devices: [
      { type: 'playback', name: 'Speakers' },
      { type: 'recording', name: 'Mic' },
    ],
    openDevice(device: { type: string }, o: { buffered: number }) {
      log.push(`open ${device.type} ${o.buffered}`);
      return { closed: false, queued: 0, play: () => {}, enqueue: () => {}, dequeue: () => 0, close() { this.closed = true; log.push(`close ${device.type}`); } };
    },
  };
  return { host: host as unknown as AudioHost, log };
}
const channel = { isClosed: false, write: () => {} } as unknown as RecordChannel;

describe('the microphone policy (audio:micDefault, escape+E, escape+C)', () => {
  it('deny keeps it closed, allow opens it, prompt asks; E opens or closes it while the guest records; C cycles', () => {
    // The device opens and closes at most once a second (OpenGate): each START/STOP waits its turn.
    vi.useFakeTimers();
    onTestFinished(() => void vi.useRealTimers());
    const turn = () => vi.advanceTimersByTime(1000);
    const { host, log } = audioHost();
    const asked: string[] = [];
    const mic = new MicInput({ problem: () => {}, onLive: () => {}, policy: 'deny', onRequest: () => asked.push('asked') });
    mic.attachHost(host);
    expect(mic.toggle()).toBe('no-request');
    mic.start({ channels: 2, frequency: 48000 }, channel);
    expect([log, mic.figures().state]).toEqual([[], 'off']);
    expect(mic.toggle()).toBe('on');
    expect(mic.figures().state).toBe('live');
    expect(mic.toggle()).toBe('off');
    mic.stop();
    expect([mic.cycle(), mic.cycle(), mic.cycle()]).toEqual(['prompt', 'allow', 'deny']);
    mic.cycle(); // prompt
    turn();
    mic.start({ channels: 2, frequency: 48000 }, channel);
    expect(asked).toEqual([]); // the STOP's turn is not over yet
    turn();
    expect(asked).toEqual(['asked']);
    expect(mic.figures().state).toBe('idle');
    mic.stop();
    mic.cycle(); // allow
    mic.start({ channels: 2, frequency: 48000 }, channel);
    turn();
    expect(mic.figures().state).toBe('live');
    mic.close();
    expect(log).toEqual(['open recording 512', 'close recording', 'open recording 512', 'close recording']);
  });
});

describe('audio:syncVolume and periodSize', () => {
  it('syncVolume=no ignores the guest\'s volume and mute; periodSize is SDL\'s device buffer', () => {
    const { host, log } = audioHost();
    const out = new AudioOutput({ problem: () => {}, syncVolume: false, deviceBufferFrames: 1024 });
    out.attachHost(host);
    out.start({ channels: 2, frequency: 48000 });
    out.volume([0, 0]);
    out.mute(true);
    expect(log).toEqual(['open playback 1024']);
    expect((out as unknown as { gains: number[] }).gains).toEqual([1, 1]);
    const synced = new AudioOutput({ problem: () => {} });
    synced.attachHost(host);
    synced.start({ channels: 2, frequency: 48000 });
    synced.mute(true);
    expect((synced as unknown as { gains: number[] }).gains).toEqual([0, 0]);
  });
});

describe('clipboard directions', () => {
  it('clipboardToVM=no offers the guest nothing; clipboardToLocal=no takes nothing from it', async () => {
    const calls: string[] = [];
    const host: HostClipboard = { text: 'host text', setText: (t) => calls.push(`host.set ${t}`) };
    const guest: GuestClipboard = { clipboardGrabText: () => calls.push('guest.grab'), clipboardRelease: () => calls.push('guest.release'), clipboardRequestText: async () => (calls.push('guest.request'), 'guest text') };
    const toHostOnly = new ClipboardBridge(() => {}, { toGuest: false });
    toHostOnly.attachGuest(guest);
    toHostOnly.attachHost(host);
    toHostOnly.handlers.agentState!(true);
    expect(toHostOnly.handlers.hostText!()).toBeUndefined();
    toHostOnly.handlers.guestGrab!([ClipboardType.UTF8_TEXT]);
    await new Promise((r) => setImmediate(r));
    expect(calls).toEqual(['guest.request', 'host.set guest text']);
    calls.length = 0;
    const toGuestOnly = new ClipboardBridge(() => {}, { toHost: false });
    toGuestOnly.attachGuest(guest);
    toGuestOnly.attachHost(host);
    toGuestOnly.handlers.agentState!(true);
    toGuestOnly.handlers.guestGrab!([ClipboardType.UTF8_TEXT]);
    await new Promise((r) => setImmediate(r));
    expect(calls).toEqual(['guest.grab']);
    expect(toGuestOnly.handlers.hostText!()).toBe('host text');
  });
});
