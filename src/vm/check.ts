/**
 * The result of one host check: what `glasspane doctor` prints and `vm up` refuses on. Its own
 * module so that the checks in doctor.ts and kvm-check.ts share the shape without importing each
 * other.
 */

/** A check's verdict: `vm up` refuses to start on a relevant fail; a warn is reported and let through. */
export type CheckStatus = 'ok' | 'warn' | 'fail';

/** One check: a stable id (scripts and `vm up` match on it), the verdict, what was found, and the fix. */
export interface Check {
  id: string;
  status: CheckStatus;
  message: string;
  /** What to do about a warn/fail; null for ok. */
  fix: string | null;
}
