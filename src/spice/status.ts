/**
 * Where a SpiceClient is, as it reports it (onState, `state`), and the one line the viewer's OSD
 * and logs make of it. Plain data: no socket, no clock.
 */
import type { SpiceError } from './errors.js';

/** Where a SpiceClient is (client.ts describes the transitions). */
export type SpiceState = 'idle' | 'connecting' | 'connected' | 'waiting' | 'failed' | 'closed';

/** A snapshot of a SpiceClient for onState and `state`: a copy, the receiver may keep it. */
export interface SpiceStatus {
  state: SpiceState;
  /** Why the last attempt failed or the link was lost. */
  error?: SpiceError;
  /** In `waiting`: milliseconds until the next attempt. */
  retryInMs?: number;
  /** Failed attempts since the last successful link. */
  attempt: number;
  /** 'server' (relative) or 'client' (absolute), once connected. */
  mouseMode?: 'server' | 'client';
  /** Guest lock-key LEDs (Leds bits). */
  leds?: number;
  vmName?: string;
  vmUuid?: string;
}

/**
 * One line for the viewer's on-screen display and logs, e.g.
 * "SPICE: connected to QEMU 7.2.22 (relative mouse)", "SPICE: retrying in 0.5 s: ...",
 * "SPICE: failed: permission denied: wrong SPICE password ...".
 */
export function describeSpiceStatus(s: SpiceStatus): string {
  switch (s.state) {
    case 'idle':
      return s.error ? `SPICE: disconnected: ${s.error.message}` : 'SPICE: not connected';
    case 'connecting':
      return s.attempt > 0 ? `SPICE: connecting (attempt ${s.attempt + 1})` : 'SPICE: connecting';
    case 'connected':
      return `SPICE: connected${s.vmName ? ` to ${s.vmName}` : ''} (${s.mouseMode === 'client' ? 'absolute' : 'relative'} mouse)`;
    case 'waiting': {
      const secs = ((s.retryInMs ?? 0) / 1000).toFixed(1).replace(/\.0$/, '');
      return `SPICE: retrying in ${secs} s${s.error ? `: ${s.error.message}` : ''}`;
    }
    case 'failed':
      return `SPICE: failed: ${s.error?.message ?? 'unknown error'}`;
    case 'closed':
      return 'SPICE: closed';
  }
}
