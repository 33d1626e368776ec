/**
 * The benchmark runner's output, from a tiny real run (one frame size, half-second windows):
 * the JSON object printed by --json has the shape issue 6 asks for, and the results file and the
 * PNG chart are written. Correctness only: no timing is asserted (benchmarks are not tests).
 */
import { describe, expect, it, afterAll } from 'vitest';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from '../support/helpers.js';

const run = promisify(execFile);
const out = mkdtempSync(join(tmpdir(), 'glasspane-bench-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));

const isNum = (v: unknown) => typeof v === 'number' && Number.isFinite(v);
const summary = (v: unknown) => {
  expect(Object.keys(v as object).sort()).toEqual(['max', 'p50', 'p99']);
  for (const x of Object.values(v as object)) expect(isNum(x)).toBe(true);
};

/**
 * Runs dist/bench/NAME with ARGS and returns its status and output, never throwing. Asynchronous:
 * a worker blocked for the whole run (spawnSync) misses vitest's own RPC deadlines.
 */
function runBench(name: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ status: number; stdout: string; stderr: string }> {
  return run(process.execPath, [join(ROOT, 'dist', 'bench', name), ...args], { encoding: 'utf8', timeout: 240_000, env: { ...process.env, ...env } }).then(
    (ok) => ({ status: 0, ...ok }),
    (err: { code?: number; stdout?: string; stderr?: string }) => ({ status: err.code ?? -1, stdout: err.stdout ?? '', stderr: err.stderr ?? String(err) }),
  );
}

describe('npm run bench --json', () => {
  it('prints one JSON object of the documented shape and writes the results file and chart', async () => {
    const r = await runBench('run.js', ['--json', '--modes', '1920x1080', '--seconds', '0.5', '--rounds', '3', '--no-present', '--out', out], {
      // As `npm run bench` starts it (npm_lifecycle_event set, loglevel not silent: npm's banner went to stdout).
      npm_lifecycle_event: 'bench',
      npm_config_loglevel: undefined,
    });
    expect(r.status, r.stderr).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines).toHaveLength(1); // the table goes to stderr with --json
    // npm's banner cannot be taken back from inside the script: the runner says how to avoid it.
    expect(r.stderr).toContain('`npm run -s bench -- --json …` leaves it out');
    const j = JSON.parse(lines[0]!);
    expect(Object.keys(j).sort()).toEqual(['compare', 'copy', 'handoff', 'idleCpuPct', 'machine', 'notifyUs', 'pipeline', 'present', 'sustained', 'wakeFloorUs', 'window']);

    expect(j.copy).toHaveLength(1);
    expect(Object.keys(j.copy[0]).sort()).toEqual(['copyMs', 'efficiency', 'memcpyMs', 'mode']);
    expect(j.copy[0].mode).toBe('1920x1080');
    for (const k of ['copyMs', 'efficiency', 'memcpyMs']) expect(isNum(j.copy[0][k])).toBe(true);

    summary(j.notifyUs);
    // The machine's own wake floor (two processes, a futex), measured in the same run.
    expect(Object.keys(j.wakeFloorUs).sort()).toEqual(['p50', 'p99']);
    for (const v of Object.values(j.wakeFloorUs)) expect(isNum(v)).toBe(true);
    expect(j.pipeline).toEqual([{ mode: '1920x1080', ratio: expect.any(Number) }]);
    // Per-frame pairs of the producer's write and the consumer's hold exist: the hand-off is measured.
    expect(j.handoff).toEqual([{ mode: '1920x1080', p50Us: expect.any(Number), ratio: expect.any(Number) }]);
    expect(j.sustained).toHaveLength(1);
    expect(Object.keys(j.sustained[0]).sort()).toEqual(['fps', 'lost', 'mode', 'seconds', 'verifyFailures']);
    expect(j.sustained[0].verifyFailures).toBe(0); // the stub's scene arrives intact
    expect(isNum(j.idleCpuPct)).toBe(true);
    expect(j.present).toMatch(/^n\/a/);
    expect(j.window).toEqual([]); // --no-present: no window trials

    const poll = j.compare.poll1ms;
    summary(poll.notifyUs);
    expect(poll.pipeline).toEqual([{ mode: '1920x1080', ratio: expect.any(Number) }]);
    expect(poll.handoff).toEqual([{ mode: '1920x1080', p50Us: expect.any(Number), ratio: expect.any(Number) }]);
    expect(poll.sustained).toHaveLength(1);
    expect(isNum(poll.idleCpuPct)).toBe(true);
    expect(poll.window).toEqual([]);
    expect(j.machine.idleMeasured).toBe('process'); // --no-present: the relay thread alone
    expect(j.machine).toMatchObject({ cores: expect.any(Number), node: process.version, quick: false });

    const files = readdirSync(out).sort();
    expect(files).toHaveLength(2);
    const json = files.find((f) => f.endsWith('.json'))!;
    const png = files.find((f) => f.endsWith('.png'))!;
    expect(json.replace(/\.json$/, '')).toBe(png.replace(/\.png$/, ''));
    const saved = JSON.parse(readFileSync(join(out, json), 'utf8'));
    const { details, ...shape } = saved;
    expect(shape).toEqual(j);
    expect(details.verdicts.length).toBeGreaterThan(0);
    expect(readFileSync(join(out, png)).subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
  }, 300_000);

  it('the window trial reports the issue-12 row and glass to glass (issue 22), for glasspane and B7\'s consumer in the same window', async () => {
    const r = await runBench('window.js', ['--mode', '320x240', '--fps', '30', '--seconds', '1', '--warmup', '0.5']);
    expect(r.status, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout.trim().split('\n').find((l) => l.startsWith('BENCH_RESULT '))!.slice(13));
    expect(j).toMatchObject({ available: true, mode: '320x240', producedFps: 30 });
    for (const k of ['consumedFps', 'presentedFps', 'cpuPct', 'renderMs', 'headlessConsumedFps']) expect(isNum(j[k]), k).toBe(true);
    expect(Object.keys(j.presentLatencyMs).sort()).toEqual(['p50', 'p99']);
    for (const v of Object.values(j.presentLatencyMs)) expect(isNum(v)).toBe(true);
    expect(j.consumedFps).toBeGreaterThan(0); // frames flowed through the window (rates are not asserted)
    expect(j.headlessConsumedFps).toBeGreaterThan(0);
    // Glass to glass: the probe saw frames on the display, matched to their post times.
    const glass = (g: unknown) => {
      expect(Object.keys(g as object).sort()).toEqual(['p50', 'p90', 'p99']);
      for (const v of Object.values(g as object)) expect(isNum(v)).toBe(true);
    };
    glass(j.glassMs);
    expect(j.seenRatio).toBeGreaterThan(0);
    expect(j.seenRatio).toBeLessThanOrEqual(1);
    expect(isNum(j.glassAfterWriteMs)).toBe(true);
    expect(Object.keys(j.floorMs).sort()).toEqual(['present', 'producerWrote', 'render']);
    for (const v of Object.values(j.floorMs)) expect(isNum(v)).toBe(true);
    expect(j.poll1ms).toMatchObject({ mode: '320x240' });
    glass(j.poll1ms.glassMs);
    expect(j.poll1ms.seenRatio).toBeGreaterThan(0);
  }, 240_000);

  it('the render-cost trial compares window.render() and the presenter on both renderers', async () => {
    const r = await runBench('render.js', ['--modes', '320x240', '--frames', '3']);
    expect(r.status, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout.trim().split('\n').find((l) => l.startsWith('BENCH_RESULT '))!.slice(13));
    expect(j.available).toBe(true);
    expect(j.rows.map((x: { way: string }) => x.way)).toEqual(['window.render', 'presenter, whole frame', 'presenter, 1 % damaged', 'window.render', 'presenter, whole frame', 'presenter, 1 % damaged']);
    expect(j.rows.at(-1).renderer).toBe('software');
    for (const row of j.rows) expect(isNum(row.p50Ms) && isNum(row.p90Ms)).toBe(true);
  }, 240_000);
});
