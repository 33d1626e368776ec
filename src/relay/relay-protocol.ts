/**
 * Messages between the relay thread (relay-worker.ts) and the thread that hosts it
 * (threaded-relay.ts). Frames never travel as messages: their pixels and metadata go through the
 * shared FrameMailbox; a 'ready' message only says a newer frame is there. The relay thread sleeps
 * in the kernel while it waits for the producer: the host rings the bell after each message it
 * posts, so the thread wakes and reads it at once.
 */
import type { FrameInfo } from '../kvmfr/frame.js';
import type { MailboxMemory } from './frame-mailbox.js';
import type { CursorShape } from '../kvmfr/cursor.js';
import type { ProblemEvent, RelayCounters, RelayOptions, RelayState, SessionEvent, StatusEvent } from './frame-relay.js';

/** What the worker starts with (workerData). */
export interface RelayWorkerData {
  options: Omit<RelayOptions, 'bell' | 'waitOnThisThread' | 'copyOnThisThread'>;
  mailbox: MailboxMemory;
  /** native.ringBell's bell: BELL_WORDS Int32 words over a SharedArrayBuffer. */
  bell: Int32Array;
}

/**
 * Relay thread → presenting thread. 'ready': a newer frame is in the mailbox; 'slot': a slot's
 * buffer grew (adopt it before taking from that slot); 'session', 'format', 'status', 'problem':
 * the relay's events; 'cursor': a cursor event, its pixels copied by the structured clone;
 * 'counters': the relay's counters and state (every 500 ms and after each session, status or
 * problem); 'closed': the thread finished.
 */
export type FromRelay =
  | { t: 'ready' }
  | { t: 'slot'; slot: number; buffer: SharedArrayBuffer; generation: number }
  | { t: 'session'; ev: SessionEvent }
  | { t: 'format'; info: FrameInfo }
  | { t: 'cursor'; visible: boolean; position?: { x: number; y: number }; shape?: CursorShape & { pixels: Uint8Array } }
  | { t: 'status'; ev: StatusEvent }
  | { t: 'problem'; ev: ProblemEvent }
  | { t: 'counters'; counters: RelayCounters; state: RelayState }
  | { t: 'closed' };

/** Presenting thread → relay thread: move the guest cursor (guest desktop pixels), or close. */
export type ToRelay = { t: 'cursor-position'; x: number; y: number } | { t: 'close' };
