/**
 * Guest audio both ways, the relative mouse and the lock keys, through every real part:
 *
 *   busybox guest (Debian kernel, intel-hda + hda-duplex, OSS emulation) ── fixtures/guest-audio.c
 *     plays a TONE_HZ sine and reports what it records ── QEMU 7.2 -audiodev spice ── SPICE ──
 *   `glasspane view --spice … --microphone` under Xvfb with SDL's disk audio driver:
 *     SDL_DISKAUDIOFILE gets what glasspane plays, SDL_DISKAUDIOFILEIN is the "microphone" (MIC_HZ)
 *   xdotool is the user; QEMU's trace (input_event_rel, input_event_key, ps2_set_ledstate) and the
 *   guest's own evdev dump (serial) are the witnesses.
 *
 * Results: the tone heard on the host side (frequency of SDL's output file) with glasspane's own
 * latency figures (QEMU hand-off → leaving SDL's queue, see src/viewer/audio-output.ts) and
 * underrun count; the tone the guest heard from the host microphone; relative moves sent by
 * xdotool vs what QEMU and the guest received (sum and count); the guest's LED state after each
 * lock-key step. Everything started is stopped before runAv() returns, also on failure.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { findGuestParts, parseSerial, startAudioGuest } from '../spice/guest.js';
import { haveQemu, type QemuHandle } from '../spice/qemu.js';
import { startCli, waitFor, type CliRun } from '../support/helpers.js';
import { analyseTone, sineS16 } from '../support/tone.js';
import type { PlaybackFigures } from '../../src/viewer/audio-output.js';
import { findWindow, startXvfb, xdotool, type Xvfb } from '../support/xvfb.js';

export const TONE_HZ = 440;
export const MIC_HZ = 660;
const RATE = 48000;

/** Relative moves (dx, dy): small ones, and ones far past the 320x200 window's edges. */
export const MOVES: Array<[number, number]> = [[7, -4], [-5, 6], [400, 0], [0, -300], [-390, 290], [3, 3]];

export interface AvResult {
  audio: {
    toneHz: number;
    heardHz: number | null;
    heardRms: number | null;
    latencyMs: { p50: number | null; p99: number | null };
    /** The first part of latencyMs: QEMU hand-off → the packet in the viewer's hands. */
    transportMs: { p50: number | null; p99: number | null };
    underruns: number | null;
    /** Frames the jitter buffer skipped or repeated to hold its margin. */
    droppedFrames: number;
    repeatedFrames: number;
    packets: number;
    micHz: number;
    micHeardHz: number | null;
    micFramesSent: number;
  };
  mouse: { sentDx: number; sentDy: number; guestDx: number; guestDy: number; qemuDx: number; qemuDy: number; moves: number; qemuMotions: number };
  /** Guest LED bits (PS/2: 1 scroll, 2 num, 4 caps) after: capture with host CapsLock on, the guest's own toggle, capture with it off. */
  locks: { afterCapture: number | null; afterGuestToggle: number | null; afterHostOff: number | null };
  errors: string[];
}

interface Stats {
  capture: boolean;
  audio?: { playback: PlaybackFigures; microphone: { state: string; framesSent: number } };
}

/** Why runAv cannot run here ('' when it can). */
export function avUnavailable(): string {
  if (!haveQemu()) return 'QEMU is not installed (apt-get install qemu-system-x86)';
  const parts = findGuestParts();
  if (typeof parts === 'string') return parts;
  for (const [cmd, pkg] of [['gcc', 'build-essential'], ['Xvfb', 'xvfb'], ['xdotool', 'xdotool']]) {
    if (!process.env.PATH?.split(':').some((d) => existsSync(path.join(d, cmd!)))) return `${cmd} is not installed (apt-get install ${pkg})`;
  }
  return '';
}

