/**
 * The SPICE playback channel: the guest's sound output as raw PCM (QEMU `-audiodev spice`).
 *
 * Wire facts (spice-protocol enums.h, spice-common spice.proto, spice-server sound.cpp):
 * server messages DATA {u32 time, bytes}, MODE {u32 time, u16 mode, bytes}, START {u32 channels,
 * u16 format, u32 frequency, u32 time}, STOP, VOLUME {u8 n, n × u16}, MUTE {u8}, LATENCY {u32 ms}.
 * `time` is spice-server's multimedia clock: CLOCK_MONOTONIC in ms (u32, wraps) taken when QEMU
 * handed the samples over, so on the same host it can be compared with ours (see monotonicMs()).
 * We offer only the VOLUME and LATENCY caps: without OPUS/CELT the server sends raw S16 frames
 * (QEMU: 480 stereo frames at 48 kHz = 10 ms per DATA message).
 *
 * Contract: handlers are called in wire order. `data` gets whole frames only (a torn tail is cut)
 * and only between `start` and `stop`; its buffer is ours to lend for the call (the handler may
 * scale it in place, must copy what it keeps). The guest is untrusted: channel counts, rates and
 * sizes are bounded here before a handler sees them; a message the layout cannot hold ends the
 * channel with ERR_SPICE_PROTOCOL (never the process).
 */
import { debuglog } from 'node:util';
import type { SpiceAddress } from './address.js';
import { SpiceChannel } from './channel.js';
import { SpiceError } from './errors.js';
import { AudioDataMode, AudioFmt, ChannelType, PlaybackCap, PlaybackServerMsg } from './protocol.js';

const debug = debuglog('glasspane:spice');
/** Checked before each debug line on a per-message path: a disabled debuglog still costs its call. */
const debugOn = debug.enabled;

/** A PCM stream's shape as START announced it, bounded by AUDIO_LIMITS. Samples are always S16LE. */
export interface AudioFormat {
  /** Interleaved channels (SPICE: 2). */
  channels: number;
  /** Frames per second (spice-server: 48000). */
  frequency: number;
}

/** Bounds for what a server may announce; anything outside ends the channel. */
export const AUDIO_LIMITS = { minChannels: 1, maxChannels: 8, minFrequency: 8000, maxFrequency: 192_000, maxDataBytes: 256 * 1024 } as const;

/**
 * What the owner does with the guest's sound (see the module comment for order and buffer
 * lending). Called on the main thread from socket events; a handler that throws ends the channel
 * with ERR_SPICE_PROTOCOL. `serverTimeMs` is the server's u32 ms clock (see clockDeltaMs).
 */
export interface PlaybackHandlers {
  start?(format: AudioFormat, serverTimeMs: number): void;
  /** Interleaved S16LE frames; `serverTimeMs` is when QEMU handed them to SPICE (server clock). */
  data?(pcm: Buffer, serverTimeMs: number): void;
  stop?(): void;
  /** Per-channel level 0..65535 (QEMU: the guest mixer's 0..255 × 257); linear. */
  volume?(levels: number[]): void;
  mute?(muted: boolean): void;
  /** The server's wish for the client's buffering (ms); informational. */
  latency?(ms: number): void;
  /** The channel ended: `err` undefined when we closed it. */
  close?(err?: SpiceError): void;
}

/** Where and how to link a sound channel: the session from MAIN_INIT. */
export interface SoundChannelOptions {
  address: SpiceAddress;
  sessionId: number;
  password?: string;
  timeoutMs?: number;
  /** Aborting it ends the link in flight (open() rejects). */
  signal?: AbortSignal;
  /** Told once when the channel ended, after the handlers' close: `err` undefined when we closed it. */
  ended?(err?: SpiceError): void;
}

/**
 * Links one sound channel (playback or record) of the session, offering `caps`; `keep` says how
 * much of each message its handler reads.
 */
export function linkSoundChannel(o: SoundChannelOptions, channelType: number, caps: number[], name: string, keep: (type: number) => number): Promise<SpiceChannel> {
  return SpiceChannel.open({ address: o.address, channelType, connectionId: o.sessionId, channelCaps: caps, password: o.password, name, timeoutMs: o.timeoutMs, signal: o.signal, keep });
}

