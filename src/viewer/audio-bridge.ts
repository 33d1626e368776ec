/**
 * Guest audio for the viewer, both ways: made by the CLI before SPICE connects (its `handlers`
 * go to the SPICE client), lent SDL's audio module once the viewer has loaded SDL
 * (`attachHost`). Playback is on unless `--no-audio`; the microphone only with `--microphone`.
 */
import type { AudioHandlers } from '../spice/audio-channels.js';
import type { AudioHost } from './audio-device.js';
import { AudioOutput, type PlaybackFigures } from './audio-output.js';
import { MicInput, type MicFigures } from './mic-input.js';

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

export interface AudioFigures {
  playback: PlaybackFigures;
  microphone: MicFigures;
}

export class AudioBridge {
  readonly output: AudioOutput;
  readonly mic?: MicInput;
  private changed: () => void = () => {};

  constructor(private readonly o: AudioBridgeOptions) {
    this.output = new AudioOutput({ deviceName: o.device, problem: o.problem });
    if (o.microphone) this.mic = new MicInput({ deviceName: o.microphoneDevice, problem: o.problem, onLive: () => this.changed() });
  }

  /** For SpiceClientOptions.audio. */
  get handlers(): AudioHandlers {
    return {
      playback: this.output,
      record: this.mic,
      problem: (e) => this.o.problem(`audio: ${e.message}${e.fix ? ` — ${e.fix}` : ''}`),
    };
  }

  /** Lends SDL's audio module; throws ERR_AUDIO_DEVICE for a device name SDL does not know. */
  attachHost(host: AudioHost, onChange: () => void): void {
    this.output.attachHost(host);
    this.mic?.attachHost(host);
    this.changed = onChange;
  }

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
