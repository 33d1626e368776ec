/**
 * Where the relay puts the frames it copies, one of its parts: a slot of a FrameMailbox, the one
 * place a frame's ownership is recorded. The relay acquires a slot, copies into it, and delivers
 * it; what delivery means is the host's: a relay on its own thread publishes the slot to the
 * window (or to the headless reader) and says so with a message; a relay on a shared thread lends
 * each frame to its own 'frame' listeners straight from the slot.
 */
import type { FrameInfo } from '../kvmfr/frame.js';
import type { FrameMailbox, FrameTimes } from './frame-mailbox.js';

/** A slot the relay may copy into: `data` views it (at least the bytes asked for). */
export interface StoreSlot {
  slot: number;
  data: Buffer;
}

/** A frame store (see the module comment). Used from the relay's thread only. */
export interface FrameStore {
  /**
   * A slot for `bytes`; waits up to `timeoutMs` for the reader to give one back ('timeout' then:
   * the relay skips the frame), 'closed' once abort() was called.
   */
  acquire(bytes: number, timeoutMs: number): Promise<StoreSlot | 'timeout' | 'closed'>;
  /** Gives back a slot whose copy failed. */
  abandon(slot: number): void;
  /** The frame in `slot` is complete and valid: hand it on. */
  deliver(slot: number, info: FrameInfo, copiedAtNs: bigint, discontinuous: boolean, times: FrameTimes): void;
  /** Ends every wait for a slot (closing). */
  abort(): void;
}

/** What a MailboxStore does besides writing the mailbox. */
export interface MailboxStoreHooks {
  /** Wait for a freed slot by blocking this thread (a relay thread of its own) instead of through the event loop. */
  blocking: boolean;
  /** A slot's buffer grew: a reader on another thread must be sent it (FrameMailbox.adoptSlot). */
  grown?: (slot: number, buffer: SharedArrayBuffer, generation: number) => void;
  /** A frame was published in `slot` with `lease`. */
  published: (slot: number, lease: number) => void;
}

/** A FrameStore over the writer side of a FrameMailbox (see the module comment). */
export class MailboxStore implements FrameStore {
  private aborted = false;

  constructor(
    readonly mailbox: FrameMailbox,
    private readonly hooks: MailboxStoreHooks,
  ) {}

  async acquire(bytes: number, timeoutMs: number): Promise<StoreSlot | 'timeout' | 'closed'> {
    const deadline = performance.now() + timeoutMs;
    const grown = this.hooks.grown ?? (() => undefined);
    for (;;) {
      if (this.aborted || this.mailbox.closed) return 'closed';
      const seen = this.mailbox.freedCount();
      const got = this.mailbox.acquire(bytes, grown);
      if (got) return got;
      // Only when the reader holds (or has not taken) every other slot.
      const left = deadline - performance.now();
      if (left <= 0) return 'timeout';
      if (this.hooks.blocking) this.mailbox.waitFreed(seen, left);
      else await this.mailbox.waitFreedAsync(seen, left);
    }
  }

  abandon(slot: number): void {
    this.mailbox.abandon(slot);
  }

  deliver(slot: number, info: FrameInfo, copiedAtNs: bigint, discontinuous: boolean, times: FrameTimes): void {
    this.hooks.published(slot, this.mailbox.publish(slot, info, copiedAtNs, discontinuous, times));
  }

  abort(): void {
    this.aborted = true;
    this.mailbox.close();
  }
}