/** VOLUME {u8 n, n × u16}: at most 1 + 2 × 255 bytes are read. */
export const VOLUME_KEEP = 1 + 2 * 255;

/** Bytes of each playback message the handler reads: DATA up to one byte past its limit (so an oversize one is seen as such). */
function playbackKeep(type: number): number {
  switch (type) {
    case PlaybackServerMsg.DATA:
      return 4 + AUDIO_LIMITS.maxDataBytes + 1;
    case PlaybackServerMsg.MODE:
      return 6;
    case PlaybackServerMsg.START:
      return 14;
    case PlaybackServerMsg.VOLUME:
      return VOLUME_KEEP;
    case PlaybackServerMsg.MUTE:
      return 1;
    case PlaybackServerMsg.LATENCY:
      return 4;
    default:
      return 0;
  }
}

/** CLOCK_MONOTONIC in ms as a u32, the clock spice-server stamps audio with (reds_get_mm_time). */
export function monotonicMs(): number {
  return Number((process.hrtime.bigint() / 1_000_000n) & 0xffffffffn);
}

/**
 * `localMs - serverMs` for two u32 ms clocks, as a signed difference (wrap-safe). Null when the
 * two are more than `maxSkewMs` apart: then they are not the same clock (a remote QEMU).
 */
export function clockDeltaMs(localMs: number, serverMs: number, maxSkewMs = 10_000): number | null {
  const d = (localMs - serverMs) | 0; // the u32 difference read as an i32
  return Math.abs(d) > maxSkewMs ? null : d;
}

/**
 * Checks a START's fields (playback: {u32 channels, u16 format, u32 frequency, u32 time}; record:
 * the same without `time`); returns the format or the reason it is refused.
 */
export function parseAudioStart(p: Buffer, withTime: boolean): { format: AudioFormat; time: number } | string {
  const need = withTime ? 14 : 10;
  if (p.length < need) return `START has ${p.length} bytes, its layout (channels, format, frequency${withTime ? ', time' : ''}) needs ${need}`;
  const channels = p.readUInt32LE(0);
  const fmt = p.readUInt16LE(4);
  const frequency = p.readUInt32LE(6);
  const time = withTime ? p.readUInt32LE(10) : 0;
  if (fmt !== AudioFmt.S16) return `START field format is ${fmt}; only S16 (1) exists`;
  if (channels < AUDIO_LIMITS.minChannels || channels > AUDIO_LIMITS.maxChannels) return `START field channels is ${channels} (accepted ${AUDIO_LIMITS.minChannels}..${AUDIO_LIMITS.maxChannels})`;
  if (frequency < AUDIO_LIMITS.minFrequency || frequency > AUDIO_LIMITS.maxFrequency) return `START field frequency is ${frequency} Hz (accepted ${AUDIO_LIMITS.minFrequency}..${AUDIO_LIMITS.maxFrequency})`;
  return { format: { channels, frequency }, time };
}

/**
 * VOLUME {u8 n, n × u16} or MUTE {u8}, the same on both sound channels (only their numbers
 * differ): passed to the handler, or the channel ended when the payload cannot hold them.
 */
export function volumeOrMute(mute: boolean, type: number, p: Buffer, h: Pick<PlaybackHandlers, 'volume' | 'mute'>, channel: SpiceChannel): void {
  const n = p.length ? p.readUInt8(0) : 0;
  const need = mute ? 1 : 1 + 2 * n;
  if (p.length < need || p.length < 1) return channel.protocolError(type, p, Math.max(1, need), mute ? 'MUTE (mute)' : p.length ? `VOLUME (nchannels = ${n}, volume[${n}])` : 'VOLUME (nchannels)');
  if (mute) return h.mute?.(n !== 0);
  const levels: number[] = [];
  for (let i = 0; i < n; i++) levels.push(p.readUInt16LE(1 + 2 * i));
  h.volume?.(levels);
}

