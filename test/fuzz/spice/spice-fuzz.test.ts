/**
 * The SPICE fuzzer as part of the suite: every case that ever failed (regressions.json) replayed,
 * then a few cases of a fixed seed, against the real viewer under Xvfb and `glasspane send` runs
 * side by side (about half a minute; `npm run fuzz -- --spice --replay` replays them at full length). Any crash, hang, leak, stall or unrecovered case fails the
 * test with the case.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { needs, WINDOW_PARTS } from '../../support/system.js';
import type { CaseRecord } from './cases.js';
import { runSpiceFuzz, type SpiceFuzzReport } from './fuzzer.js';
import { REGRESSIONS } from './run.js';

const log = (l: string) => process.stderr.write(`spice fuzz: ${l}\n`);
const failuresOf = (r: SpiceFuzzReport) => r.failures.map((f) => `${f.what} (${f.target}): ${f.description}: ${f.detail.split('\n').slice(-2).join(' | ')}`);

describe.skipIf(needs(...WINDOW_PARTS))('SPICE fuzzer', () => {
  it('every case that ever failed, then 4 cases of seed 1 (floods cut to 300 ms): no crash, hang, leak, stall or unrecovered case', async () => {
    const cases = JSON.parse(readFileSync(REGRESSIONS, 'utf8')) as CaseRecord[];
    expect(cases.length).toBeGreaterThan(0);
    const r = await runSpiceFuzz({ seconds: 240, seed: 1, cases, drawAfter: 4, maxFloodMs: 300, log });
    log(JSON.stringify({ ...r, failures: r.failures.length, byKind: undefined }));
    expect(failuresOf(r)).toEqual([]);
    expect(r.cases).toBeGreaterThanOrEqual(cases.length + 4);
  }, 300_000);
});
