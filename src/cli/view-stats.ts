/**
 * What `view --stats` adds to the viewer's figures on each line: the window thread's event-loop
 * delay over the last second (`loopLagMs`: p50, p99, max; how long input, the SPICE sockets and the
 * window waited for the thread) and, with `--spice`, where SPICE is (`spice`: state, error code and the failed attempts since
 * the last link, so a script or test can wait for retries instead of guessing their times).
 * The SPICE fuzzer reads both (test/fuzz/spice).
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { InputSink } from '../input/sink.js';
import { SpiceInputSink } from '../spice/input-sink.js';

/** The extra fields of a --stats line (see the module comment). */
export interface LoopStats {
  loopLagMs: { p50: number; p99: number; max: number };
  spice?: { state: string; error?: string; attempt: number };
}

/**
 * Wraps the writer of --stats lines: each figures object it gets is written with the fields above.
 * The event-loop histogram starts now and restarts after every line. Main thread only.
 */
export function withLoopStats<F extends object>(sink: InputSink, write: (line: F & LoopStats) => void): (f: F) => void {
  const h = monitorEventLoopDelay({ resolution: 10 });
  h.enable();
  const ms = (ns: number) => (Number.isFinite(ns) ? ns / 1e6 : 0);
  return (f) => {
    const loopLagMs = { p50: ms(h.percentile(50)), p99: ms(h.percentile(99)), max: ms(h.max) };
    h.reset();
    const s = sink instanceof SpiceInputSink ? sink.client.state : undefined;
    write({ ...f, loopLagMs, spice: s && { state: s.state, error: s.error?.code, attempt: s.attempt } });
  };
}
