/**
 * Host microphone → the guest's sound input (SPICE record channel). Off unless the user asked
 * for it (`--microphone`); even then the capture device is open only while the guest records
 * (START..STOP), and `onLive` tells the OSD so the user always sees when the microphone is live.
 *
 * Every 10 ms whatever SDL captured is taken (whole frames, at most 100 ms at a time), scaled
 * by the guest's record volume, and sent.
 *
 * The capture device opens or closes at most once per DEVICE_OPEN_INTERVAL_MS (OpenGate: both
 * block the window's thread, and a server can flood START/STOP): the first change is carried out at
 * once, a change sooner than that when the interval is over, if it still holds then. A STOP after a
 * recording that lasted the interval closes the microphone at once.
 */
import { debuglog } from 'node:util';
import type { AudioFormat } from '../spice/playback-channel.js';
import type { RecordChannel, RecordHandlers } from '../spice/record-channel.js';
import { applyGain, DEVICE_BUFFER_FRAMES, findAudioDevice, gainsFor, OpenGate, SDL_CHANNELS, type AudioHost, type RecordingDevice } from './audio-device.js';

const log = debuglog('glasspane:audio');

const POLL_MS = 10;

/**
 * The microphone as --stats shows it: off (not asked for, or no audio host), idle (waiting for
 * the guest to record), live; and the frames sent.
 */
export interface MicFigures {
  state: 'off' | 'idle' | 'live';
  framesSent: number;
}

/**
 * Host microphone → guest (see the module comment), as the SPICE record channel's handlers. Main
 * thread only. Never throws from a handler: a device that will not open is reported once through
 * `problem`.
 */
export class MicInput implements RecordHandlers {
  private host?: AudioHost;
  private device?: RecordingDevice;
  private timer?: NodeJS.Timeout;
  private buf = Buffer.alloc(0);
  private levels: number[] = [];
  private muted = false;
  private framesSent = 0;
  private warned = false;
  private readonly gate = new OpenGate();
  /** The recording the guest asked for last; undefined after STOP. */
  private wanted?: { format: AudioFormat; channel: RecordChannel };
  /** What the open device captures for. */
  private live?: { format: AudioFormat; channel: RecordChannel };

  constructor(private readonly o: { deviceName?: string; problem: (message: string) => void; onLive: (live: boolean) => void }) {}

  /**
   * Lends SDL's audio module; throws GlasspaneError ERR_AUDIO_DEVICE for a capture device name
   * SDL does not know.
   */
  attachHost(host: AudioHost): void {
    findAudioDevice(host, 'recording', this.o.deviceName);
    this.host = host;
  }

  /** The guest records: capture in `format` and send it through `channel` (see the module comment for when the device opens). */
  start(format: AudioFormat, channel: RecordChannel): void {
    if (!this.host) return;
    this.wanted = { format, channel };
    this.gate.run(() => this.apply());
  }

  /** Brings the device to the last wish: open for it, or closed. */
  private apply(): void {
    const w = this.wanted;
    if (w && !w.channel.isClosed && this.live?.format === w.format && this.live.channel === w.channel) return;
    this.stopCapture();
    if (w && !w.channel.isClosed) this.open(w.format, w.channel);
  }

  private open(format: AudioFormat, channel: RecordChannel): void {
    if (!this.host) return;
    if (!SDL_CHANNELS.has(format.channels)) return this.warn(`the guest records ${format.channels} channels; SDL captures 1, 2, 4 or 6`);
    let dev: RecordingDevice;
    try {
      const which = findAudioDevice(this.host, 'recording', this.o.deviceName);
      dev = this.host.openDevice(which as { type: 'recording' }, { channels: format.channels as 1 | 2 | 4 | 6, frequency: format.frequency, format: 's16', buffered: DEVICE_BUFFER_FRAMES }) as RecordingDevice;
    } catch (err) {
      return this.warn(`cannot open the microphone${this.o.deviceName ? ` "${this.o.deviceName}"` : ''}: ${(err as Error).message}`);
    }
    this.device = dev;
    this.live = { format, channel };
    const frameBytes = 2 * format.channels;
    this.buf = Buffer.alloc(Math.ceil(format.frequency / 10) * frameBytes);
    const gains = () => gainsFor(this.levels, this.muted, format.channels);
    dev.play(true);
    this.timer = setInterval(() => {
      if (dev.closed || channel.isClosed) return this.stopCapture();
      const want = Math.min(this.buf.length, Math.floor(dev.queued / frameBytes) * frameBytes);
      if (want <= 0) return;
      const got = Math.floor(dev.dequeue(this.buf, want) / frameBytes) * frameBytes;
      if (got <= 0) return;
      const pcm = this.buf.subarray(0, got);
      applyGain(pcm, gains());
      channel.write(pcm);
      this.framesSent += got / frameBytes;
    }, POLL_MS);
    log('microphone live: %d ch %d Hz', format.channels, format.frequency);
    this.o.onLive(true);
  }

  /** The guest stopped recording: the capture device closes (the OSD is told through onLive). */
  stop(): void {
    this.wanted = undefined;
    this.gate.run(() => this.apply());
  }

  /** The guest's record volume per channel (0..65535), applied to what is captured next. */
  volume(levels: number[]): void {
    this.levels = levels;
  }

  /** The guest's record mute: sends silence while set. */
  mute(muted: boolean): void {
    this.muted = muted;
  }

  /** Stops capturing for good (the SPICE channel or the viewer went); safe to call twice. */
  close(): void {
    this.wanted = undefined;
    this.gate.dispose();
    this.stopCapture();
  }

  /** The figures now (a new object). */
  figures(): MicFigures {
    return { state: this.device ? 'live' : this.host ? 'idle' : 'off', framesSent: this.framesSent };
  }

  private stopCapture(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    const dev = this.device;
    this.device = undefined;
    this.live = undefined;
    if (!dev) return;
    if (!dev.closed) dev.close();
    log('microphone off');
    this.o.onLive(false);
  }

  private warn(message: string): void {
    if (this.warned) return;
    this.warned = true;
    this.o.problem(`microphone: ${message}`);
  }
}
