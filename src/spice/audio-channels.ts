/**
 * The audio side of one SPICE session: the playback and (when asked for) record channels, opened
 * after main and inputs. Audio is never what makes a session fail to come up: a server without
 * audio channels (QEMU without `-audiodev spice`), or one refusing them, is reported through
 * `problem()` and the session goes on without sound.
 *
 * Once up, an audio channel that ends is one of two things: a message we refused (a START outside
 * the bounds, a codec, a message shorter than its layout: ERR_SPICE_PROTOCOL naming the field) is
 * reported through `problem()` and the session goes on without that channel, since linking it
 * again would bring the same; a channel the server closed or lost is the session lost, reported
 * through `lost` (SpiceClient then reconnects the whole session).
 */
import { debuglog } from 'node:util';
import { SpiceError } from './errors.js';
import { PlaybackChannel, type PlaybackHandlers, type SoundChannelOptions } from './playback-channel.js';
import { ChannelType } from './protocol.js';
import { RecordChannel, type RecordHandlers } from './record-channel.js';

const debug = debuglog('glasspane:spice');

/** What the owner does with the session's sound; called on the main thread from socket events. */
export interface AudioHandlers {
  /** Guest sound output; without it the playback channel is not opened. */
  playback?: PlaybackHandlers;
  /** Guest sound input (the host microphone); without it the record channel is not opened. */
  record?: RecordHandlers;
  /** Audio could not be set up for this session (the inputs still work). */
  problem?(err: SpiceError): void;
}

/** What QEMU needs for SPICE audio, for messages and docs. */
export const QEMU_AUDIO_HINT = 'start QEMU with -audiodev spice,id=snd0 -device intel-hda -device hda-duplex,audiodev=snd0 (or let `glasspane vm up` add them: audio = true)';

/**
 * The playback and record channels of one session (see the module comment); SpiceClient makes
 * one per connection and closes it with the session.
 */
export class AudioChannels {
  playback?: PlaybackChannel;
  record?: RecordChannel;

  constructor(private readonly handlers: AudioHandlers) {}

  /**
   * Opens what was asked for and what the server offers; never rejects. `lost` hears of a channel
   * the server ended after it was up (see the module comment).
   */
  async open(o: SoundChannelOptions & { offered: (type: number) => boolean; lost?: (err: SpiceError) => void }): Promise<void> {
    const h = this.handlers;
    const ended = (err?: SpiceError) => {
      if (!err) return;
      if (err.code === 'ERR_SPICE_PROTOCOL') h.problem?.(err);
      else o.lost?.(err);
    };
    const missing: string[] = [];
    const link = async <T>(wanted: object | undefined, type: number, which: string, open: () => Promise<T>): Promise<T | undefined> => {
      if (!wanted) return undefined;
      if (!o.offered(type)) {
        missing.push(which);
        return undefined;
      }
      try {
        return await open();
      } catch (err) {
        if (!o.signal?.aborted) this.report(err, which);
        return undefined;
      }
    };
    this.playback = await link(h.playback, ChannelType.PLAYBACK, 'playback', () => PlaybackChannel.open({ ...o, handlers: h.playback!, ended }));
    this.record = await link(h.record, ChannelType.RECORD, 'record', () => RecordChannel.open({ ...o, handlers: h.record!, ended }));
    if (missing.length) {
      h.problem?.(new SpiceError('ERR_SPICE_NO_AUDIO', `the SPICE server offers no ${missing.join(' or ')} channel: the VM has no SPICE audio`, QEMU_AUDIO_HINT));
    }
    debug('audio: playback %s, record %s', this.playback ? 'open' : 'off', this.record ? 'open' : 'off');
  }

  /** Closes both channels (each closing gracefully, at most 2 s); safe to call twice. */
  async close(): Promise<void> {
    const p = this.playback;
    const r = this.record;
    this.playback = this.record = undefined;
    await Promise.all([p?.close(), r?.close()]);
  }

  private report(err: unknown, which: string): void {
    const e = err instanceof SpiceError ? err : new SpiceError('ERR_SPICE_CONNECT', `SPICE ${which} channel: ${String(err)}`, 'check the SPICE server log (QEMU stderr)', { cause: err });
    this.handlers.problem?.(e);
  }
}
