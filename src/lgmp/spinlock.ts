/**
 * The LGMP spinlock: a u32 in the region shared with a producer in another process or VM.
 * Taken with CAS 0→1, released by storing 0. The other side may be hostile or dead while holding
 * it, so taking it gives up after `budgetMs` instead of hanging the consumer forever.
 */
import { GlasspaneError } from '../errors.js';
import type { Region } from '../region.js';

/**
 * Thrown by lock() when the lock word stayed taken for its whole budget: the other side hung while
 * holding it or wrote garbage there. A GlasspaneError with code ERR_LGMP_LOCK_TIMEOUT; callers end
 * the session and start again. Nothing is left locked by us.
 */
export class LockTimeoutError extends GlasspaneError {
  constructor(offset: number, budgetMs: number) {
    super('ERR_LGMP_LOCK_TIMEOUT', `the LGMP lock at offset ${offset} stayed taken for ${budgetMs} ms: the other side hung or the region is corrupt`);
    this.name = 'LockTimeoutError';
  }
}

/**
 * One attempt: CAS 0→1 at `offset` (4-aligned, inside the region, else the addon's RangeError).
 * True when we now hold it.
 */
export function tryLock(region: Region, offset: number): boolean {
  return region.cas32(offset, 0, 1) === 0;
}

/**
 * Takes the lock at `offset`, busy-spinning on the calling thread (no sleep, no yield) for at most
 * `budgetMs` milliseconds, then throws LockTimeoutError. Callers hold it for a few stores only
 * and release it in a `finally`.
 */
export function lock(region: Region, offset: number, budgetMs = 250): void {
  if (tryLock(region, offset)) return;
  const deadline = performance.now() + budgetMs;
  for (let i = 1; ; i++) {
    if (tryLock(region, offset)) return;
    if ((i & 1023) === 0 && performance.now() > deadline) throw new LockTimeoutError(offset, budgetMs);
  }
}

/** Releases the lock (stores 0). Only the holder calls it; it does not check who holds it. */
export function unlock(region: Region, offset: number): void {
  region.store32(offset, 0);
}
