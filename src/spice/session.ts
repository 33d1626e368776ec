/**
 * The channels of one SPICE session as SpiceClient supervises them (see client.ts): linked as one
 * attempt, ended as one.
 */
import type { AudioChannels } from './audio-channels.js';
import type { SpiceError } from './errors.js';
import type { InputsChannel } from './inputs-channel.js';
import type { MainChannel } from './main-channel.js';

/** The channels of one connection attempt and, once up, of the session (see the module comment). */
export class Session {
  main?: MainChannel;
  inputs?: InputsChannel;
  audio?: AudioChannels;
  /** Aborted when the attempt is given up (a channel ended, close()): links in flight stop at once. */
  readonly abort = new AbortController();
  /** True once connect() reported it connected. */
  up = false;
  /** True once it ended (lost, failed or closed): later channel ends are the ones we caused. */
  ended = false;
  /** The first channel end while it was still being set up. */
  failure?: SpiceError;

  /** Throws the failure of a channel that ended while others were linking. */
  check(): void {
    if (this.failure) throw this.failure;
  }

  /** Closes every channel: gracefully (inputs drained up to `drainMs`), each at most 2 s. */
  async close(drainMs: number): Promise<void> {
    const { audio, inputs, main } = this;
    await Promise.all([audio?.close(), inputs?.close(drainMs), main?.close()]);
  }
}
