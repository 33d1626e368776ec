/**
 * The docs against the code, so they cannot drift apart again (docs/spice.md said a wrong password
 * exits 2 while the code exits 4; docs/frame-relay.md left out `latencyFrom`):
 *
 * - every JSON object the docs spell out (`{"frames", "latencyMs": {"p50", "p99"}, …}` or an
 *   example line) has exactly the keys the command prints, at every level;
 * - docs/cli.md's exit-status table has one row per status, each naming its class;
 * - every "exit status N" / "exits N" in the docs is checked: in a sentence that names error
 *   codes, against those codes' catalogue entries; otherwise against an explicit claim below, which
 *   runs the command or reads the code that decides it. A new statement with neither fails here.
 */
import { readdirSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { errorInfo, type ErrorCode, ErrorCatalogue } from '../../src/errors.js';
import { EXIT_STATUS_OF_CLASS } from '../../src/cli/exit-codes.js';
import { exitStatusFor } from '../../src/cli/commands/view.js';
import type { HeadlessReport } from '../../src/relay/headless.js';
import { ROOT, removeShm, runCli, shmPath } from '../support/helpers.js';
import { amdDualGpuHost, makeFakeHost, makeTempDir } from '../vm/fake-sysfs.js';

const dir = makeTempDir('glasspane-docs-');
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
  removeShm();
});
const doc = (file: string) => readFileSync(path.join(ROOT, file), 'utf8');

// ---- JSON shapes ------------------------------------------------------------------------------

/** Keys of an object at every level: null for a leaf (or an array whose elements are not spelled out). */
type Shape = { keys: Map<string, Shape | null>; open: boolean } | { element: Shape | null } | null;

/** Parses the docs' shorthand: `{"a", "b": {"c"}, "d": [{"e"}], "f": [...], "g": {…}}`. */
function parseShape(text: string): Shape {
  let i = 0;
  const ws = () => {
    while (/\s/.test(text[i] ?? '')) i++;
  };
  const ellipsis = () => {
    ws();
    if (text.startsWith('...', i)) return (i += 3), true;
    if (text[i] === '…') return (i += 1), true;
    return false;
  };
  const value = (): Shape => {
    ws();
    if (text[i] === '{') return object();
    if (text[i] === '[') {
      i++;
      const element = ellipsis() ? null : text[(ws(), i)] === ']' ? null : value();
      ws();
      expect(text[i], `"]" at ${i} in ${text}`).toBe(']');
      i++;
      return { element };
    }
    return null;
  };
  const object = (): Shape => {
    i++; // {
    const keys = new Map<string, Shape | null>();
    let open = false;
    for (;;) {
      ws();
      if (text[i] === '}') break;
      if (ellipsis()) open = true;
      else {
        const m = /^"([^"]+)"/.exec(text.slice(i));
        expect(m, `a key at ${i} in ${text}`).not.toBeNull();
        i += m![0].length;
        ws();
        let v: Shape = null;
        if (text[i] === ':') {
          i++;
          v = value();
        }
        keys.set(m![1]!, v);
      }
      ws();
      if (text[i] === ',') i++;
    }
    i++; // }
    return { keys, open };
  };
  return value();
}

/** The shape of a real JSON value (arrays by their first element). */
function shapeOf(v: unknown): Shape {
  if (Array.isArray(v)) return { element: v.length ? shapeOf(v[0]) : null };
  if (v && typeof v === 'object') return { keys: new Map(Object.entries(v).map(([k, x]) => [k, shapeOf(x)])), open: false };
  return null;
}

/** Where `actual` differs from the documented shape, as "path: what" lines (empty when they agree). */
function differences(documented: Shape, actual: Shape, at = '$'): string[] {
  if (!documented) return [];
  if ('element' in documented) {
    if (!actual || !('element' in actual)) return [`${at}: documented an array`];
    return documented.element && actual.element ? differences(documented.element, actual.element, `${at}[0]`) : [];
  }
  if (!actual || !('keys' in actual)) return [`${at}: documented an object`];
  const out: string[] = [];
  for (const k of actual.keys.keys()) if (!documented.keys.has(k) && !documented.open) out.push(`${at}.${k}: printed but not documented`);
  for (const [k, v] of documented.keys) {
    if (!actual.keys.has(k)) out.push(`${at}.${k}: documented but not printed`);
    else out.push(...differences(v, actual.keys.get(k) ?? null, `${at}.${k}`));
  }
  return out;
}

/** The first capture of `re` in `file`, failing with the pattern when the doc no longer has it. */
function excerpt(file: string, re: RegExp): string {
  const m = re.exec(doc(file));
  expect(m, `${file} no longer matches ${re}`).not.toBeNull();
  return m![1]!;
}

/** `glasspane ARGS`'s stdout as JSON (the status is the caller's to check). */
async function printed(args: string[]): Promise<unknown> {
  const r = await runCli(args, { timeoutMs: 60_000 });
  expect(r.stdout, `glasspane ${args.join(' ')}: ${r.stderr}`).not.toBe('');
  return JSON.parse(r.stdout);
}

