/**
 * Guest audio for the viewer, both ways: made by the CLI before SPICE connects (its `handlers`
 * go to the SPICE client), lent SDL's audio module once the viewer has loaded SDL
 * (`attachHost`). Playback is on unless `--no-audio`; the microphone only with `--microphone`.
 */
import type { AudioHandlers } from '../spice/audio-channels.js';
import type { AudioHost } from './audio-device.js';
import { AudioOutput, type PlaybackFigures } from './audio-output.js';
import { MicInput, type MicFigures, type MicPolicy } from './mic-input.js';

/** What the user chose for audio (from the CLI options or config.toml) and where problems go. */
export interface AudioBridgeOptions {
  /** SDL playback device name (`--audio-device`); SDL's default when absent. */
  device?: string;
  /** Send the host microphone to the guest while it records (`--microphone`; = micDefault allow). */
  microphone?: boolean;
  /** When the guest starts recording: prompt, allow or deny (B7's audio:micDefault; default: allow with `microphone`, else deny). */
  micDefault?: MicPolicy;
  /** Show MIC LIVE on the OSD while the microphone is open (B7's audio:micShowIndicator; default true). */
  micIndicator?: boolean;
  /** Apply the guest's volume and mute (B7's audio:syncVolume; default true). */
  syncVolume?: boolean;
  /** The jitter buffer's least margin, ms (B7's audio:bufferLatency; default 20). */
  bufferMs?: number;
  /** SDL's device buffer, frames (B7's audio:periodSize; default 512). */
  periodFrames?: number;
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
  readonly mic: MicInput;
  private changed: () => void = () => {};
  private tell: (message: string) => void = () => {};
  /** Problems said already: a server that repeats a bad message on every reconnect is told of once. */
  private readonly said = new Set<string>();

  constructor(private readonly o: AudioBridgeOptions) {
    this.output = new AudioOutput({ deviceName: o.device, problem: o.problem, syncVolume: o.syncVolume, deviceBufferFrames: o.periodFrames, jitter: o.bufferMs === undefined ? undefined : { minMarginMs: o.bufferMs } });
    // Linked always, as B7 does, so that escape+C/E can open it during a session; the policy decides.
    this.mic = new MicInput({
      deviceName: o.microphoneDevice,
      problem: o.problem,
      onLive: () => this.changed(),
      policy: o.micDefault ?? (o.microphone ? 'allow' : 'deny'),
      onRequest: () => this.tell('the guest opened the microphone: escape+E lets it hear you (escape+C changes what happens next time)'),
    });
  }

  /** Where the bridge says things to the user (the viewer's OSD messages). */
  onMessage(tell: (message: string) => void): void {
    this.tell = tell;
  }

  /** escape+E: the microphone on or off while the guest records; returns what to tell the user. */
  toggleMicrophone(): string {
    const r = this.mic.toggle();
    return r === 'no-request' ? 'nothing in the guest is recording: the microphone opens when something does' : `microphone ${r}`;
  }

  /** escape+C: the next policy; returns what to tell the user. */
  cycleMicDefault(): string {
    const p = this.mic.cycle();
    return `microphone when the guest records: ${p === 'prompt' ? 'ask' : p}`;
  }

  /** For SpiceClientOptions.audio. */
  get handlers(): AudioHandlers {
    return {
      playback: this.output,
      record: this.mic,
      problem: (e) => {
        const line = `audio: ${e.message}${e.fix ? `\n  fix: ${e.fix}` : ''}`;
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
    this.mic.attachHost(host);
    this.changed = onChange;
  }

  /** The figures now (a new object; latencies in ms). */
  figures(): AudioFigures {
    return { playback: this.output.figures(), microphone: this.mic.figures() };
  }

  /** The OSD's audio line: "audio idle" until the guest plays, then e.g. "audio 48 kHz · 21 ms · 0 underruns", "· MIC LIVE" while recording. */
  osdLine(): string {
    const p = this.output.figures();
    const out = p.state !== 'playing' ? 'audio idle' : `audio ${p.rate / 1000} kHz · ${p.latencyMs.p50 === null ? '-' : Math.round(p.latencyMs.p50)} ms · ${p.underruns} underruns`;
    return this.mic.figures().state === 'live' && this.o.micIndicator !== false ? `${out} · MIC LIVE` : out;
  }

  /** Closes the devices; safe to call twice. */
  close(): void {
    this.output.shutdown();
    this.mic.close();
  }
}
