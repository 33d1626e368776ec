/**
 * What the audio parts need from @kmamal/sdl's audio module, device lookup by name, and the
 * guest's volume applied to PCM. SDL converts between our S16 frames and the device's format,
 * so every stream is opened as interleaved signed 16-bit at the SPICE stream's rate.
 */
import { GlasspaneError } from '../errors.js';
import type { Sdl } from './sdl.js';

/** The SDL audio module (the binding's `sdl.audio`), or a stand-in in tests. */
export type AudioHost = Pick<Sdl['audio'], 'devices' | 'openDevice'>;
/** An SDL playback device opened for S16 frames; `enqueue` copies the bytes into SDL's queue. */
export type PlaybackDevice = ReturnType<Sdl['audio']['openDevice']> & { enqueue(b: Buffer, bytes?: number): void };
/** An SDL recording device; `dequeue` copies captured bytes into the caller's buffer and returns how many. */
export type RecordingDevice = ReturnType<Sdl['audio']['openDevice']> & { dequeue(b: Buffer, bytes?: number): number };

/** Device buffer in frames (a power of two, as the binding requires): ~10.7 ms at 48 kHz. */
export const DEVICE_BUFFER_FRAMES = 512;

/** SDL opens 1, 2, 4 or 6 channels. */
export const SDL_CHANNELS: ReadonlySet<number> = new Set([1, 2, 4, 6]);

/**
 * The device to open: SDL's default (name undefined) or the one named. An unknown name is an
 * error listing the names SDL knows (what `--audio-device` / `--microphone-device` accept).
 */
export function findAudioDevice(host: AudioHost, type: 'playback' | 'recording', name: string | undefined): { type: 'playback' | 'recording'; name?: string } {
  if (name === undefined) return { type };
  const all = host.devices.filter((d) => d.type === type);
  const found = all.find((d) => d.name === name);
  if (found) return found;
  const flag = type === 'playback' ? '--audio-device' : '--microphone-device';
  throw new GlasspaneError(
    'ERR_AUDIO_DEVICE',
    `no ${type} sound device named "${name}"`,
    all.length ? `use one of: ${all.map((d) => JSON.stringify(d.name ?? '')).join(', ')} (or leave ${flag} out for the default)` : `SDL sees no ${type} devices here; leave ${flag} out, or check SDL_AUDIODRIVER`,
  );
}

/** Per-channel gains 0..1 from SPICE levels (0..65535, linear as QEMU's own mixer treats them). */
export function gainsFor(levels: readonly number[], muted: boolean, channels: number): number[] {
  const g: number[] = [];
  for (let c = 0; c < channels; c++) {
    const level = levels.length ? (levels[Math.min(c, levels.length - 1)] ?? 65535) : 65535;
    g.push(muted ? 0 : Math.min(1, Math.max(0, level / 65535)));
  }
  return g;
}

/** Scales interleaved S16LE frames in place; a no-op when every gain is 1. */
export function applyGain(pcm: Buffer, gains: readonly number[]): void {
  const ch = gains.length;
  if (gains.every((g) => g === 1)) return;
  const samples = Math.floor(pcm.length / 2);
  for (let i = 0; i < samples; i++) pcm.writeInt16LE(Math.round(pcm.readInt16LE(2 * i) * gains[i % ch]!), 2 * i);
}

/** The least time between two opens of a sound device (ms): see OpenGate. */
export const DEVICE_OPEN_INTERVAL_MS = 1000;

/**
 * Opening (and closing) an SDL audio device blocks the window's thread (tens of ms with
 * PulseAudio), and a server can flood START/STOP, so a device is opened or closed at most once per
 * DEVICE_OPEN_INTERVAL_MS: the first change runs at once, one asked for sooner runs when the
 * interval is over, and a later ask replaces a waiting one (only the last wish, the change that
 * holds, is carried out).
 */
export class OpenGate {
  private last = -Infinity;
  private timer?: NodeJS.Timeout;
  private waiting?: () => void;

  constructor(private readonly intervalMs = DEVICE_OPEN_INTERVAL_MS) {}

  /** Runs `open` now if the interval allows, else when it is over (replacing any waiting one). */
  run(open: () => void): void {
    const wait = this.last + this.intervalMs - Date.now();
    if (wait <= 0 && !this.timer) {
      this.last = Date.now();
      open();
      return;
    }
    this.waiting = open;
    this.timer ??= setTimeout(() => {
      this.timer = undefined;
      const f = this.waiting;
      this.waiting = undefined;
      this.last = Date.now();
      f?.();
    }, Math.max(0, wait));
  }

  /**
   * Drops a waiting open (the wish went away). Its timer is left to run out: a flood of
   * START/STOP then costs one timer per interval, not one per message.
   */
  cancel(): void {
    this.waiting = undefined;
  }

  /** Drops a waiting open and its timer (the owner closes for good). */
  dispose(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.waiting = undefined;
  }
}
