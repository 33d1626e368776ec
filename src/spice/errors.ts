/**
 * SPICE errors: GlasspaneError with a code from the ERR_SPICE_* part of the one catalogue
 * (src/error-codes.ts, docs/errors.md), plus the server's LinkError number for refused links.
 */
import { type ErrorCode, GlasspaneError } from '../errors.js';
import { LINK_ERROR_NAMES, LinkError } from './protocol.js';

/** The SPICE codes of the catalogue (ERR_SPICE_ADDRESS, ERR_SPICE_CONNECT, ...). */
export type SpiceErrorCode = Extract<ErrorCode, `ERR_SPICE_${string}`>;

/**
 * A GlasspaneError from the SPICE layer: `code` is a SpiceErrorCode, `linkError` the server's
 * LinkError number when the server refused a link.
 */
export class SpiceError extends GlasspaneError {
  declare readonly code: SpiceErrorCode;
  /** For link errors: the server's numeric LinkError. */
  readonly linkError?: number;
  /**
   * Set where the error says the server cannot be talked to at all (a link reply or key that breaks
   * the protocol): trying again gets the same answer. See canRetry().
   */
  readonly permanent?: boolean;
  constructor(code: SpiceErrorCode, message: string, fix?: string, options?: { cause?: unknown; linkError?: number; permanent?: boolean }) {
    super(code, message, fix, options);
    this.name = 'SpiceError';
    if (options?.linkError !== undefined) this.linkError = options.linkError;
    if (options?.permanent) this.permanent = true;
  }
}

/** Codes that no retry can fix: a wrong password, a peer that is not SPICE 2, no inputs channel, bad input of ours. */
const NEVER_RETRIED: ReadonlySet<SpiceErrorCode> = new Set<SpiceErrorCode>(['ERR_SPICE_AUTH', 'ERR_SPICE_MAGIC', 'ERR_SPICE_VERSION', 'ERR_SPICE_PASSWORD', 'ERR_SPICE_ADDRESS', 'ERR_SPICE_NO_INPUTS', 'ERR_SPICE_KEY']);

/**
 * Link errors worth another attempt: ERROR (unspecific) and BAD_CONNECTION_ID (the session changed
 * under us, e.g. another client connected). Every other code, known or not, says something about
 * the server's set-up (TLS only, no such channel, another protocol) that a retry cannot change.
 */
const RETRIED_LINK_ERRORS: ReadonlySet<number> = new Set<number>([LinkError.ERROR, LinkError.BAD_CONNECTION_ID]);

/**
 * Whether trying again can help (the reconnecting client stops, state `failed`, when not): a
 * connection refused, closed or timed out, a link BAD_CONNECTION_ID and a malformed message in a
 * running session can go away; a wrong password, a server that wants TLS or answers with another
 * protocol, a link error glasspane does not know, and a link reply or key that breaks the protocol
 * cannot.
 */
export function canRetry(e: SpiceError): boolean {
  if (NEVER_RETRIED.has(e.code) || e.permanent) return false;
  if (e.code === 'ERR_SPICE_LINK') return e.linkError !== undefined && RETRIED_LINK_ERRORS.has(e.linkError);
  return true;
}

/** Names a LinkError number for messages ("PERMISSION_DENIED", or "unknown error 42"). */
export function linkErrorName(code: number): string {
  return LINK_ERROR_NAMES[code] ?? `unknown error ${code}`;
}

/** Builds the error for a refused link, with a fix that fits the reason. */
export function linkRefused(code: number, channel: string, stage: 'link' | 'ticket'): SpiceError {
  const name = linkErrorName(code);
  if (code === LinkError.PERMISSION_DENIED) {
    return new SpiceError(
      'ERR_SPICE_AUTH',
      `SPICE server refused the ${channel} channel: permission denied: wrong SPICE password (or the server has no password set yet)`,
      'put the password of -spice password-secret= in the file given to --spice-password-file or in GLASSPANE_SPICE_PASSWORD',
      { linkError: code },
    );
  }
  const fixes: Record<number, string> = {
    [LinkError.INVALID_MAGIC]: 'check that the address is a SPICE port (-spice port=...), not VNC or QMP',
    [LinkError.VERSION_MISMATCH]: 'use a SPICE server with protocol 2.2 (spice-server 0.12 or newer)',
    [LinkError.NEED_SECURED]: 'the server requires TLS, which glasspane does not speak: add a plain port (-spice port=...) for local use',
    [LinkError.NEED_UNSECURED]: 'connect to the plain -spice port= rather than tls-port=',
    [LinkError.BAD_CONNECTION_ID]: 'another client took over the session; reconnect (glasspane does this by itself)',
    [LinkError.CHANNEL_NOT_AVAILABLE]: `QEMU has no ${channel} channel; check the VM's -spice and device options`,
    [LinkError.INVALID_DATA]: 'the server could not read our link message: check that the address is a SPICE 2.2 server (QEMU -spice)',
  };
  return new SpiceError(
    'ERR_SPICE_LINK',
    `SPICE server refused the ${channel} channel at the ${stage} stage: ${name} (${code})`,
    fixes[code] ?? (code in LINK_ERROR_NAMES ? 'check the SPICE server log (QEMU stderr) for the reason' : 'SPICE 2.2 defines no such link error: check that the address is a SPICE server (QEMU -spice)'),
    { linkError: code },
  );
}