describe('documented JSON keys are the ones the commands print', () => {
  it('view --headless --json (docs/frame-relay.md and the README\'s example)', async () => {
    const actual = shapeOf(await printed(['view', '--shm', shmPath('docs'), '--headless', '--seconds', '0.3', '--json']));
    expect(differences(parseShape(excerpt('docs/frame-relay.md', /`--json` prints one object when the run ends:\n`(\{"frames"[\s\S]*?\})`/)), actual)).toEqual([]);
    expect(differences(shapeOf(JSON.parse(excerpt('README.md', /^(\{"frames".*\})$/m))), actual)).toEqual([]);
  });

  it('doctor --json (docs/vm.md)', async () => {
    const empty = path.join(dir, 'empty-root');
    mkdirSync(empty);
    const actual = shapeOf(await printed(['doctor', '--root', empty, '--json']));
    expect(differences(parseShape(excerpt('docs/vm.md', /`--json` prints `(\{"checks"[^`]*\})`/)), actual)).toEqual([]);
  });

  it('iommu --json (docs/vm.md)', async () => {
    const root = makeFakeHost(amdDualGpuHost(), path.join(dir, 'iommu-root'));
    const actual = shapeOf(await printed(['iommu', '--root', root, '--json']));
    expect(differences(shapeOf(JSON.parse(excerpt('docs/vm.md', /```json\n(\{"groups"[\s\S]*?\})\n```/))), actual)).toEqual([]);
  });

  it('vm status --json (docs/vm.md: the key list and the example)', async () => {
    const stateDir = path.join(dir, 'state');
    mkdirSync(stateDir);
    writeFileSync(path.join(stateDir, 'old.log'), 'qemu output\n'); // a VM that ran and stopped
    const actual = shapeOf(await printed(['vm', 'status', 'old', '--json', '--state-dir', stateDir]));
    expect(differences(parseShape(excerpt('docs/vm.md', /`vm status NAME \[--json\]`: `(\{[^`]*\})`/)), actual)).toEqual([]);
    expect(differences(shapeOf(JSON.parse(excerpt('docs/vm.md', /vm status win11 --json\s+# (\{.*\})/))), actual)).toEqual([]);
  });
});

// ---- exit statuses ----------------------------------------------------------------------------

/** The docs that state exit statuses (docs/errors.md is generated from the catalogue and checked elsewhere). */
const DOCS = ['README.md', ...readdirSync(path.join(ROOT, 'docs')).filter((f) => f.endsWith('.md') && f !== 'errors.md').map((f) => `docs/${f}`)];
/** "exit status 4", "exits 2", "exits with status 3", "Exit status: 0". */
const EXIT_STATUS = /\bexit(?:s)?(?:\s+with)?(?:\s+status)?:?\s+(\d)\b/gi;
const statusOf = (code: ErrorCode) => EXIT_STATUS_OF_CLASS[errorInfo(code).exit];
const report = (r: Partial<HeadlessReport>) => exitStatusFor({ frames: 0, verifyFailures: 0, ...r } as HeadlessReport);

/**
 * Statements that name no error code: where each is, and the statuses the code gives, in the order
 * the statement names them. Each runs the command or reads the code that decides.
 */
const CLAIMS: Array<{ file: string; re: RegExp; statuses: () => Promise<number[]> | number[] }> = [
  {
    file: 'docs/frame-relay.md',
    re: /`view --headless` exit status: (\d) frames arrived \(and verified\), (\d) verify failures, (\d) no frame/,
    statuses: () => [report({ frames: 5 }), report({ frames: 5, verifyFailures: 1 }), report({ frames: 0 })],
  },
  { file: 'docs/protocol.md', re: /--headless` exits with status (\d) and the reason when no frame arrived/, statuses: () => [report({ frames: 0 })] },
  {
    file: 'docs/vm.md',
    re: /on a stopped one it says so and exits (\d)/,
    statuses: async () => {
      const stateDir = path.join(dir, 'state-down');
      mkdirSync(stateDir);
      writeFileSync(path.join(stateDir, 'old.log'), 'qemu output\n');
      return [(await runCli(['vm', 'down', 'old', '--state-dir', stateDir])).code!];
    },
  },
  ...[/follows the writes as `# blocked:` lines, and the exit\s+status is then (\d)/, /`#   fix: WHAT TO DO`, and the exit status is then (\d)/].map((re) => ({
    file: 'docs/vm.md',
    re,
    statuses: async () => {
      const spec = amdDualGpuHost();
      spec.devices.forEach((d) => (d.group = null)); // the IOMMU is off: a blocker
      const root = makeFakeHost(spec, makeTempDir('glasspane-docs-blocked-'));
      const r = await runCli(['vfio', 'bind', '0000:2f:00.0', '--root', root, '--dry-run']);
      rmSync(root, { recursive: true, force: true });
      expect(r.stdout).toContain('# blocked: ');
      return [r.code!];
    },
  })),
  {
    file: 'docs/e2e.md',
    re: /Exit status (\d) when every key and move was echoed, every frame verified and nothing went wrong;\n(\d) otherwise \(the guest's serial console is printed to stderr\); (\d) when it cannot run here/,
    statuses: () => {
      const run = doc('test/e2e/run.ts');
      const [, ok, bad] = /process\.exit\(ok \? (\d) : (\d)\)/.exec(run)!;
      return [Number(ok), Number(bad), Number(/cannot run here[\s\S]*?process\.exit\((\d)\)|process\.exit\((\d)\)/.exec(run)!.slice(1).find(Boolean))];
    },
  },
  {
    file: 'docs/e2e.md',
    re: /`npm run e2e` exits (\d) saying what is missing/,
    statuses: () => [Number(/process\.exit\((\d)\)/.exec(doc('test/e2e/run.ts'))![1])],
  },
  { file: 'docs/bench.md', re: /\(exit status (\d) only when a trial crashed\)/, statuses: () => [Number(/if \(failures\.length\) process\.exitCode = (\d)/.exec(doc('bench/run.ts'))![1])] },
];

/** The sentence around `index` in `text` (from the last full stop or blank line before it to the next). */
function sentenceAt(text: string, index: number): string {
  const before = text.slice(0, index);
  const start = Math.max(before.lastIndexOf('. '), before.lastIndexOf('\n\n'), before.lastIndexOf('\n- ')) + 1;
  const after = text.slice(index);
  const ends = [after.search(/\.(\s|$)/), after.indexOf('\n\n'), after.indexOf('\n- ')].filter((e) => e >= 0);
  return text.slice(start, index + (ends.length ? Math.min(...ends) : after.length));
}

describe('documented exit statuses are the ones the code gives', () => {
  it('docs/cli.md\'s table: one row per status, each naming its exit class', () => {
    const rows = [...doc('docs/cli.md').matchAll(/^\| (\d) \| ([^|]+) \|/gm)].map((m) => [Number(m[1]), m[2]!] as const);
    expect(rows.map(([n]) => n)).toEqual([0, 1, 2, 3, 4, 5]);
    const word: Record<string, string> = { check: 'a check failed', usage: 'usage', nothing: 'nothing to read', refused: 'refused', unexpected: 'unexpected' };
    for (const [cls, status] of Object.entries(EXIT_STATUS_OF_CLASS)) expect(rows[status]![1], cls).toContain(word[cls]);
  });

  it('every "exit status N" in the docs: the error codes its sentence names give N, or a claim checks it', async () => {
    const unchecked: string[] = [];
    const wrong: string[] = [];
    const claimed = new Map<string, Array<[number, number]>>(); // file → spans the claims cover
    for (const c of CLAIMS) {
      const m = c.re.exec(doc(c.file));
      if (!m) {
        wrong.push(`${c.file}: the claim ${c.re} matches nothing (update it with the doc)`);
        continue;
      }
      const said = m.slice(1).map(Number);
      const actual = await c.statuses();
      if (JSON.stringify(said) !== JSON.stringify(actual)) wrong.push(`${c.file}: "${m[0]}" says ${said.join(', ')}; the code gives ${actual.join(', ')}`);
      claimed.set(c.file, [...(claimed.get(c.file) ?? []), [m.index, m.index + m[0].length]]);
    }
    for (const file of DOCS) {
      const text = doc(file);
      for (const m of text.matchAll(EXIT_STATUS)) {
        const at = m.index!;
        if ((claimed.get(file) ?? []).some(([a, b]) => at >= a && at < b)) continue;
        const sentence = sentenceAt(text, at);
        const codes = [...new Set([...sentence.matchAll(/\bERR_[A-Z0-9_]+\b/g)].map((c) => c[0]))];
        const line = text.slice(0, at).split('\n').length;
        if (codes.length === 0) {
          unchecked.push(`${file}:${line}: "${m[0]}" names no error code and no claim covers it`);
          continue;
        }
        for (const code of codes) {
          if (!(code in ErrorCatalogue)) wrong.push(`${file}:${line}: ${code} is not in the catalogue`);
          else if (statusOf(code as ErrorCode) !== Number(m[1])) wrong.push(`${file}:${line}: "${m[0]}" but ${code} exits ${statusOf(code as ErrorCode)}`);
        }
      }
    }
    expect(wrong).toEqual([]);
    expect(unchecked).toEqual([]);
  }, 60_000);
});

describe('install notes', () => {
  it('docs/install.md explains npm 11\'s install-scripts warning, how to approve glasspane, and every allowScripts entry', () => {
    const pkg = JSON.parse(doc('package.json')) as { name: string; allowScripts: Record<string, boolean> };
    const text = doc('docs/install.md');
    expect(text).toContain('install scripts not yet covered by allowScripts');
    expect(text).toContain(`--allow-scripts=${pkg.name}`);
    for (const dep of Object.keys(pkg.allowScripts)) expect(text, dep).toContain(`\`${dep}\``);
  });
});
