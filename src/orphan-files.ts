/**
 * Files named after the process that made them (`glasspane-demo-4242`): when that process is gone
 * (killed before it could clean up), nobody else will remove them. The demo sweeps its regions
 * with this, the test harness its regions and run folders.
 */
import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Whether process `pid` exists. A process of another user counts as existing (kill gives EPERM);
 * only ESRCH says it is gone, so an unexpected error never gets its files removed.
 */
export function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

/**
 * Removes (recursively, ignoring what vanished meanwhile) each entry of `dir` whose name matches
 * `pattern` and whose first capture group, a pid, names a process that no longer exists. Names
 * without a positive pid are left alone. An unreadable `dir` removes nothing and is no error.
 */
export function removeOrphanedFiles(dir: string, pattern: RegExp): void {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return;
  }
  for (const name of names) {
    const pid = Number(pattern.exec(name)?.[1]);
    if (pid > 0 && !processExists(pid)) rmSync(join(dir, name), { force: true, recursive: true });
  }
}
