/**
 * How every long-running command stops on Ctrl-C or `kill`: one place, so all of them treat the
 * first and the second signal the same way.
 */

/**
 * Calls `stop` on the first SIGINT and on the first SIGTERM. Each handler runs at most once, so a
 * second Ctrl-C while `stop` is still at work gets Node's default (the process ends at once, as
 * killed by SIGINT: status 130) — the way out of a stop that hangs.
 *
 * Returns a disposer that removes whichever of the two handlers has not fired yet; calling it more
 * than once is harmless. `stop` must not throw (an exception would escape to the event loop).
 */
export function onStopSignals(stop: () => void): () => void {
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  return () => {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  };
}
