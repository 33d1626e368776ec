/**
 * Guest sound out: SPICE playback packets → the jitter buffer's plan → SDL's audio queue.
 *
 * The device opens on the guest's first START (at the stream's rate and channel count, S16) and
 * stays open, paused only until the first packet is queued; STOP lets the queue play out and
 * stops counting underruns. A START with another format reopens it, at most once per
 * DEVICE_OPEN_INTERVAL_MS (OpenGate: opening blocks the window's thread, and a server can flood
 * START); packets of a format the device is not open for are dropped meanwhile. Volume and mute
 * from the guest mixer are applied to the samples (QEMU leaves them to the client).
 *
 * Latency, per packet: QEMU handed the samples to SPICE (server mm-time) → they leave SDL's queue
 * for the device = transport (our CLOCK_MONOTONIC minus the packet's stamp, valid because QEMU
 * on this host stamps with the same clock; unknown for a remote QEMU) + the frames queued ahead
 * of the packet. The device's own buffer (DEVICE_BUFFER_FRAMES) comes on top.
 */
import { debuglog } from 'node:util';
import { LatencySamples } from '../relay/stats.js';
import { clockDeltaMs, monotonicMs, type AudioFormat, type PlaybackHandlers } from '../spice/playback-channel.js';
import { applyGain, DEVICE_BUFFER_FRAMES, findAudioDevice, gainsFor, OpenGate, SDL_CHANNELS, type AudioHost, type PlaybackDevice } from './audio-device.js';
import { JitterBuffer, type JitterOptions } from './jitter-buffer.js';

const log = debuglog('glasspane:audio');

/**
 * Playback as --stats and the OSD show it: state, stream rate (Hz), packets received, latencies
 * (ms, see the module comment), underruns and the jitter buffer's corrections (frames dropped or
 * repeated), its margin and the device buffer (ms).
 */
export interface PlaybackFigures {
  state: 'off' | 'idle' | 'playing';
  rate: number;
  packets: number;
  /** Guest write (QEMU hand-off) → leaving the host queue, ms; null before samples or for a remote QEMU. */
  latencyMs: { p50: number | null; p99: number | null };
  /** Its first part: QEMU hand-off → the packet in our hands. */
  transportMs: { p50: number | null; p99: number | null };
  underruns: number;
  droppedFrames: number;
  repeatedFrames: number;
  marginMs: number;
  deviceBufferMs: number;
}

/**
 * Guest sound out (see the module comment), as the SPICE playback channel's handlers. Main thread
 * only. Never throws from a handler: a device that will not open is reported through `problem`
 * (each distinct reason once) and the stream is dropped. The PCM buffers it is handed are scaled
 * in place and copied into SDL's queue; none is kept.
 */
export class AudioOutput implements PlaybackHandlers {
  private host?: AudioHost;
  private device?: PlaybackDevice;
  private format?: AudioFormat;
  /** The format the guest's stream has now (the device follows it through the gate). */
  private wanted?: AudioFormat;
  private readonly gate = new OpenGate();
  private jitter?: JitterBuffer;
  private streaming = false;
  private levels: number[] = [];
  private muted = false;
  private gains: number[] = [1, 1];
  private packets = 0;
  private readonly latencies = new LatencySamples(1 << 16);
  private readonly transports = new LatencySamples(1 << 16);
  /** Problems already said (each distinct message once). */
  private readonly said = new Set<string>();

  /**
   * `syncVolume` false ignores the guest mixer's volume and mute (B7's audio:syncVolume);
   * `deviceBufferFrames` is SDL's device buffer (B7's audio:periodSize; default DEVICE_BUFFER_FRAMES).
   */
  constructor(private readonly o: { deviceName?: string; jitter?: Partial<JitterOptions>; syncVolume?: boolean; deviceBufferFrames?: number; problem: (message: string) => void }) {}

  private get bufferFrames(): number {
    return this.o.deviceBufferFrames ?? DEVICE_BUFFER_FRAMES;
  }

  /** Lends the SDL audio module; checks the device name now, so a typo fails at start. */
  attachHost(host: AudioHost): void {
    findAudioDevice(host, 'playback', this.o.deviceName);
    this.host = host;
  }

  /**
   * The guest started a stream of `format` (bounded by the playback channel): opens the device at
   * that rate and channel count (reopens it when they changed), resets the jitter buffer.
   */
  start(format: AudioFormat): void {
    this.streaming = true;
    this.wanted = format;
    if (this.isOpenFor(format)) {
      this.gate.cancel(); // a reopen for another format that waited is no longer wanted
      this.jitter!.reset();
      return;
    }
    this.gate.run(() => {
      const f = this.wanted;
      if (!this.streaming || !f || this.isOpenFor(f)) return;
      if (this.open(f)) this.jitter!.reset();
    });
  }

