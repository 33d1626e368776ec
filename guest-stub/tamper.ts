/**
 * The stub's tamper hook: lets a fuzzer (test/fuzz) spoil the shared memory at exact moments of
 * the producer's work — after it wrote a frame struct but before posting it, right after a post,
 * after the pixels — the way a buggy or hostile guest would. Production use passes no hook.
 */
import type { Region } from '../src/region.js';
import type { Allocation } from '../src/lgmp/producer.js';

/**
 * When the hook runs: at the start of the 10 ms duty (return 'skip' to skip it: the heartbeat
 * stops) and at its end; for frames after the struct is written (`frame`), after the post
 * (`frame-posted`) and after the pixels (`frame-written`); for cursor messages before and after
 * the post.
 */
export type TamperPhase = 'tick-start' | 'tick-end' | 'frame' | 'frame-posted' | 'frame-written' | 'cursor' | 'cursor-posted';

/** Where the stub's session keeps things in the region (valid until the next session). */
export interface StubLayout {
  regionBytes: number;
  /** Queue header offset, ring offset and ring length (slots) of the frame and pointer queues. */
  frameQueue: { hq: number; messagesOffset: number; numMessages: number };
  pointerQueue: { hq: number; messagesOffset: number; numMessages: number };
  frames: Allocation[];
  cursorSlots: Allocation[];
  shapeSlots: Allocation[];
  udataOffset: number;
  udataSize: number;
}

/**
 * What a tamper hook gets: the phase, the region (to write anything anywhere in it) and where the
 * session's parts are; `slot` during frame and cursor phases. Valid only during the call.
 */
export interface TamperContext {
  phase: TamperPhase;
  region: Region;
  layout: StubLayout;
  /** The frame buffer or cursor slot being posted (frame and cursor phases). */
  slot?: Allocation;
}

/**
 * A tamper hook: runs synchronously on the stub's thread at each phase; may write anything into
 * the region; 'skip' at 'tick-start' skips that duty. A hook that throws is reported like any
 * producer step failure.
 */
export type Tamper = (ctx: TamperContext) => void | 'skip';
