/**
 * Vitest global setup: says once, at the top of the run, which system parts are missing (and so
 * which tests skip), and leaves nothing behind, also when tests fail or a run is killed:
 * - every temp file of the run (the tests', the CLI's, QEMU's) goes to one folder, TMPDIR for the
 *   workers and every process they start, removed at the end;
 * - regions in /dev/shm named after a test process that no longer exists are removed before the
 *   run and after it (the workers are gone by then), as are run folders of dead runs.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { missingParts, PARTS, type PartName } from './system.js';
import { removeOrphanedFiles } from '../../src/orphan-files.js';

/** /dev/shm files the tests, the demo and the e2e loop create: glasspane-<kind>-<pid>-... */
const OURS = /^glasspane-(?:test|demo|e2e)-(\d+)(?:-|$)/;

/** Removes regions left by test processes that are gone (killed, crashed, or this run's workers). */
export function sweepShm(): void {
  removeOrphanedFiles('/dev/shm', OURS);
}

/** Run folders of test runs whose main process is gone (killed before its teardown). */
function sweepRunDirs(base: string): void {
  removeOrphanedFiles(base, /^glasspane-tests-(\d+)-/);
}

export default function setup(): () => void {
  const missing = missingParts(...(Object.keys(PARTS) as PartName[]));
  if (missing.length) {
    process.stderr.write(
      `\nglasspane tests: these system parts are missing, so the tests that need them are SKIPPED:\n` +
        missing.map((m) => `  - ${m}\n`).join('') +
        `  tools/setup installs them (on other systems: docs/install.md).\n\n`,
    );
  }
  const base = tmpdir();
  sweepRunDirs(base);
  sweepShm();
  const runDir = mkdtempSync(join(base, `glasspane-tests-${process.pid}-`));
  process.env.TMPDIR = runDir; // inherited by the workers, forked after this
  return () => {
    rmSync(runDir, { force: true, recursive: true });
    process.env.TMPDIR = base;
    sweepShm();
  };
}
