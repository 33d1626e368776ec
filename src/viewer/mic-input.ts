/**
 * Host microphone → the guest's sound input (SPICE record channel). What happens when the guest
 * starts recording is the policy (Looking Glass B7's audio:micDefault): `deny` (glasspane's
 * default) keeps the microphone off, `allow` (`--microphone`) opens it, `prompt` asks the user
 * through `onRequest` (the OSD says escape+E allows it). escape+E (toggle()) turns it on or off
 * while the guest records, whatever the policy; escape+C (cycle()) changes the policy. The
 * capture device is open only while the guest records (START..STOP), and `onLive` tells the OSD
 * so the user always sees when the microphone is live.
 *
 * The capture device opens or closes at most once per DEVICE_OPEN_INTERVAL_MS (OpenGate: both
 * block the window's thread, and a server can flood START/STOP): the first change is carried out at
 * once, a change sooner than that when the interval is over, if it still holds then. The user's
 * escape+E is carried out at once (a person is not a flood). The prompt is said from the gated
 * step too, so a flood of STARTs asks at most once an interval.
 *
 * Every 10 ms whatever SDL captured is taken (whole frames, at most 100 ms at a time), scaled
 * by the guest's record volume, and sent.
 */
import { debuglog } from 'node:util';
import type { AudioFormat } from '../spice/playback-channel.js';
import type { RecordChannel, RecordHandlers } from '../spice/record-channel.js';
import { applyGain, DEVICE_BUFFER_FRAMES, findAudioDevice, gainsFor, OpenGate, SDL_CHANNELS, type AudioHost, type RecordingDevice } from './audio-device.js';

const log = debuglog('glasspane:audio');

const POLL_MS = 10;

/** What happens when the guest starts recording (see the module comment). */
export type MicPolicy = 'prompt' | 'allow' | 'deny';
const NEXT_POLICY: Record<MicPolicy, MicPolicy> = { prompt: 'allow', allow: 'deny', deny: 'prompt' };

/**
 * The microphone as --stats shows it: off (not asked for, or no audio host), idle (waiting for
 * the guest to record), live; and the frames sent.
 */
export interface MicFigures {
  state: 'off' | 'idle' | 'live';
  framesSent: number;
}

/** A recording the guest asked for (START): its format and the channel to send it through. */
interface Recording {
  format: AudioFormat;
  channel: RecordChannel;
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
  /** The guest's recording while it lasts (START..STOP), whether or not the microphone is open. */
  private request?: Recording;
  /** Whether the microphone should be open for `request` (the policy said allow, or escape+E). */
  private wantOpen = false;
  /** The request the user was asked about (prompt), so that one request asks once. */
  private asked?: Recording;
  /** What the open device captures for. */
  private live?: Recording;
  private readonly gate = new OpenGate();
  private current: MicPolicy;

  constructor(private readonly o: { deviceName?: string; problem: (message: string) => void; onLive: (live: boolean) => void; policy?: MicPolicy; onRequest?: () => void }) {
    this.current = o.policy ?? 'allow';
  }

  /** The policy now. */
  get policy(): MicPolicy {
    return this.current;
  }

  /** escape+C: prompt → allow → deny → prompt; returns the new policy (it applies from the guest's next START). */
  cycle(): MicPolicy {
    this.current = NEXT_POLICY[this.current];
    return this.current;
  }

  /**
   * escape+E: opens the microphone while the guest records ('on'), closes it ('off'), or says
   * nobody records ('no-request').
   */
  toggle(): 'on' | 'off' | 'no-request' {
    if (!this.request) return 'no-request';
    this.wantOpen = !this.device;
    this.apply();
    return this.wantOpen ? 'on' : 'off';
  }

  /**
   * Lends SDL's audio module; throws GlasspaneError ERR_AUDIO_DEVICE for a capture device name
   * SDL does not know.
   */
  attachHost(host: AudioHost): void {
    findAudioDevice(host, 'recording', this.o.deviceName);
    this.host = host;
  }

  /** The guest records: what happens is the policy's (see the module comment for when the device opens). */
  start(format: AudioFormat, channel: RecordChannel): void {
    this.request = { format, channel };
    this.wantOpen = this.current === 'allow';
    if (this.current === 'deny') log('the guest records; the microphone stays off (deny)');
    this.gate.run(() => this.apply());
  }

  /** Brings the device to the last wish (open for the request, or closed) and asks once per request under prompt. */
  private apply(): void {
    const r = this.request;
    const target = r && this.wantOpen && !r.channel.isClosed ? r : undefined;
    if (target && this.live?.format === target.format && this.live.channel === target.channel && this.device) return;
    this.stopCapture();
    if (target) this.open(target.format, target.channel);
    else if (r && !this.wantOpen && this.current === 'prompt' && this.host && this.asked !== r) {
      this.asked = r;
      this.o.onRequest?.();
    }
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
    this.request = undefined;
    this.wantOpen = false;
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
    this.request = undefined;
    this.wantOpen = false;
    this.gate.dispose();
    this.stopCapture();
  }

  /** The figures now (a new object). */
  figures(): MicFigures {
    return { state: this.device ? 'live' : this.host && this.current !== 'deny' ? 'idle' : 'off', framesSent: this.framesSent };
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
