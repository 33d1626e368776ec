/**
 * Guest audio for the viewer, both ways: made by the CLI before SPICE connects (its `handlers`
 * go to the SPICE client), lent SDL's audio module once the viewer has loaded SDL
 * (`attachHost`). Playback is on unless `--no-audio`; the microphone only with `--microphone`.
 */
import type { AudioHandlers } from '../spice/audio-channels.js';
import type { AudioHost } from './audio-device.js';
import { AudioOutput, type PlaybackFigures } from './audio-output.js';
import { MicInput, type MicFigures } from './mic-input.js';

/** What the user chose for audio (from the CLI options or config.toml) and where problems go. */
export interface AudioBridgeOptions {
  /** SDL playback device name (`--audio-device`); SDL's default when absent. */
  device?: string;
  /** Send the host microphone to the guest while it records (`--microphone`). */
  microphone?: boolean;
  /** SDL capture device name (`--microphone-device`). */
  microphoneDevice?: string;
  /** Shown to the user (OSD and stderr). */
  problem: (message: string) => void;
}

/** The audio part of --stats: playback and microphone figures. */
export interface AudioFigures {
  playback: PlaybackFigures;
  microphone: MicFigures;
}

/**
 * Guest audio both ways for one viewer (see the module comment). Main thread only: the SPICE
 * handlers run from socket events, the microphone on a 10 ms timer. Problems (a device that will
 * not open, a format SDL cannot take) go to `problem` and never throw, except attachHost's check
 * of a device name.
 */
export class AudioBridge {
  readonly output: AudioOutput;
  readonly mic?: MicInput;
  private changed: () => void = () => {};
  /** Problems said already: a server that repeats a bad message on every reconnect is told of once. */
  private readonly said = new Set<string>();

  constructor(private readonly o: AudioBridgeOptions) {
    this.output = new AudioOutput({ deviceName: o.device, problem: o.problem });
    if (o.microphone) this.mic = new MicInput({ deviceName: o.microphoneDevice, problem: o.problem, onLive: () => this.changed() });
  }

  /** For SpiceClientOptions.audio. */
  get handlers(): AudioHandlers {
    return {
      playback: this.output,
      record: this.mic,
      problem: (e) => {
        const line = `audio: ${e.message}${e.fix ? ` — ${e.fix}` : ''}`;
        if (this.said.has(line)) return;
        if (this.said.size >= 64) this.said.clear();
        this.said.add(line);
        this.o.problem(line);
      },
    };
  }

  /**
   * Lends SDL's audio module; throws GlasspaneError ERR_AUDIO_DEVICE for a device name SDL does
   * not know (the fix lists the names it knows). `onChange` is told when the microphone goes live
   * or off (the OSD shows it).
   */
  attachHost(host: AudioHost, onChange: () => void): void {
    this.output.attachHost(host);
    this.mic?.attachHost(host);
    this.changed = onChange;
  }

  /** The figures now (a new object; latencies in ms). */
  figures(): AudioFigures {
    return { playback: this.output.figures(), microphone: this.mic?.figures() ?? { state: 'off', framesSent: 0 } };
  }

  /** The OSD's audio line: "audio idle" until the guest plays, then e.g. "audio 48 kHz · 21 ms · 0 underruns", "· MIC LIVE" while recording. */
  osdLine(): string {
    const p = this.output.figures();
    const out = p.state !== 'playing' ? 'audio idle' : `audio ${p.rate / 1000} kHz · ${p.latencyMs.p50 === null ? '-' : Math.round(p.latencyMs.p50)} ms · ${p.underruns} underruns`;
    return this.mic?.figures().state === 'live' ? `${out} · MIC LIVE` : out;
  }

  /** Closes the devices; safe to call twice. */
  close(): void {
    this.output.shutdown();
    this.mic?.close();
  }
}
