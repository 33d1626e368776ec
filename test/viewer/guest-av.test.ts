/**
 * Guest audio both ways, the relative mouse and the lock keys with every real part (test/e2e/av.ts
 * runs the scene: QEMU 7.2 with -audiodev spice and intel-hda/hda-duplex, a busybox guest playing
 * a 440 Hz tone and recording, the viewer under Xvfb on SDL's disk audio driver, xdotool, QEMU's
 * trace and the guest's evdev dump). Asserts behaviour only: the tone's frequency (±2 %) on both
 * sides, latency and underrun figures present, moves exact in sum and count also far past the
 * window edge, the guest's CapsLock LED following the host's. `npm run e2e` prints the numbers.
 */
import { describe, expect, it } from 'vitest';
import { avUnavailable, MOVES, MIC_HZ, runAv, TONE_HZ } from '../e2e/av.js';

const skip = avUnavailable();
if (skip) console.warn(`guest audio/mouse/lock-key test skipped: ${skip}`);

describe.skipIf(Boolean(skip))('guest audio, relative mouse and lock keys through QEMU, SPICE and SDL', () => {
  it('plays the guest tone, records the host microphone, moves exactly, keeps CapsLock in step', async () => {
    const r = await runAv({ log: (l) => console.log(`guest-av: ${l}`) });
    const why = JSON.stringify(r);
    expect(r.errors, why).toEqual([]);

    // Guest → host: the tone SDL was given is the guest's, at the guest's level.
    expect(Math.abs(r.audio.heardHz! - TONE_HZ) / TONE_HZ, why).toBeLessThan(0.02);
    expect(r.audio.heardRms, why).toBeGreaterThan(8000); // half scale is 11585
    expect(r.audio.packets, why).toBeGreaterThanOrEqual(400);
    expect(r.audio.latencyMs.p50, why).toBeGreaterThan(0);
    expect(r.audio.latencyMs.p99!, why).toBeGreaterThanOrEqual(r.audio.latencyMs.p50!);
    expect(Number.isInteger(r.audio.underruns), why).toBe(true);

    // Host → guest: the guest records the "microphone" tone.
    expect(Math.abs(r.audio.micHeardHz! - MIC_HZ) / MIC_HZ, why).toBeLessThan(0.02);
    expect(r.audio.micFramesSent, why).toBeGreaterThan(0);

    // Relative mouse: what xdotool moved is what QEMU and the guest got, one motion per move.
    expect([r.mouse.qemuDx, r.mouse.qemuDy], why).toEqual([r.mouse.sentDx, r.mouse.sentDy]);
    expect([r.mouse.guestDx, r.mouse.guestDy], why).toEqual([r.mouse.sentDx, r.mouse.sentDy]);
    expect(r.mouse.moves).toBe(MOVES.length);
    expect(r.mouse.qemuMotions, why).toBe(MOVES.length);

    // Lock keys (PS/2 LED bit 4 = CapsLock): on with the host's, back after the guest's own toggle, off with the host's.
    expect(r.locks, why).toEqual({ afterCapture: 4, afterGuestToggle: 4, afterHostOff: 0 });
  }, 420_000);
});