  data(pcm: Buffer, serverTimeMs: number): void {
    const dev = this.device;
    const jitter = this.jitter;
    if (!this.streaming || !dev || !jitter || dev.closed || !this.wanted || !this.isOpenFor(this.wanted)) return;
    const frameBytes = 2 * this.format!.channels;
    applyGain(pcm, this.gains);
    const now = monotonicMs();
    const plan = jitter.plan(pcm, Math.floor(dev.queued / frameBytes), now);
    if (plan.silenceFrames > 0) dev.enqueue(Buffer.alloc(plan.silenceFrames * frameBytes));
    if (plan.pcm.length > 0) dev.enqueue(plan.pcm);
    if (!dev.playing) dev.play(true);
    this.packets++;
    const transport = clockDeltaMs(now, serverTimeMs);
    if (transport !== null && plan.pcm.length > 0) {
      this.transports.add(Math.max(0, transport));
      this.latencies.add(Math.max(0, transport) + (plan.aheadFrames * 1000) / jitter.rate);
    }
    if (plan.underrun) log('underrun %d: margin now %d ms', jitter.underruns, jitter.margin);
  }

  /** The guest stopped its stream: what is queued plays out; underruns are no longer counted. */
  stop(): void {
    this.streaming = false;
    this.jitter?.reset();
  }

  volume(levels: number[]): void {
    if (this.o.syncVolume === false) return;
    this.levels = levels;
    this.updateGains();
  }

  /** The guest mixer's mute: silences (or restores) the samples from the next packet on. */
  mute(muted: boolean): void {
    if (this.o.syncVolume === false) return;
    this.muted = muted;
    this.updateGains();
  }

  /** The SPICE channel went: nothing more will come for this stream. */
  close(): void {
    this.stop();
  }

  /** Closes the device; safe to call twice. */
  shutdown(): void {
    this.stop();
    this.gate.dispose();
    this.shutdownDevice();
  }

  /** The figures now (a new object). */
  figures(): PlaybackFigures {
    const j = this.jitter;
    const r2 = (v: number | null) => (v === null ? null : Math.round(v * 100) / 100);
    return {
      state: !this.device ? 'off' : this.streaming ? 'playing' : 'idle',
      rate: this.format?.frequency ?? 0,
      packets: this.packets,
      latencyMs: { p50: r2(this.latencies.percentile(50)), p99: r2(this.latencies.percentile(99)) },
      transportMs: { p50: r2(this.transports.percentile(50)), p99: r2(this.transports.percentile(99)) },
      underruns: j?.underruns ?? 0,
      droppedFrames: j?.droppedFrames ?? 0,
      repeatedFrames: j?.repeatedFrames ?? 0,
      marginMs: j?.margin ?? 0,
      deviceBufferMs: this.format ? Math.round((this.bufferFrames * 10000) / this.format.frequency) / 10 : 0,
    };
  }

  /** True when the device is open for `format`. */
  private isOpenFor(format: AudioFormat): boolean {
    const f = this.format;
    return !!this.device && !this.device.closed && !!f && f.channels === format.channels && f.frequency === format.frequency;
  }

  /** Opens (or reopens for a new format) the device; false when there is none to play on. */
  private open(format: AudioFormat): boolean {
    if (this.isOpenFor(format)) return true;
    this.shutdownDevice();
    if (!this.host) return false;
    if (!SDL_CHANNELS.has(format.channels)) {
      this.fail(`guest audio has ${format.channels} channels; SDL plays 1, 2, 4 or 6`);
      return false;
    }
    try {
      const which = findAudioDevice(this.host, 'playback', this.o.deviceName);
      this.device = this.host.openDevice(which as { type: 'playback' }, { channels: format.channels as 1 | 2 | 4 | 6, frequency: format.frequency, format: 's16', buffered: this.bufferFrames }) as PlaybackDevice;
    } catch (err) {
      this.fail(`cannot open the sound device${this.o.deviceName ? ` "${this.o.deviceName}"` : ''}: ${(err as Error).message} (check SDL_AUDIODRIVER, or run with --no-audio)`);
      return false;
    }
    this.format = format;
    this.jitter = new JitterBuffer({ rate: format.frequency, channels: format.channels, ...this.o.jitter });
    this.updateGains();
    log('playback device open: %d ch %d Hz', format.channels, format.frequency);
    return true;
  }

  private shutdownDevice(): void {
    const dev = this.device;
    this.device = undefined;
    if (dev && !dev.closed) dev.close();
  }

  private fail(message: string): void {
    log('%s', message);
    if (this.said.has(message)) return;
    this.said.add(message);
    this.o.problem(`audio: ${message}`);
  }

  private updateGains(): void {
    this.gains = gainsFor(this.levels, this.muted, this.format?.channels ?? 2);
  }
}
