/**
 * What a presenter needs of a relay: the newest complete frame when it is about to draw, and what
 * the relay says meanwhile. ThreadedRelay (the relay on its own thread) is the implementation the
 * viewer uses; tests can hand the viewer a source of their own.
 */
import type { EventEmitter } from 'node:events';
import type { FrameInfo } from '../kvmfr/frame.js';
import type { KvmfrInfo } from '../kvmfr/header.js';
import type { TakenFrame } from './frame-mailbox.js';
import type { CursorEvent, ProblemEvent, RelayCounters, RelayState, SessionEvent, StatusEvent } from './frame-relay.js';

/**
 * The events of a FrameSource: FrameRelay's (see relay-types.ts) without 'frame', plus 'ready'.
 * They arrive on the presenting thread's event loop; 'ready' may come many times between two
 * takeLatest() calls.
 */
export interface FrameSourceEvents {
  /** A newer frame can be taken. */
  ready: [];
  session: [SessionEvent];
  format: [FrameInfo];
  cursor: [CursorEvent];
  status: [StatusEvent];
  problem: [ProblemEvent];
}

/**
 * What a presenter needs of a relay (see the module comment). Used from one thread, the one that
 * presents; nothing it does blocks that thread. Guest data arrives validated (readFrame,
 * readCursor) but pixel contents are the producer's.
 */
export interface FrameSource extends Pick<EventEmitter<FrameSourceEvents>, 'on' | 'off'> {
  /** Starts; resolves once close() has stopped it; rejects when it cannot start at all. */
  start(): Promise<void>;
  close(): Promise<void>;
  /**
   * The newest frame, or null when there is none newer than the last one taken. The frame taken
   * before is given back by this call: it stays valid until the next takeLatest() (or close()).
   */
  takeLatest(): TakenFrame | null;
  readonly state: RelayState;
  readonly counters: RelayCounters;
  readonly session: KvmfrInfo | null;
  /** Frames superseded before they were taken (the presenter was busy). */
  readonly skipped: number;
  /** Asks the producer to move the guest cursor; false when it does not support that. */
  setCursorPosition(x: number, y: number): boolean;
  /** Input just went to the guest: a change is likely soon, stop any idle backoff (optional). */
  hint?(): void;
}
