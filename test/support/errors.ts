/**
 * Matching errors by their stable code (docs/errors.md), the way ws's tests match WS_ERR_*: every
 * bad-input path asserts its code; the message is checked too only where its wording is itself the
 * contract (it names the file, the field, the value found).
 */
import { expect } from 'vitest';
import type { ErrorCode } from '../../src/errors.js';

/**
 * An asymmetric matcher for an error with `code`, and a message equal to `message` (a string) or
 * matching it (a RegExp). Use with `toThrow(coded(...))`, `rejects.toThrow(coded(...))` or `toEqual`.
 */
export function coded(code: ErrorCode, message?: string | RegExp): ReturnType<typeof expect.objectContaining> {
  if (message === undefined) return expect.objectContaining({ code });
  return expect.objectContaining({ code, message: typeof message === 'string' ? message : expect.stringMatching(message) });
}
