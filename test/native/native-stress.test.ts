/**
 * The addon's native parts proven under threads and processes at once (issue 22): the C++ stress
 * harness (test/native/stress.cc: watch engines, wp-following copies across processes, the fault
 * guard under threads and the signal actions before it) and the Node scenarios (watchers and their
 * bells in worker threads, copies behind a producer process, the frame mailbox at full speed, the
 * fault guard across environments). `npm run test:native-sanitize` runs the same with
 * AddressSanitizer and UndefinedBehaviorSanitizer. Each runs in its own process: a crash is a
 * failed test with its output, not a dead test runner.
 */
import { describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ROOT } from '../support/helpers.js';
import { needs } from '../support/system.js';

const run = promisify(execFile);

/** Runs a file to completion and returns its status and output, never throwing. */
async function runToEnd(file: string, args: string[]): Promise<{ status: number | string; out: string }> {
  try {
    const r = await run(file, args, { encoding: 'utf8', timeout: 180_000 });
    return { status: 0, out: r.stdout + r.stderr };
  } catch (err) {
    const e = err as { code?: number | string; signal?: string; stdout?: string; stderr?: string };
    return { status: e.signal ?? e.code ?? -1, out: `${e.stdout ?? ''}${e.stderr ?? ''}` };
  }
}

describe.skipIf(needs('gcc'))('native parts under threads and processes', () => {
  it('the C++ stress harness: watch engines, copies behind a producer process, the fault guard and the actions before it', async () => {
    // @ts-expect-error a plain .mjs build script, no types
    const { buildStressHarness } = await import('../../tools/native-builds.mjs');
    const harness = buildStressHarness({ log: (l: string) => process.stderr.write(`${l}\n`) }) as string;
    const r = await runToEnd(harness, []);
    expect(r.status, r.out).toBe(0);
    expect(r.out).toMatch(/^0 failure\(s\)$/m);
  }, 300_000);

  for (const scenario of ['watchers', 'copies', 'mailbox', 'faults']) {
    it(`the ${scenario} scenario in worker threads and processes`, async () => {
      const r = await runToEnd(process.execPath, ['--expose-gc', join(ROOT, 'test', 'native', `scenario-${scenario}.mjs`)]);
      expect(r.status, r.out).toBe(0);
      expect(r.out).toMatch(new RegExp(`^ok ${scenario}`, 'm'));
    }, 200_000);
  }

  it('the addon compiles without the x86 intrinsics (the scalar copy other CPUs get)', async () => {
    // @ts-expect-error a plain .mjs build script, no types
    const { compileCheck } = await import('../../tools/native-builds.mjs');
    expect(compileCheck('g++', ['-DGLASSPANE_SCALAR_COPY'], ['native/fast_copy.cc'])).toEqual([]);
  }, 300_000);

  it.skipIf(needs('crossGxx'))('the addon compiles for aarch64', async () => {
    // @ts-expect-error a plain .mjs build script, no types
    const { compileCheck } = await import('../../tools/native-builds.mjs');
    expect(compileCheck('aarch64-linux-gnu-g++')).toEqual([]);
  }, 300_000);
});

