/**
 * `npm run fuzz -- --spice [--seconds N] [--seed S] [--json] [--max-cases N] [--targets viewer,send]
 * [--replay] [--record FILE]`: the SPICE fuzzer (fuzzer.ts). Prints one JSON object with --json
 * (`cases`, `crashes`, `hangs`, `leaks`, `stalls`, `notRecovered`, `seed`, and the figures), else a
 * summary on stderr. `--replay` runs every case of regressions.json (each `--repeat N` times)
 * instead of drawing; `--record FILE` adds every failing case to FILE (the regression list).
 * Exit status: 0 no failure, 1 failures, 2 bad usage.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ROOT } from '../../support/helpers.js';
import type { CaseRecord, Target } from './cases.js';
import { runSpiceFuzz } from './fuzzer.js';

/** The regression list: every case that ever failed. */
export const REGRESSIONS = join(ROOT, 'test', 'fuzz', 'spice', 'regressions.json');

/** Runs the SPICE fuzzer for the arguments after `--spice`; resolves with the exit status. */
export async function runSpiceCli(argv: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        seconds: { type: 'string', default: '60' },
        seed: { type: 'string' },
        json: { type: 'boolean', default: false },
        'max-cases': { type: 'string' },
        targets: { type: 'string', default: 'viewer,send' },
        replay: { type: 'boolean', default: false },
        repeat: { type: 'string', default: '1' },
        record: { type: 'string' },
      },
    }));
  } catch (err) {
    process.stderr.write(`fuzz --spice: ${(err as Error).message}\n`);
    return 2;
  }
  const num = (name: string, v: string | undefined, min: number): number | undefined => {
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isFinite(n) || n < min) throw new Error(`--${name} ${v} must be a number ≥ ${min}`);
    return n;
  };
  let seconds: number, seed: number, maxCases: number | undefined, repeat: number;
  const targets = values.targets!.split(',') as Target[];
  try {
    seconds = num('seconds', values.seconds, 1)!;
    seed = values.seed !== undefined ? num('seed', values.seed, 0)! >>> 0 : Math.floor(Math.random() * 2 ** 32);
    maxCases = num('max-cases', values['max-cases'], 1);
    repeat = num('repeat', values.repeat, 1)!;
    if (targets.some((t) => t !== 'viewer' && t !== 'send')) throw new Error(`--targets ${values.targets}: viewer and/or send`);
  } catch (err) {
    process.stderr.write(`fuzz --spice: ${(err as Error).message}\n`);
    return 2;
  }
  const cases = values.replay ? (JSON.parse(readFileSync(REGRESSIONS, 'utf8')) as CaseRecord[]).filter((c) => targets.includes(c.target)) : undefined;
  const report = await runSpiceFuzz({ seconds, seed, maxCases, cases, repeat, targets, log: (l) => process.stderr.write(`fuzz: ${l}\n`) });
  if (values.record && report.failures.length) {
    const file = values.record;
    const kept: CaseRecord[] = existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as CaseRecord[]) : [];
    for (const f of report.failures) {
      const rec: CaseRecord = { target: f.target, spec: f.spec };
      if (!kept.some((k) => JSON.stringify(k) === JSON.stringify(rec))) kept.push(rec);
    }
    writeFileSync(file, `${JSON.stringify(kept, null, 1)}\n`);
  }
  const { failures, ...summary } = report;
  const out = { ...summary, failures: failures.map((f) => ({ what: f.what, target: f.target, case: f.description })) };
  if (values.json) process.stdout.write(`${JSON.stringify(out)}\n`);
  else process.stderr.write(`fuzz: ${JSON.stringify(summary)}\n`);
  return failures.length ? 1 : 0;
}