/** The playback channel of one session (see the module comment). Made by open(); main thread only. */
export class PlaybackChannel {
  /** DATA messages received, whole or cut; dropped ones (before START, or oversize) counted apart. */
  packets = 0;
  dropped = 0;
  private format: AudioFormat | null = null;
  private readonly channel: SpiceChannel;

  private constructor(channel: SpiceChannel) {
    this.channel = channel;
  }

  /** Links the playback channel of session `sessionId`; handlers get everything from then on. */
  static async open(opts: SoundChannelOptions & { handlers: PlaybackHandlers }): Promise<PlaybackChannel> {
    const channel = await linkSoundChannel(opts, ChannelType.PLAYBACK, [PlaybackCap.VOLUME, PlaybackCap.LATENCY], 'playback', playbackKeep);
    const pb = new PlaybackChannel(channel);
    channel.attach((type, payload) => pb.onMessage(type, payload, opts.handlers), (err) => {
      pb.format = null;
      opts.handlers.close?.(err);
      opts.ended?.(err);
    });
    return pb;
  }

  /** True once the channel ended (by us or the server). */
  get isClosed(): boolean {
    return this.channel.isClosed;
  }

  /** The stream's format between START and STOP, else null. */
  get current(): AudioFormat | null {
    return this.format;
  }

  /** Closes gracefully (see SpiceChannel.close()); `handlers.close` runs with no error. */
  close(): Promise<void> {
    return this.channel.close();
  }

  private onMessage(type: number, p: Buffer, h: PlaybackHandlers): void {
    switch (type) {
      case PlaybackServerMsg.DATA: {
        if (p.length < 4) return this.channel.protocolError(type, p, 4, 'DATA (time)');
        const f = this.format;
        if (!f || p.length - 4 > AUDIO_LIMITS.maxDataBytes) {
          this.dropped++;
          return;
        }
        const frameBytes = 2 * f.channels;
        const whole = Math.floor((p.length - 4) / frameBytes) * frameBytes;
        this.packets++;
        if (whole > 0) h.data?.(p.subarray(4, 4 + whole), p.readUInt32LE(0));
        return;
      }
      case PlaybackServerMsg.MODE: {
        if (p.length < 6) return this.channel.protocolError(type, p, 6, 'MODE (time, mode)');
        const mode = p.readUInt16LE(4);
        if (debugOn) debug('playback: mode %d', mode);
        if (mode !== AudioDataMode.RAW) {
          this.fail(`SPICE playback MODE field mode is ${mode}${mode === AudioDataMode.OPUS ? ' (Opus)' : mode === AudioDataMode.CELT_0_5_1 ? ' (CELT)' : ''}; glasspane takes raw PCM only (mode 1) and never offers a codec`);
        }
        return;
      }
      case PlaybackServerMsg.START: {
        const r = parseAudioStart(p, true);
        if (typeof r === 'string') return this.fail(`SPICE playback ${r}`);
        this.format = r.format;
        if (debugOn) debug('playback: start %d ch %d Hz', r.format.channels, r.format.frequency);
        h.start?.(r.format, r.time);
        return;
      }
      case PlaybackServerMsg.STOP:
        if (debugOn) debug('playback: stop');
        this.format = null;
        h.stop?.();
        return;
      case PlaybackServerMsg.VOLUME:
      case PlaybackServerMsg.MUTE:
        return volumeOrMute(type === PlaybackServerMsg.MUTE, type, p, h, this.channel);
      case PlaybackServerMsg.LATENCY:
        if (p.length < 4) return this.channel.protocolError(type, p, 4, 'LATENCY (latency_ms)');
        h.latency?.(p.readUInt32LE(0));
        return;
      default:
        return;
    }
  }

  private fail(message: string): void {
    throw audioProtocolError(message);
  }
}

/** Thrown from a channel's dispatch: SpiceChannel then ends that channel (only it) with this error. */
export function audioProtocolError(message: string): SpiceError {
  return new SpiceError('ERR_SPICE_PROTOCOL', message, 'report it with NODE_DEBUG=glasspane:spice output; audio stays off until the next connection');
}