export async function runAv(o: { log?: (line: string) => void; bootTimeoutMs?: number } = {}): Promise<AvResult> {
  const t0 = Date.now();
  const log = (l: string) => o.log?.(`[${((Date.now() - t0) / 1000).toFixed(1)} s] ${l}`);
  const r: AvResult = {
    audio: { toneHz: TONE_HZ, heardHz: null, heardRms: null, latencyMs: { p50: null, p99: null }, transportMs: { p50: null, p99: null }, underruns: null, droppedFrames: 0, repeatedFrames: 0, packets: 0, micHz: MIC_HZ, micHeardHz: null, micFramesSent: 0 },
    mouse: { sentDx: 0, sentDy: 0, guestDx: 0, guestDy: 0, qemuDx: 0, qemuDy: 0, moves: 0, qemuMotions: 0 },
    locks: { afterCapture: null, afterGuestToggle: null, afterHostOff: null },
    errors: [],
  };
  const parts = findGuestParts();
  if (typeof parts === 'string') return { ...r, errors: [parts] };
  const dir = mkdtempSync(path.join(tmpdir(), 'glasspane-av-'));
  let qemu: QemuHandle | undefined;
  let x: Xvfb | undefined;
  let view: CliRun | undefined;
  let serial = () => '';
  try {
    log(`booting the guest (tone ${TONE_HZ} Hz)…`);
    const guest = await startAudioGuest(parts, dir, TONE_HZ);
    qemu = guest.qemu;
    serial = guest.serial;
    x = await startXvfb();
    const played = path.join(dir, 'played.raw');
    const mic = path.join(dir, 'mic.raw');
    writeFileSync(mic, sineS16(MIC_HZ, 60));
    const title = `avtest${process.pid}`;
    view = startCli(
      ['view', '--shm', path.join('/dev/shm', `glasspane-av-${process.pid}-absent`), '--size', '320x200', '--spice', qemu.address, '--title', title, '--stats', '--microphone'],
      // SDL's disk driver paces itself with a whole-ms sleep: 10 ms per 512 frames is ~4 % fast,
      // which the jitter buffer has to absorb like any other device clock.
      { ...x.env, SDL_AUDIODRIVER: 'disk', SDL_DISKAUDIOFILE: played, SDL_DISKAUDIOFILEIN: mic, SDL_DISKAUDIODELAY: '10' },
    );
    const v = view;
    const stats = (): Stats | undefined => {
      const line = v.stdout().trim().split('\n').filter((l) => l.startsWith('{')).at(-1);
      return line ? (JSON.parse(line) as Stats) : undefined;
    };
    const viewerSaid = () => `; viewer said: ${v.stderr().slice(-1500)}; guest said: ${serial().split('\n').filter((l) => l.startsWith('AUDIO')).slice(-5).join(' | ')}`;

    // 1. Playback: wait for 4 s of the guest's stream, then look at what reached the device.
    await waitFor(() => (stats()?.audio?.playback.packets ?? 0) >= 400, o.bootTimeoutMs ?? 240_000, 'four seconds of guest audio').catch((e: Error) => {
      throw new Error(e.message + viewerSaid());
    });
    log('guest audio is playing; analysing what SDL played');
    const raw = readFileSync(played);
    const lastTwo = raw.subarray(Math.max(0, raw.length - 2 * RATE * 4));
    const tone = analyseTone(lastTwo, 2, RATE);
    r.audio.heardHz = Math.round(tone.hz * 100) / 100;
    r.audio.heardRms = Math.round(tone.rms);

    // 2. Microphone: the guest reports the tone it records.
    const heard = () => serial().split('\n').map((l) => /^AUDIO rec rms=(\d+) hz=([\d.]+)/.exec(l.trim())).filter((m) => m && Number(m[1]) > 3000);
    await waitFor(() => heard().length >= 2, 60_000, 'the guest to hear the host microphone').catch((e: Error) => {
      throw new Error(e.message + viewerSaid());
    });
    r.audio.micHeardHz = Number(heard().at(-1)![2]);
    log(`guest heard ${r.audio.micHeardHz} Hz from the host microphone`);

    // 3. Lock keys: host CapsLock on (out of capture), then capture: the guest follows.
    const win = findWindow(x, title);
    xdotool(x, 'windowfocus', '--sync', win.id);
    xdotool(x, 'mousemove', String(win.x + 160), String(win.y + 100));
    const leds = () => readTrace(qemu!).flatMap((l) => /^ps2_set_ledstate .* ledstate (\d+)/.exec(l)?.[1] ?? []).map(Number);
    const capture = async (on: boolean) => {
      xdotool(x!, 'key', 'Scroll_Lock');
      await waitFor(() => stats()?.capture === on, 10_000, `capture ${on ? 'on' : 'off'}`);
    };
    const ledsBecome = async (want: number, what: string) => {
      await waitFor(() => (leds().at(-1) ?? 0) === want, 20_000, what).catch(() => undefined);
      return leds().at(-1) ?? 0;
    };
    xdotool(x, 'key', 'Caps_Lock');
    await capture(true);
    r.locks.afterCapture = await ledsBecome(4, 'the guest CapsLock LED on');
    log(`guest LEDs after capture with host CapsLock on: ${r.locks.afterCapture}`);
    const before = leds().length;
    await qemu.hmp('sendkey caps_lock'); // the guest toggles CapsLock by itself
    await waitFor(() => leds().length > before, 20_000, 'the guest to toggle its LED').catch(() => undefined);
    r.locks.afterGuestToggle = await ledsBecome(4, 'the guest CapsLock LED back on');
    log(`guest LEDs after its own toggle: ${r.locks.afterGuestToggle} (LED history ${leds().join(',')})`);
    await capture(false);
    xdotool(x, 'key', 'Caps_Lock');
    await capture(true);
    r.locks.afterHostOff = await ledsBecome(0, 'the guest CapsLock LED off');
    log(`guest LEDs after capture with host CapsLock off: ${r.locks.afterHostOff}`);

    // 4. Relative mouse, paced: each move is sent once QEMU has the previous one.
    const rel = () => {
      let dx = 0;
      let dy = 0;
      let n = 0;
      for (const l of readTrace(qemu!)) {
        const m = /^input_event_rel con -?\d+, axis ([xy]), value (-?\d+)/.exec(l);
        if (!m) continue;
        if (m[1] === 'x') {
          dx += Number(m[2]);
          n++;
        } else dy += Number(m[2]);
      }
      return { dx, dy, n };
    };
    const base = rel();
    const guestRel = () => {
      const ev = parseSerial(serial()).events.filter((e) => e.type === 2);
      return { dx: ev.filter((e) => e.code === 0).reduce((s, e) => s + e.value, 0), dy: ev.filter((e) => e.code === 1).reduce((s, e) => s + e.value, 0) };
    };
    const guestBase = guestRel();
    for (const [dx, dy] of MOVES) {
      r.mouse.sentDx += dx;
      r.mouse.sentDy += dy;
      r.mouse.moves++;
      xdotool(x, 'mousemove_relative', '--', String(dx), String(dy));
      await waitFor(() => rel().dx - base.dx === r.mouse.sentDx && rel().dy - base.dy === r.mouse.sentDy, 10_000, `move (${dx}, ${dy}) in QEMU`).catch(() => undefined);
    }
    await waitFor(() => guestRel().dx - guestBase.dx === r.mouse.sentDx && guestRel().dy - guestBase.dy === r.mouse.sentDy, 20_000, 'the moves in the guest').catch(() => undefined);
    const end = rel();
    r.mouse.qemuDx = end.dx - base.dx;
    r.mouse.qemuDy = end.dy - base.dy;
    r.mouse.qemuMotions = end.n - base.n;
    r.mouse.guestDx = guestRel().dx - guestBase.dx;
    r.mouse.guestDy = guestRel().dy - guestBase.dy;
    log(`mouse: sent (${r.mouse.sentDx}, ${r.mouse.sentDy}) in ${r.mouse.moves} moves; QEMU (${r.mouse.qemuDx}, ${r.mouse.qemuDy}) in ${r.mouse.qemuMotions}; guest (${r.mouse.guestDx}, ${r.mouse.guestDy})`);

    const s = stats()?.audio;
    if (s) {
      r.audio.latencyMs = s.playback.latencyMs;
      r.audio.transportMs = s.playback.transportMs;
      r.audio.underruns = s.playback.underruns;
      r.audio.droppedFrames = s.playback.droppedFrames;
      r.audio.repeatedFrames = s.playback.repeatedFrames;
      r.audio.packets = s.playback.packets;
      r.audio.micFramesSent = s.microphone.framesSent;
    }
  } catch (err) {
    r.errors.push((err as Error).message);
  } finally {
    view?.child.kill('SIGTERM');
    const exited = view?.exited;
    if (exited) await Promise.race([exited, new Promise((res) => setTimeout(res, 5000))]);
    view?.child.kill('SIGKILL');
    await qemu?.stop();
    await x?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  return r;
}

/** All trace lines (QemuHandle.trace() keeps only input_event_*), without the pid/time prefix. */
function readTrace(q: QemuHandle): string[] {
  if (!existsSync(q.tracePath)) return [];
  return readFileSync(q.tracePath, 'utf8').split('\n').map((l) => l.replace(/^\d+@[\d.]+:/, '').trim());
}
