/**
 * The LGMP spinlock: a u32 in the region shared with a producer in another process or VM.
 * Taken with CAS 0→1, released by storing 0. The other side may be hostile or dead while holding
 * it, so taking it gives up after `budgetMs` instead of hanging the consumer forever.
 */
import { GlasspaneError } from '../errors.js';
import type { Region } from '../region.js';

/** ERR_LGMP_LOCK_TIMEOUT: the lock at `offset` stayed taken for `budgetMs`; callers end the session and start again. */
export class LockTimeoutError extends GlasspaneError {
  constructor(offset: number, budgetMs: number) {
    super('ERR_LGMP_LOCK_TIMEOUT', `the LGMP lock at offset ${offset} stayed taken for ${budgetMs} ms: the other side hung or the region is corrupt`);
    this.name = 'LockTimeoutError';
  }
}

export function tryLock(region: Region, offset: number): boolean {
  return region.cas32(offset, 0, 1) === 0;
}

export function lock(region: Region, offset: number, budgetMs = 250): void {
  if (tryLock(region, offset)) return;
  const deadline = performance.now() + budgetMs;
  for (let i = 1; ; i++) {
    if (tryLock(region, offset)) return;
    if ((i & 1023) === 0 && performance.now() > deadline) throw new LockTimeoutError(offset, budgetMs);
  }
}

export function unlock(region: Region, offset: number): void {
  region.store32(offset, 0);
}
