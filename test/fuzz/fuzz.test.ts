/**
 * The fuzzer as part of the suite: a fixed-seed run of about a minute against the headless
 * consumer, and every case that ever failed (regressions.json, found against earlier builds)
 * replayed. Any crash, hang, uncaught exception or unrecovered case fails the test with the case.
 */
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { runFuzz, type FuzzReport } from './fuzzer.js';
import type { MutationSpec } from './mutations.js';
import { ROOT } from '../support/helpers.js';

const log = (l: string) => process.stderr.write(`fuzz: ${l}\n`);
const failuresOf = (r: FuzzReport) => r.failures.map((f) => `${f.what}: ${f.description}: ${f.detail.split('\n').slice(-2).join(' | ')}`);

describe('frame-path fuzzer', () => {
  it('every case that ever failed, replayed three times: all recovered', async () => {
    const specs = JSON.parse(readFileSync(join(ROOT, 'test', 'fuzz', 'regressions.json'), 'utf8')) as MutationSpec[];
    expect(specs.length).toBeGreaterThan(0);
    const r = await runFuzz({ seconds: 600, seed: 7, specs, repeat: 3, log });
    expect(failuresOf(r)).toEqual([]);
    expect(r.cases).toBe(specs.length * 3);
  }, 300_000);

  it('a fixed-seed run of about a minute: no crash, hang, uncaught exception or unrecovered case', async () => {
    const r = await runFuzz({ seconds: 55, seed: 1, log });
    log(JSON.stringify({ ...r, failures: r.failures.length }));
    expect(failuresOf(r)).toEqual([]);
    expect(r.cases).toBeGreaterThan(50);
    expect(r.crashes + r.hangs + r.uncaught + r.notRecovered).toBe(0);
  }, 300_000);
});
