/**
 * The relay's voice, one of its parts: its events, its state and its problems. A listener that
 * throws is reported, never allowed into the relay's loop; a problem is reported once until a
 * different one (or success) comes along; the state is announced on every change.
 */
import { debuglog } from 'node:util';
import { GlasspaneError, describeError } from '../errors.js';
import type { RelayCounters, RelayEvents, RelayState } from './relay-types.js';

const log = debuglog('glasspane:relay');

/** How the reporter reaches listeners: the relay's EventEmitter emit(). */
export type Emit = <K extends keyof RelayEvents>(event: K, ...args: RelayEvents[K]) => boolean;

/**
 * State, counters and problem reporting of one relay (see the module comment). Owned by the
 * relay, which hands it to its other parts; used from the relay's thread only.
 */
export class RelayReporter {
  state: RelayState = 'waiting';
  readonly counters: RelayCounters = { framesSkipped: 0, sessions: 0, reopens: 0, lastProblemCode: null };
  /** The first status is announced even though `state` starts as 'waiting'. */
  private announced = false;
  private lastProblem = '';

  constructor(private readonly emit: Emit) {}

  /** Emits to listeners; a listener that throws is reported, never allowed into the relay's loop. */
  dispatch<K extends keyof RelayEvents>(event: K, ...args: RelayEvents[K]): boolean {
    try {
      return this.emit(event, ...args);
    } catch (err) {
      const message = `a '${event}' listener threw: ${describeError(err)}`;
      if (event === 'problem') log('%s', message);
      else this.problem(new GlasspaneError('ERR_FRAME_LISTENER', message, 'report this with the stack trace from NODE_DEBUG=glasspane:relay'));
      return true;
    }
  }

  /** Announces `state` (once per change) with why, in words for the user. */
  setStatus(state: RelayState, message: string): void {
    if (this.state === state && this.announced) return;
    this.announced = true;
    this.state = state;
    log('state %s: %s', state, message);
    this.dispatch('status', { state, message });
  }

  /** Reports a problem once until a different one (or success) comes along. */
  problem(err: unknown): void {
    const message = describeError(err);
    if (message === this.lastProblem) return;
    this.lastProblem = message;
    // Anything not a GlasspaneError reached here by a path with no code of its own: a bug.
    this.counters.lastProblemCode = err instanceof GlasspaneError ? err.code : 'ERR_INTERNAL';
    log('problem: %s', message);
    this.dispatch('problem', {
      code: this.counters.lastProblemCode,
      message: err instanceof Error ? err.message : String(err),
      fix: err instanceof GlasspaneError ? err.fix : undefined,
    });
  }

  /** Something worked: the next problem is reported even if it is the last one again. */
  succeeded(): void {
    this.lastProblem = '';
  }

  /** True while the last problem reported has not been followed by a success. */
  get troubled(): boolean {
    return this.lastProblem !== '';
  }
}
