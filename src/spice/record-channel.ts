/**
 * The SPICE record channel: host microphone → the guest's sound input (QEMU `-audiodev spice`).
 *
 * Wire facts (spice.proto, spice-server sound.cpp): server START {u32 channels, u16 format,
 * u32 frequency}, STOP, VOLUME {u8 n, n × u16}, MUTE {u8}; client DATA {u32 time, bytes},
 * MODE {u32 time, u16 mode, bytes}, START_MARK {u32 time}. Like spice-gtk, the first write after
 * a START sends MODE (raw) and START_MARK, then DATA. spice-server reads raw data as stereo S16
 * (4 bytes per frame) into an 8192-frame ring and hands QEMU nothing until 4096 frames arrived;
 * we send at most 480 frames per DATA (its codec frame, and its receive buffer's size).
 *
 * Contract: write() is a no-op outside START..STOP and after close; handlers run in wire order.
 */
import { debuglog } from 'node:util';
import type { SpiceChannel } from './channel.js';
import type { SpiceError } from './errors.js';
import { audioProtocolError, linkSoundChannel, monotonicMs, parseAudioStart, volumeOrMute, VOLUME_KEEP, type AudioFormat, type SoundChannelOptions } from './playback-channel.js';
import { AudioDataMode, ChannelType, RecordCap, RecordClientMsg, RecordServerMsg } from './protocol.js';

const debug = debuglog('glasspane:spice');
/** Checked before each debug line on a per-message path: a disabled debuglog still costs its call. */
const debugOn = debug.enabled;

/** Most frames per DATA message (spice-server's frame size). */
export const RECORD_CHUNK_FRAMES = 480;
/** Bytes of ours the server may leave unread before new samples are dropped (about 0.3 s of 48 kHz stereo). */
export const MAX_RECORD_BACKLOG = 64 * 1024;

/**
 * What the owner does for the guest's sound input; called on the main thread from socket events,
 * in wire order. The format passed to `start` is bounded by AUDIO_LIMITS.
 */
export interface RecordHandlers {
  /** The guest opened its sound input: send frames of `format` through `channel.write()`. */
  start?(format: AudioFormat, channel: RecordChannel): void;
  stop?(): void;
  volume?(levels: number[]): void;
  mute?(muted: boolean): void;
  close?(err?: SpiceError): void;
}

/** The record channel of one session (see the module comment). Main thread only. */
export class RecordChannel {
  /** Frames sent since the channel opened. */
  framesSent = 0;
  /** Frames dropped because the server did not read (see write()). */
  framesDropped = 0;
  private format: AudioFormat | null = null;
  private marked = false;
  private readonly channel: SpiceChannel;

  private constructor(channel: SpiceChannel) {
    this.channel = channel;
  }

  /**
   * Links the record channel of session `sessionId`. Rejects with the SpiceErrors of
   * SpiceChannel.open(); a START outside AUDIO_LIMITS later ends the channel with ERR_SPICE_PROTOCOL.
   */
  static async open(opts: SoundChannelOptions & { handlers: RecordHandlers }): Promise<RecordChannel> {
    const channel = await linkSoundChannel(opts, ChannelType.RECORD, [RecordCap.VOLUME], 'record', (type) =>
      type === RecordServerMsg.START ? 10 : type === RecordServerMsg.VOLUME ? VOLUME_KEEP : type === RecordServerMsg.MUTE ? 1 : 0,
    );
    const rec = new RecordChannel(channel);
    const h = opts.handlers;
    channel.attach(
      (type, p) => {
        switch (type) {
          case RecordServerMsg.START: {
            const r = parseAudioStart(p, false);
            if (typeof r === 'string') throw audioProtocolError(`SPICE record ${r}`);
            rec.format = r.format;
            rec.marked = false;
            if (debugOn) debug('record: start %d ch %d Hz', r.format.channels, r.format.frequency);
            h.start?.(r.format, rec);
            return;
          }
          case RecordServerMsg.STOP:
            if (debugOn) debug('record: stop');
            rec.format = null;
            h.stop?.();
            return;
          case RecordServerMsg.VOLUME:
          case RecordServerMsg.MUTE:
            return volumeOrMute(type === RecordServerMsg.MUTE, type, p, h, channel);
          default:
            return;
        }
      },
      (err) => {
        rec.format = null;
        h.close?.(err);
        opts.ended?.(err);
      },
    );
    return rec;
  }

  /** The format the guest asked for between START and STOP, else null. */
  get current(): AudioFormat | null {
    return this.format;
  }

  /** True once the channel ended (by us or the server). */
  get isClosed(): boolean {
    return this.channel.isClosed;
  }

  /**
   * Sends interleaved S16LE frames of the current format (a torn tail is cut), split into
   * messages of at most RECORD_CHUNK_FRAMES frames, or drops them while the server leaves more
   * than MAX_RECORD_BACKLOG bytes unread. `pcm` is copied; the caller keeps it.
   */
  write(pcm: Buffer): void {
    const f = this.format;
    if (!f || this.channel.isClosed) return;
    const frameBytes = 2 * f.channels;
    const frames = Math.floor(pcm.length / frameBytes);
    if (frames === 0) return;
    // Live sound is worth nothing late: while the server does not read what we sent (over
    // MAX_RECORD_BACKLOG bytes wait), new samples are dropped instead of queued without end.
    if (this.channel.backlog > MAX_RECORD_BACKLOG) {
      this.framesDropped += frames;
      return;
    }
    const now = monotonicMs();
    if (!this.marked) {
      this.marked = true;
      const mode = Buffer.alloc(6);
      mode.writeUInt32LE(now, 0);
      mode.writeUInt16LE(AudioDataMode.RAW, 4);
      this.channel.send(RecordClientMsg.MODE, mode);
      const mark = Buffer.alloc(4);
      mark.writeUInt32LE(now, 0);
      this.channel.send(RecordClientMsg.START_MARK, mark);
    }
    for (let at = 0; at < frames; at += RECORD_CHUNK_FRAMES) {
      const n = Math.min(RECORD_CHUNK_FRAMES, frames - at);
      const msg = Buffer.allocUnsafe(4 + n * frameBytes);
      msg.writeUInt32LE(now, 0);
      pcm.copy(msg, 4, at * frameBytes, (at + n) * frameBytes);
      this.channel.send(RecordClientMsg.DATA, msg);
      this.framesSent += n;
    }
  }

  /** Closes gracefully (see SpiceChannel.close()); write() is a no-op from then on. */
  close(): Promise<void> {
    return this.channel.close();
  }
}
