/**
 * The system parts some tests need (Xvfb, QEMU, OVMF, a kernel image, xprop, ...), checked in one
 * place. Every test that needs one declares it the same way, on its describe or it:
 *
 *   describe.skipIf(needs(...WINDOW_PARTS, 'xprop'))('escape key and title under Xvfb', () => { ... });
 *
 * A missing part skips what declares it; the run says so once at the top (test/support/global-setup.ts)
 * and again after the summary, each skipped file with the part it lacks and the package with it.
 * With GLASSPANE_TEST_STRICT=1 (what .ci/run sets) a missing part fails instead: the file that
 * needs it fails to load, naming the part and its package, so a green CI run is one where every
 * such test ran. `tools/setup` installs every part on Debian; docs/install.md names them elsewhere.
 *
 * A few tests depend on the host rather than on a package (a working /dev/kvm, or none; root, to
 * make device nodes): they declare that with `hostLacks(...)`, are reported after the summary
 * too, and never fail a strict run (they are not packages to install; the kvm ones come in pairs).
 */
import { appendFileSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { expect } from 'vitest';
import { ROOT } from './helpers.js';
import { missingParts, runs, SKIP_LOG_ENV, strict, type PartName, type SkipRecord } from './system-parts.js';

export { missingParts, PARTS, strict, type PartName } from './system-parts.js';

function record(kind: SkipRecord['kind'], reasons: string[]): void {
  const log = process.env[SKIP_LOG_ENV];
  if (!log) return;
  const file = relative(ROOT, expect.getState().testPath ?? '?');
  // One short line per append (O_APPEND): the two workers' lines do not interleave.
  appendFileSync(log, `${JSON.stringify({ file, kind, reasons } satisfies SkipRecord)}\n`);
}

/**
 * For `describe.skipIf(needs(...))` or `it.skipIf(needs(...))`: true (skip) when any of the parts
 * is missing, and recorded for the report after the summary. Under GLASSPANE_TEST_STRICT=1 a
 * missing part throws instead, so the file fails to load, naming each part and its package.
 */
export function needs(...names: PartName[]): boolean {
  const missing = missingParts(...names);
  if (!missing.length) return false;
  if (strict()) {
    throw new Error(`GLASSPANE_TEST_STRICT=1 and this test needs system parts that are missing:\n${missing.map((m) => `  - ${m}\n`).join('')}  tools/setup installs them (on other systems: docs/install.md).`);
  }
  record('part', missing);
  return true;
}

/** Host conditions a test may depend on: not packages, each the opposite of another's. */
const HOST = {
  kvm: { what: 'a working /dev/kvm (KVM)', present: () => existsSync('/dev/kvm') },
  noKvm: { what: 'a host without /dev/kvm (a kvm device node with no KVM behind it)', present: () => !existsSync('/dev/kvm') },
  mknod: { what: 'permission to make device nodes (root)', present: canMknod },
} satisfies Record<string, { what: string; present: () => boolean }>;

export type HostCondition = keyof typeof HOST;

/** mknod needs CAP_MKNOD (root). */
function canMknod(): boolean {
  const dir = mkdtempSync(join(tmpdir(), 'glasspane-mknod-'));
  try {
    return runs('mknod', join(dir, 'probe'), 'c', '1', '3');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * For `it.skipIf(hostLacks('kvm'))`: true (skip) when this host is not of the kind the test needs,
 * recorded for the report after the summary. Never fails a strict run: these are not packages to
 * install (the /dev/kvm ones come in pairs, one for each kind of host).
 */
export function hostLacks(...conditions: HostCondition[]): boolean {
  const lacking = conditions.filter((c) => !HOST[c].present()).map((c) => `needs ${HOST[c].what}`);
  if (!lacking.length) return false;
  record('host', lacking);
  return true;
}

/** Parts the window tests need. */
export const WINDOW_PARTS: PartName[] = ['xvfb', 'xdotool', 'xwd', 'sdl'];
/** Parts the real-kernel guest tests need. */
export const GUEST_PARTS: PartName[] = ['qemu', 'kernel', 'busybox'];
/** Parts the X11 capture tests need: an X server, its pixels (xwd), the pointer (xdotool), the drawing client (gcc + libX11) and the addon. */
export const CAPTURE_PARTS: PartName[] = ['xvfb', 'xwd', 'xdotool', 'gcc', 'x11capture'];
