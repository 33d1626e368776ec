/**
 * `npm run fuzz -- --spice [--seconds N] [--seed S] [--json] [--max-cases N] [--targets viewer,send]
 * [--replay] [--record FILE] [--by-kind] [--floods [--flood-ms MS]]`: the SPICE fuzzer (fuzzer.ts).
 * Prints one JSON object with --json (`cases`, `crashes`, `hangs`, `leaks`, `stalls`,
 * `notRecovered`, `seed`, and the figures), else a summary on stderr. `--replay` runs every case of
 * regressions.json (each `--repeat N` times) instead of drawing; `--record FILE` adds every failing
 * case to FILE (the regression list); `--by-kind` prints the recovery per family of case;
 * `--floods` runs every flood against the viewer once for `--flood-ms` (default 5000) with the
 * server reading and not reading, and prints what each cost (docs/spice.md's table; FUZZ_SPICE_CLI
 * points it at another build for a before/after).
 * Exit status: 0 no failure, 1 failures, 2 bad usage.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ROOT } from '../../support/helpers.js';
import { FLOODS, type CaseRecord, type Target } from './cases.js';
import { runSpiceFuzz, type ViewerCaseResult } from './fuzzer.js';

/** The regression list: every case that ever failed. */
export const REGRESSIONS = join(ROOT, 'test', 'fuzz', 'spice', 'regressions.json');

/** Adds `rec` to the regression list in `file` unless it is there. */
function record(file: string, rec: CaseRecord): void {
  const kept: CaseRecord[] = existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as CaseRecord[]) : [];
  if (kept.some((k) => JSON.stringify(k) === JSON.stringify(rec))) return;
  kept.push(rec);
  writeFileSync(file, `${JSON.stringify(kept, null, 1)}\n`);
}

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
        'by-kind': { type: 'boolean', default: false },
        floods: { type: 'boolean', default: false },
        'flood-ms': { type: 'string', default: '5000' },
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
  let seconds: number, seed: number, maxCases: number | undefined, repeat: number, floodMs: number;
  const targets = values.targets!.split(',') as Target[];
  try {
    seconds = num('seconds', values.seconds, 1)!;
    seed = values.seed !== undefined ? num('seed', values.seed, 0)! >>> 0 : Math.floor(Math.random() * 2 ** 32);
    maxCases = num('max-cases', values['max-cases'], 1);
    repeat = num('repeat', values.repeat, 1)!;
    floodMs = num('flood-ms', values['flood-ms'], 100)!;
    if (targets.some((t) => t !== 'viewer' && t !== 'send')) throw new Error(`--targets ${values.targets}: viewer and/or send`);
  } catch (err) {
    process.stderr.write(`fuzz --spice: ${(err as Error).message}\n`);
    return 2;
  }
  let cases = values.replay ? (JSON.parse(readFileSync(REGRESSIONS, 'utf8')) as CaseRecord[]).filter((c) => targets.includes(c.target)) : undefined;
  const floods: ViewerCaseResult[] = [];
  if (values.floods) cases = FLOODS.flatMap((flood) => [true, false].map((read) => ({ target: 'viewer' as const, spec: { kind: 'flood' as const, flood, read, ms: floodMs, random: seed } })));
  const report = await runSpiceFuzz({
    seconds: values.floods ? 1e6 : seconds,
    seed,
    maxCases,
    cases,
    repeat,
    targets: values.floods ? ['viewer'] : targets,
    log: (l) => process.stderr.write(`fuzz: ${l}\n`),
    // Recorded as found: a run cut short keeps its cases.
    onFailure: (f) => values.record && record(values.record, { target: f.target, spec: f.spec }),
    onCase: (c) => {
      if (!values.floods) return;
      floods.push(c);
      process.stderr.write(`fuzz: ${c.description}: RSS +${c.rssGrowthMb} MB, lag p99 ${c.lagP99Ms ?? '-'} ms (machine ${c.machineLagMs}), ${c.statsPerSecond} stats lines/s, recovery ${c.recoveryMs ?? 'none'} ms\n`);
    },
  });
  const { failures, byKind, ...summary } = report;
  if (values['by-kind']) process.stderr.write(`fuzz: recovery by kind (ms): ${JSON.stringify(byKind)}\n`);
  const out = { ...summary, ...(values['by-kind'] ? { byKind } : {}), ...(values.floods ? { floods } : {}), failures: failures.map((f) => ({ what: f.what, target: f.target, case: f.description })) };
  if (values.json) process.stdout.write(`${JSON.stringify(out)}\n`);
  else process.stderr.write(`fuzz: ${JSON.stringify(summary)}\n`);
  return failures.length ? 1 : 0;
}
