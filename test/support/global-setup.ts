/**
 * Vitest global setup: says at the top of the run which system parts are missing (and so which
 * tests skip, or with GLASSPANE_TEST_STRICT=1 fail), and after the summary which test files
 * skipped and why (test/support/system.ts records them); and leaves nothing behind, also when
 * tests fail or a run is killed:
 * - every temp file of the run (the tests', the CLI's, QEMU's) goes to one folder, TMPDIR for the
 *   workers and every process they start, removed at the end;
 * - regions in /dev/shm named after a test process that no longer exists are removed before the
 *   run and after it (the workers are gone by then), as are run folders of dead runs.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { missingParts, PARTS, SKIP_LOG_ENV, strict, type PartName, type SkipRecord } from './system-parts.js';
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

/** The skips the workers recorded, one line per file and kind: "file: reason; reason". */
export function skipReport(log: string): { parts: string[]; host: string[] } {
  const byFile = { part: new Map<string, Set<string>>(), host: new Map<string, Set<string>>() };
  const lines = existsSync(log) ? readFileSync(log, 'utf8').split('\n').filter(Boolean) : [];
  for (const line of lines) {
    const r = JSON.parse(line) as SkipRecord;
    const reasons = byFile[r.kind].get(r.file) ?? new Set<string>();
    for (const why of r.reasons) reasons.add(why);
    byFile[r.kind].set(r.file, reasons);
  }
  const format = (m: Map<string, Set<string>>) => [...m].sort(([a], [b]) => a.localeCompare(b)).map(([file, why]) => `${file}: ${[...why].join('; ')}`);
  return { parts: format(byFile.part), host: format(byFile.host) };
}

export default function setup(): () => void {
  const missing = missingParts(...(Object.keys(PARTS) as PartName[]));
  if (missing.length) {
    process.stderr.write(
      (strict()
        ? `\nglasspane tests: GLASSPANE_TEST_STRICT=1 and these system parts are missing, so the tests that need them FAIL:\n`
        : `\nglasspane tests: these system parts are missing, so the tests that need them are SKIPPED:\n`) +
        missing.map((m) => `  - ${m}\n`).join('') +
        `  tools/setup installs them (on other systems: docs/install.md).\n\n`,
    );
  }
  const base = tmpdir();
  sweepRunDirs(base);
  sweepShm();
  const runDir = mkdtempSync(join(base, `glasspane-tests-${process.pid}-`));
  process.env.TMPDIR = runDir; // inherited by the workers, forked after this
  const skipLog = join(runDir, 'skipped.jsonl');
  process.env[SKIP_LOG_ENV] = skipLog;
  return () => {
    // Runs after vitest's summary: the skips, each file with its reasons, where they are seen.
    const { parts, host } = skipReport(skipLog);
    if (parts.length) {
      process.stderr.write(
        `\nglasspane tests: SKIPPED for missing system parts (GLASSPANE_TEST_STRICT=1, as in .ci/run, makes these failures):\n` +
          parts.map((l) => `  - ${l}\n`).join('') +
          `  tools/setup installs them (on other systems: docs/install.md).\n`,
      );
    }
    if (host.length) process.stderr.write(`\nglasspane tests: skipped on this kind of host:\n${host.map((l) => `  - ${l}\n`).join('')}`);
    rmSync(runDir, { force: true, recursive: true });
    process.env.TMPDIR = base;
    delete process.env[SKIP_LOG_ENV];
    sweepShm();
  };
}
