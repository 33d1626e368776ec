/**
 * The declarations of system parts (test/support/system.ts) against what the tests really run,
 * tools/setup against the parts, and what a missing part does to a run: a skip whose reason is
 * printed after the summary, or with GLASSPANE_TEST_STRICT=1 (.ci/run) a failure naming the part
 * and its package. The last two run vitest itself on test/fixtures/system-parts/.
 */
import { spawn, spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../support/helpers.js';
import { CAPTURE_PARTS, GUEST_PARTS, PARTS, WINDOW_PARTS, type PartName } from '../support/system.js';

/** Every .ts file under test/, relative to the root. */
function testSources(dir = join(ROOT, 'test')): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? testSources(join(dir, e.name)) : e.name.endsWith('.ts') ? [relative(ROOT, join(dir, e.name))] : [],
  );
}
/** All but this file, whose patterns would match themselves. */
const SOURCES = testSources().filter((f) => f !== 'test/unit/system-parts.test.ts');
const text = (file: string) => readFileSync(join(ROOT, file), 'utf8');

/** Programs a file starts by name: spawn('xprop', ...), execFileSync('xdotool', ...) and the like. */
const spawned = (src: string) => [...src.matchAll(/\b(?:spawn|spawnSync|execFile|execFileSync|execSync)\(\s*'([^']+)'/g)].map((m) => m[1]!);

/** Programs of Debian's Essential packages (coreutils, bash, dpkg): on every Debian system. */
const ESSENTIAL = new Set(['bash', 'sh', 'cp', 'mkfifo', 'mknod', 'readlink', 'dpkg']);

/** Which part gives each program. */
const PART_OF = new Map<string, PartName>(Object.entries(PARTS).flatMap(([name, p]) => p.programs.map((prog) => [prog, name as PartName] as const)));

/** Test helpers that start a part's programs for the files that import them. */
const HELPERS: [RegExp, PartName[]][] = [
  [/from '\.\.\/support\/(xvfb|window-harness)\.js'/, ['xvfb']],
  [/from '\.\.\/support\/xwd\.js'/, ['xwd']],
  [/import \{[^}]*\b(findWindow|xdotool)\b[^}]*\} from '\.\.\/support\/xvfb\.js'/, ['xdotool']],
  [/from '(\.\.\/spice|\.)\/qemu\.js'/, ['qemu']],
  [/from '(\.\.\/(spice|e2e)|\.)\/guest\.js'/, GUEST_PARTS],
];

/** The parts a test file declares: every needs(...) in it, WINDOW_PARTS and GUEST_PARTS spread out. */
function declared(src: string): Set<PartName> {
  const out = new Set<PartName>();
  for (const [, args] of src.matchAll(/\bneeds\(([^)]*)\)/g)) {
    for (const [, name] of args!.matchAll(/'(\w+)'/g)) out.add(name as PartName);
    if (args!.includes('...WINDOW_PARTS')) WINDOW_PARTS.forEach((p) => out.add(p));
    if (args!.includes('...GUEST_PARTS')) GUEST_PARTS.forEach((p) => out.add(p));
    if (args!.includes('...CAPTURE_PARTS')) CAPTURE_PARTS.forEach((p) => out.add(p));
  }
  return out;
}

describe('system parts', () => {
  it('every program the tests start is a declared part (or comes with every Debian system)', () => {
    const unknown = SOURCES.flatMap((f) => spawned(text(f)).filter((p) => !PART_OF.has(p) && !ESSENTIAL.has(p)).map((p) => `${f} runs ${p}: add it to PARTS in test/support/system-parts.ts`));
    expect(unknown).toEqual([]);
  });

  it('every test file declares the parts it starts, itself or through the helpers it imports', () => {
    const undeclared: string[] = [];
    for (const f of SOURCES.filter((f) => f.endsWith('.test.ts'))) {
      const src = text(f);
      const used = new Set<PartName>(spawned(src).flatMap((p) => PART_OF.get(p) ?? []));
      for (const [pattern, parts] of HELPERS) if (pattern.test(src)) parts.forEach((p) => used.add(p));
      const has = declared(src);
      for (const p of used) if (!has.has(p)) undeclared.push(`${f} uses ${p} without declaring it: describe.skipIf(needs('${p}', ...))`);
    }
    expect(undeclared).toEqual([]);
  });

  it('tools/setup installs the package of every part', () => {
    const setup = spawnSync('bash', [join(ROOT, 'tools/setup'), '--list'], { encoding: 'utf8' }).stdout.split('\n').map((p) => p.replace(/^\?/, ''));
    // npm comes with Node.js: tools/setup installs Debian's nodejs and npm together when node is missing.
    const installed = new Set([...setup, 'npm']);
    const missing = Object.entries(PARTS).filter(([, p]) => !p.pkg.split(' ').every((pkg) => installed.has(pkg))).map(([name, p]) => `${name}: ${p.pkg}`);
    expect(missing).toEqual([]);
  });
});

/** Runs vitest on the fixture file (which needs xprop) with `env`; resolves with its status and output. */
function runFixture(env: NodeJS.ProcessEnv): Promise<{ status: number | null; output: string }> {
  // This worker's own vitest variables would make the inner vitest think it is a worker.
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('VITEST') && k !== 'GLASSPANE_TEST_SKIP_LOG' && k !== 'GLASSPANE_TEST_STRICT'));
  const child = spawn(process.execPath, [join(ROOT, 'node_modules/vitest/vitest.mjs'), 'run', '--config', 'test/fixtures/system-parts/vitest.config.ts'], {
    cwd: ROOT,
    env: { ...clean, NO_COLOR: '1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  return new Promise((resolve) => child.on('close', (status) => resolve({ status, output })));
}

describe('a missing part', () => {
  it('skips what needs it, and the run says which file and why after the summary', async () => {
    const r = await runFixture({ GLASSPANE_TEST_MISSING: 'xprop' });
    expect(r.status, r.output).toBe(0);
    expect(r.output).toMatch(/Tests {2}1 passed \| 1 skipped \(2\)/);
    const after = r.output.slice(r.output.search(/Test Files/));
    expect(after).toContain('SKIPPED for missing system parts');
    expect(after).toContain('test/fixtures/system-parts/needs-xprop.fixture.ts: xprop: install x11-utils');
  }, 60_000);

  it('fails the run under GLASSPANE_TEST_STRICT=1, naming the part and its package', async () => {
    const r = await runFixture({ GLASSPANE_TEST_MISSING: 'xprop', GLASSPANE_TEST_STRICT: '1' });
    expect(r.status, r.output).toBe(1);
    expect(r.output).toMatch(/FAIL +test\/fixtures\/system-parts\/needs-xprop\.fixture\.ts/);
    expect(r.output).toMatch(/GLASSPANE_TEST_STRICT=1 and this test needs system parts that are missing:\n {2}- xprop: install x11-utils/);
  }, 60_000);
});
