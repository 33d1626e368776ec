/**
 * What FrameRelay hands out and says (events, states, counters, options): the contract the
 * viewer, the headless consumer, the relay thread and the benchmarks are written against.
 */
import type { ErrorCode } from '../errors.js';
import type { WatcherOptions } from '../native.js';
import type { KvmfrInfo } from '../kvmfr/header.js';
import type { FrameInfo } from '../kvmfr/frame.js';
import type { CursorShape } from '../kvmfr/cursor.js';
import type { FrameBuffers } from './frame-pool.js';

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

export interface CursorEvent {
  visible: boolean;
  position?: { x: number; y: number };
  /** Shape header and a private copy of its pixels (valid until the next shape). */
  shape?: CursorShape & { pixels: Buffer };
}

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

export interface StatusEvent {
  state: RelayState;
  message: string;
}

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

export interface RelayOptions {
  /** /dev/shm/NAME, /dev/kvmfrN or a PCI BAR resource file. */
  path: string;
  /** Give up on a frame whose write pointer stops moving for this long (ms). Default 100 (B7 gives up after about 10 ms; a loaded host can deschedule a producer for longer, and a late frame beats a lost one). */
  copyTimeoutMs?: number;
  /** How often to retry opening the region or starting a session (ms). Default 250. */
  retryMs?: number;
  /** How long a frame may wait for a buffer the listener has not released (ms) before it is skipped. Default 500. */
  bufferWaitMs?: number;
  watcher?: WatcherOptions;
  /** Where frames are copied to (default: a pool of two buffers lent to the 'frame' listener). */
  buffers?: FrameBuffers;
  /**
   * Copy on this thread instead of the libuv thread pool. Right for a relay with a thread of its
   * own (the window's relay worker): it saves two thread hand-offs per frame, and blocking its
   * event loop during a copy holds up nothing else. Default false (the main thread stays free).
   */
  copyOnThisThread?: boolean;
  /**
   * Wait for the producer on this thread (Watcher.waitSync, in slices of a few milliseconds with
   * the event loop run between them) instead of being woken through the event loop. For a thread
   * of the relay's own: the change reaches the relay without a thread hand-off. Default false.
   */
  waitOnThisThread?: boolean;
}

export interface RelayEvents {
  session: [SessionEvent];
  format: [FrameInfo];
  frame: [LentFrame];
  cursor: [CursorEvent];
  status: [StatusEvent];
  problem: [ProblemEvent];
}

