/**
 * SPICE error codes: stable strings that scripts and tests match on. Every error says what
 * happened and carries a one-sentence fix (printed by the CLI after the message).
 */
import { GlasspaneError } from '../errors.js';
import { LINK_ERROR_NAMES, LinkError } from './protocol.js';

/** The codes a SpiceError may carry, each with its meaning. */
export const SpiceErrorCodes = {
  /** The address given by the user could not be parsed. */
  ERR_SPICE_ADDRESS: 'ERR_SPICE_ADDRESS',
  /** TCP/unix connect failed (ECONNREFUSED, ENOENT, ...); carries errno details in `cause`. */
  ERR_SPICE_CONNECT: 'ERR_SPICE_CONNECT',
  /** The peer did not answer with "REDQ": not a SPICE server. */
  ERR_SPICE_MAGIC: 'ERR_SPICE_MAGIC',
  /** The server speaks another major protocol version. */
  ERR_SPICE_VERSION: 'ERR_SPICE_VERSION',
  /** The server refused the link (LinkError other than PERMISSION_DENIED). */
  ERR_SPICE_LINK: 'ERR_SPICE_LINK',
  /** PERMISSION_DENIED: wrong password, or the server has none set. */
  ERR_SPICE_AUTH: 'ERR_SPICE_AUTH',
  /** A password over 60 bytes (the server's limit) or one that cannot be read. */
  ERR_SPICE_PASSWORD: 'ERR_SPICE_PASSWORD',
  /** A malformed message: a size or field the protocol does not allow. */
  ERR_SPICE_PROTOCOL: 'ERR_SPICE_PROTOCOL',
  /** The connection ended, either between messages or in the middle of one. */
  ERR_SPICE_CLOSED: 'ERR_SPICE_CLOSED',
  /** No answer within the link timeout. */
  ERR_SPICE_TIMEOUT: 'ERR_SPICE_TIMEOUT',
  /** The server has no inputs channel (QEMU without a keyboard/mouse?). */
  ERR_SPICE_NO_INPUTS: 'ERR_SPICE_NO_INPUTS',
  /** Audio was asked for, but the server has no playback/record channel (no -audiodev spice). */
  ERR_SPICE_NO_AUDIO: 'ERR_SPICE_NO_AUDIO',
  /** A key name or action that glasspane does not know. */
  ERR_SPICE_KEY: 'ERR_SPICE_KEY',
} as const;
/** One of SpiceErrorCodes. */
export type SpiceErrorCode = (typeof SpiceErrorCodes)[keyof typeof SpiceErrorCodes];

/**
 * A GlasspaneError from the SPICE layer: `code` is a SpiceErrorCode, `linkError` the server's
 * LinkError number when the server refused a link.
 */
export class SpiceError extends GlasspaneError {
  declare readonly code: SpiceErrorCode;
  /** For link errors: the server's numeric LinkError. */
  readonly linkError?: number;
  constructor(code: SpiceErrorCode, message: string, fix?: string, options?: { cause?: unknown; linkError?: number }) {
    super(code, message, fix, options);
    this.name = 'SpiceError';
    if (options?.linkError !== undefined) this.linkError = options.linkError;
  }
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
  };
  return new SpiceError(
    'ERR_SPICE_LINK',
    `SPICE server refused the ${channel} channel at the ${stage} stage: ${name} (${code})`,
    fixes[code] ?? 'check the SPICE server log (QEMU stderr) for the reason',
    { linkError: code },
  );
}
