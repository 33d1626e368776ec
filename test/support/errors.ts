/**
 * Matching errors by their stable code (docs/errors.md), the way ws's tests match WS_ERR_*: every
 * bad-input path asserts its code; the message is checked too only where its wording is itself the
 * contract (it names the file, the field, the value found).
 */
import { expect } from 'vitest';
import { errorInfo, type ErrorCode } from '../../src/errors.js';
import { EXIT_STATUS_OF_CLASS } from '../../src/cli/exit-codes.js';

/**
 * An asymmetric matcher for an error with `code`, and a message equal to `message` (a string) or
 * matching it (a RegExp). Use with `toThrow(coded(...))`, `rejects.toThrow(coded(...))` or `toEqual`.
 */
export function coded(code: ErrorCode, message?: string | RegExp): ReturnType<typeof expect.objectContaining> {
  if (message === undefined) return expect.objectContaining({ code });
  return expect.objectContaining({ code, message: typeof message === 'string' ? message : expect.stringMatching(message) });
}

/**
 * The exit status a CLI command ends with when `code` stops it (its class in src/error-codes.ts):
 * how a test of a child process asserts the code, which the CLI prints as its message only.
 */
export function exitStatusOf(code: ErrorCode): number {
  return EXIT_STATUS_OF_CLASS[errorInfo(code).exit];
}
