/**
 * What FrameRelay hands out and says (events, states, counters, options): the contract the
 * viewer, the headless consumer, the relay thread and the benchmarks are written against.
 */
import type { ErrorCode } from '../errors.js';
import type { WatcherOptions } from '../native.js';
import type { KvmfrInfo } from '../kvmfr/header.js';
import type { FrameInfo } from '../kvmfr/frame.js';
import type { CursorShape } from '../kvmfr/cursor.js';

/**
 * A frame the relay copied out of the region and lends to its 'frame' listener. `data` is a view
 * into one of the relay's frame slots (a FrameMailbox slot: the mailbox records who holds it), not
 * into the region: the producer can no longer change it, but it still holds whatever the producer
 * wrote (check pixel contents as untrusted). `info` was validated by readFrame. The listener must
 * call release() when done (with no listener, or when the listener throws, the relay releases
 * it); while frames are not released the relay waits `bufferWaitMs`, then skips frames.
 */
export interface LentFrame {
  info: FrameInfo;
  /** The pixels: info.dataHeight rows of info.pitch bytes. Valid until release(). */
  data: Buffer;
  /** When the relay found the frame's message and began copying it (process.hrtime.bigint()). */
  seenAtNs: bigint;
  /** When the copy out of the region finished (process.hrtime.bigint()). */
  copiedAtNs: bigint;
  /** Hands the buffer back; the relay reuses it. Safe to call more than once. */
  release(): void;
}

/**
 * A cursor update as the relay reports it: visibility, the position when the message carried one
 * (guest desktop pixels, not clamped), and the shape when it carried one. The shape's `pixels` are
 * a fresh copy per event (readCursor's bounds hold for it), owned by the listener.
 */
export interface CursorEvent {
  visible: boolean;
  position?: { x: number; y: number };
  /** Shape header and a private copy of its pixels (valid until the next shape). */
  shape?: CursorShape & { pixels: Buffer };
}

/** A producer session began: its LGMP session id and the KVMFR info it published (parseKvmfrUdata). */
export interface SessionEvent {
  sessionID: number;
  info: KvmfrInfo;
}

/**
 * What the user is told: `waiting` (no region yet, or no producer has run since we started),
 * `connected`, `stalled` (connected, but the heartbeat is late), `producer-gone` (the producer
 * stopped or the region went away; waiting for it to come back), `closed`.
 */
export type RelayState = 'waiting' | 'connected' | 'stalled' | 'producer-gone' | 'closed';

/** The relay's state changed to `state`; `message` says why, in words for the user. */
export interface StatusEvent {
  state: RelayState;
  message: string;
}

/**
 * Something went wrong and the relay carried on: `code` is the GlasspaneError's code
 * (ERR_INTERNAL for any other error: a bug), `message` the error's message, `fix` the throw
 * site's fix when it has one (the catalogue's fix for the code otherwise). Reported once until a
 * different problem (or a success) comes along.
 */
export interface ProblemEvent {
  code: ErrorCode;
  message: string;
  fix?: string;
}

/** Counters for --stats and tests. */
export interface RelayCounters {
  /** Frames acknowledged without being handed out (their buffers were all held, or the copy failed). */
  framesSkipped: number;
  /** Producer sessions seen. */
  sessions: number;
  /** Times the region was re-opened after it shrank or was re-created. */
  reopens: number;
  /** The code of the last problem reported, or null. */
  lastProblemCode: ErrorCode | null;
}

/**
 * How a FrameRelay (or ThreadedRelay, which passes them to its thread) finds and consumes the
 * region. Times in milliseconds.
 */
export interface RelayOptions {
  /** /dev/shm/NAME, /dev/kvmfrN or a PCI BAR resource file. */
  path: string;
  /** Give up on a frame whose write pointer stops moving for this long (ms). Default 100 (B7 gives up after about 10 ms; a loaded host can deschedule a producer for longer, and a late frame beats a lost one). */
  copyTimeoutMs?: number;
  /** How often to retry opening the region or starting a session (ms). Default 250. */
  retryMs?: number;
  /** How long a frame may wait for a buffer the listener has not released (ms) before it is skipped. Default 500. */
  bufferWaitMs?: number;
  /** Polling policy of the native watcher that waits for the producer (defaults: WatcherOptions). */
  watcher?: WatcherOptions;
  /**
   * Copy on this thread instead of the libuv thread pool. Right for a relay with a thread of its
   * own (the relay worker): it saves two thread hand-offs per frame, and blocking its event loop
   * during a copy holds up nothing else. Default false (the calling thread stays free).
   */
  copyOnThisThread?: boolean;
  /**
   * Wait for the producer with this thread blocked in the kernel (Watcher.waitSync) instead of
   * being woken through the event loop. For a thread of the relay's own: the change reaches the
   * relay without a thread hand-off. Its event loop runs when `bell` rings, after a wait times out
   * (at most 250 ms while connected) and at least every 50 ms while frames flow. Default false.
   */
  waitOnThisThread?: boolean;
  /**
   * With waitOnThisThread: a bell (native.ringBell; an Int32Array of BELL_WORDS over a
   * SharedArrayBuffer) the thread that posts this relay messages rings after each, so a blocked
   * wait returns to run them at once.
   */
  bell?: Int32Array;
}

/**
 * The events of FrameRelay and their arguments (see frame-relay.ts). Listeners run on the relay's
 * thread; one that throws is reported as ERR_FRAME_LISTENER and never stops the relay.
 */
export interface RelayEvents {
  session: [SessionEvent];
  format: [FrameInfo];
  frame: [LentFrame];
  cursor: [CursorEvent];
  status: [StatusEvent];
  problem: [ProblemEvent];
}

