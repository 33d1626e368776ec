/**
 * The error every user-visible failure throws: a stable `code` from the one catalogue in
 * ./error-codes.ts (docs/errors.md), a message naming what was found and what was expected, and
 * a fix. Scripts and tests match on `code`, never on the message.
 */
import { type ErrorCode, errorInfo } from './error-codes.js';

export { ErrorCatalogue, ErrorSections, errorInfo, type ErrorCode, type ErrorInfo, type ExitClass } from './error-codes.js';

/**
 * An error meant for the user: `code` (a closed ErrorCode: the compiler rejects an unknown one),
 * a message that says what was found and what was expected, and an optional `fix` (one sentence;
 * the catalogue's fix for the code stands in when it is unset). `cause` keeps the underlying
 * error (an errno error, a TOML error) for debugging. The CLI prints message and fix
 * (describeError) and maps the code to an exit status through its catalogue entry.
 */
export class GlasspaneError extends Error {
  readonly code: ErrorCode;
  /**
   * What the user can do about it, one sentence, when the throw site knows something more specific
   * than the catalogue's fix for the code; describeError prints the catalogue's when this is unset.
   */
  readonly fix?: string;
  constructor(code: ErrorCode, message: string, fix?: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'GlasspaneError';
    this.code = code;
    this.fix = fix;
  }
}

/**
 * Formats any error for a terminal: the message, then for a GlasspaneError the fix (the throw
 * site's, else the catalogue's for its code).
 */
export function describeError(err: unknown): string {
  if (err instanceof GlasspaneError) return `${err.message}\n  fix: ${err.fix ?? errorInfo(err.code).fix}`;
  if (err instanceof Error) return err.message;
  return String(err);
}
