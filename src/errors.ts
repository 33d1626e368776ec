/**
 * Stable error codes in one list. Every error the user can meet says what was found, what was
 * expected and how to fix it; `code` is stable so scripts and tests can match on it.
 */
export const ErrorCodes = {
  ERR_REGION_OPEN: 'ERR_REGION_OPEN',
  ERR_REGION_TOO_SMALL: 'ERR_REGION_TOO_SMALL',
  ERR_LGMP_MAGIC: 'ERR_LGMP_MAGIC',
  ERR_LGMP_VERSION: 'ERR_LGMP_VERSION',
  ERR_KVMFR_MAGIC: 'ERR_KVMFR_MAGIC',
  ERR_KVMFR_VERSION: 'ERR_KVMFR_VERSION',
  ERR_KVMFR_CORRUPT: 'ERR_KVMFR_CORRUPT',
  ERR_LGMP_CORRUPT: 'ERR_LGMP_CORRUPT',
  ERR_NO_PRODUCER: 'ERR_NO_PRODUCER',
  ERR_PRODUCER_STARTING: 'ERR_PRODUCER_STARTING',
  ERR_QUEUE_FULL: 'ERR_QUEUE_FULL',
  ERR_BAD_FRAME: 'ERR_BAD_FRAME',
  ERR_BAD_CURSOR: 'ERR_BAD_CURSOR',
  ERR_FRAME_STALLED: 'ERR_FRAME_STALLED',
  ERR_REGION_TRUNCATED: 'ERR_REGION_TRUNCATED',
  ERR_REGION_REPLACED: 'ERR_REGION_REPLACED',
  ERR_SESSION_ENDED: 'ERR_SESSION_ENDED',
  ERR_SUBSCRIPTION_LOST: 'ERR_SUBSCRIPTION_LOST',
  ERR_PRODUCER_STALLED: 'ERR_PRODUCER_STALLED',
  ERR_FRAMES_HELD: 'ERR_FRAMES_HELD',
  ERR_FRAME_LISTENER: 'ERR_FRAME_LISTENER',
  ERR_PRESENT: 'ERR_PRESENT',
  ERR_RELAY_THREAD: 'ERR_RELAY_THREAD',
  ERR_USAGE: 'ERR_USAGE',
  ERR_CONFIG: 'ERR_CONFIG',
  ERR_NATIVE_MISSING: 'ERR_NATIVE_MISSING',
  /** The viewer's presenter was given a frame, overlay or rectangle that does not fit (a bug in the caller). */
  ERR_PRESENT_GEOMETRY: 'ERR_PRESENT_GEOMETRY',
  /** The viewer's presenter cannot work with this window (SDL not reachable, window gone, renderer refuses). */
  ERR_PRESENTER: 'ERR_PRESENTER',
} as const;

/**
 * A GlasspaneError's `code`: one of ErrorCodes, or (for now) any other `ERR_*` string a module
 * uses on its own. Stable: scripts and tests match on it, never on the message.
 */
export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes] | (string & {});

/**
 * An error meant for the user: `code` (stable, see ErrorCode), a message that says what was found
 * and what was expected, and `fix` (one sentence on what to do). `cause` keeps the underlying error
 * (an errno error, a TOML error) for debugging. The CLI prints message and fix (describeError) and
 * maps the code to an exit status; nothing else about it is special.
 */
export class GlasspaneError extends Error {
  readonly code: ErrorCode;
  /** What the user can do about it, one sentence; printed after the message by the CLI. */
  readonly fix?: string;
  constructor(code: ErrorCode, message: string, fix?: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'GlasspaneError';
    this.code = code;
    this.fix = fix;
  }
}

/** Formats any error for a terminal: message, then the fix when there is one. */
export function describeError(err: unknown): string {
  if (err instanceof GlasspaneError) return err.fix ? `${err.message}\n  fix: ${err.fix}` : err.message;
  if (err instanceof Error) return err.message;
  return String(err);
}
