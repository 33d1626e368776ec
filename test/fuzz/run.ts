/**
 * `npm run fuzz -- [--seconds N] [--seed S] [--json] [--window] [--case-ms MS] [--record FILE]`
 * (`npm run fuzz -- --spice ...`: the SPICE fuzzer, test/fuzz/spice/run.ts):
 * fuzzes the frame path (fuzzer.ts) and prints one JSON object (with --json) or a summary.
 * `--record FILE` appends every failing case to FILE (the regression list the test suite replays).
 * `--sweep [--repeat N]` runs every mutation of the catalogue in order (N times each) instead of
 * drawing at random; `--by-kind` prints the recovery time per structure or event.
 * Exit status: 0 no failure, 1 failures, 2 bad usage.
 */
import { parseArgs } from 'node:util';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { runFuzz } from './fuzzer.js';
import { allSpecs, prng } from './mutations.js';
import type { MutationSpec } from './mutations.js';

// `--spice`: the SPICE fuzzer instead (test/fuzz/spice/run.ts); the frame fuzzer below does not run.
if (process.argv.includes('--spice')) {
  const { runSpiceCli } = await import('./spice/run.js');
  const status = await runSpiceCli(process.argv.slice(2).filter((a) => a !== '--spice' && a !== '--'));
  await new Promise((r) => process.stdout.write('', r));
  process.exit(status);
}

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '60' },
    seed: { type: 'string' },
    json: { type: 'boolean', default: false },
    window: { type: 'boolean', default: false },
    'case-ms': { type: 'string', default: '60' },
    'by-kind': { type: 'boolean', default: false },
    sweep: { type: 'boolean', default: false },
    repeat: { type: 'string', default: '1' },
    record: { type: 'string' },
  },
});
const num = (name: string, v: string, min: number) => {
  const n = Number(v);
  if (!Number.isFinite(n) || n < min) {
    process.stderr.write(`fuzz: --${name} ${v} must be a number ≥ ${min}\n`);
    process.exit(2);
  }
  return n;
};

const seed = values.seed !== undefined ? num('seed', values.seed, 0) >>> 0 : Math.floor(Math.random() * 2 ** 32);
const report = await runFuzz({
  seconds: num('seconds', values.seconds!, 1),
  seed,
  window: values.window,
  caseMs: num('case-ms', values['case-ms']!, 1),
  specs: values.sweep ? allSpecs(prng(seed)) : undefined,
  repeat: num('repeat', values.repeat!, 1),
  log: (l) => process.stderr.write(`fuzz: ${l}\n`),
});
if (values.record && report.failures.length) {
  const file = values.record;
  const kept: MutationSpec[] = existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as MutationSpec[]) : [];
  for (const f of report.failures) if (!kept.some((k) => JSON.stringify(k) === JSON.stringify(f.spec))) kept.push(f.spec);
  writeFileSync(file, `${JSON.stringify(kept, null, 1)}\n`);
}
const { failures, byKind, ...summary } = report;
if (values['by-kind']) process.stderr.write(`fuzz: recovery by kind (ms): ${JSON.stringify(byKind)}\n`);
if (values.json) process.stdout.write(`${JSON.stringify({ ...summary, failures: failures.map((f) => ({ what: f.what, case: f.description })) })}\n`);
else process.stderr.write(`fuzz: ${JSON.stringify(summary)}\n`);
process.exitCode = failures.length ? 1 : 0;
