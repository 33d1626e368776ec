/**
 * The relay's voice: its events, its state and its problems. A listener that throws is reported,
 * never allowed into the relay's loop; a problem is reported once until a different one (or
 * success) comes along; the state is announced on every change.
 */
import { EventEmitter } from 'node:events';
import { debuglog } from 'node:util';
import { GlasspaneError, describeError } from '../errors.js';
import type { RelayCounters, RelayEvents, RelayState } from './relay-types.js';

const log = debuglog('glasspane:relay');

/**
 * The base of FrameRelay: its EventEmitter, `state` (see RelayState), `counters`, and the
 * protected dispatch/setStatus/problem that subclasses use instead of emit(). Not used alone.
 */
export class RelayReporter extends EventEmitter<RelayEvents> {
  state: RelayState = 'waiting';
  /** The first status is announced even though `state` starts as 'waiting'. */
  private announced = false;
  protected lastProblem = '';
  readonly counters: RelayCounters = { framesSkipped: 0, sessions: 0, reopens: 0, lastProblemCode: null };

  /** Emits to listeners; a listener that throws is reported, never allowed into the relay's loop. */
  protected dispatch<K extends keyof RelayEvents>(event: K, ...args: RelayEvents[K]): boolean {
    try {
      return (this.emit as (e: K, ...a: RelayEvents[K]) => boolean)(event, ...args);
    } catch (err) {
      const message = `a '${event}' listener threw: ${describeError(err)}`;
      if (event === 'problem') log('%s', message);
      else this.problem(new GlasspaneError('ERR_FRAME_LISTENER', message, 'report this with the stack trace from NODE_DEBUG=glasspane:relay'));
      return true;
    }
  }

  protected setStatus(state: RelayState, message: string): void {
    if (this.state === state && this.announced) return;
    this.announced = true;
    this.state = state;
    log('state %s: %s', state, message);
    this.dispatch('status', { state, message });
  }

  /** Reports a problem once until a different one (or success) comes along. */
  protected problem(err: unknown): void {
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

}
