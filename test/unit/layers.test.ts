/**
 * The import-boundary check (.dependency-cruiser.cjs, run by `npm test` as `npm run lint:deps`)
 * can fail: on a small tree laid out like this repository, every kind of break it exists for is
 * reported by the rule meant for it, and the imports the layers allow are not. The repository's
 * own tree is checked by lint:deps itself.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ROOT } from '../support/helpers.js';

const DEPCRUISE = join(ROOT, 'node_modules', 'dependency-cruiser', 'bin', 'dependency-cruise.mjs');
const CONFIG = join(ROOT, '.dependency-cruiser.cjs');

const tree = mkdtempSync(join(tmpdir(), 'glasspane-layers-'));
afterAll(() => rmSync(tree, { recursive: true, force: true }));

/** Files of the fixture tree: path -> the modules it imports (relative specifiers, as in the repo). */
const FILES: Record<string, string[]> = {
  // allowed: down the layers, within a layer, the stub and capture commands running guest-stub, tests on top
  'src/errors.ts': [],
  'src/native.ts': ['./errors.js'],
  'src/kvmfr/layout.ts': ['../errors.js'],
  'src/scenes/bars.ts': ['../kvmfr/layout.js'],
  'src/input/sink.ts': ['../scenes/bars.js'],
  'src/spice/input-sink.ts': ['../input/sink.js'],
  'src/viewer/window.ts': ['../spice/input-sink.js', '../native.js'],
  'src/cli/commands/stub.ts': ['../../../guest-stub/producer.js', '../../scenes/bars.js'],
  'src/cli/commands/capture.ts': ['../../../guest-stub/x11-producer.js'],
  'guest-stub/producer.ts': ['../src/scenes/bars.js', '../src/native.js'],
  'guest-stub/x11-producer.ts': ['./producer.js'],
  'test/unit/x.test.ts': ['../../src/cli/commands/stub.js', '../../guest-stub/producer.js'],
  // forbidden
  'src/relay/up.ts': ['../viewer/window.js'], // upward
  'src/relay/sideways.ts': ['../spice/input-sink.js'], // a peer in the same row
  'src/input/spice-user.ts': ['../spice/input-sink.js'], // upward (input is below spice)
  'src/cli/commands/view.ts': ['../../../guest-stub/producer.js'], // only `stub` and `capture` run a producer
  'src/vm/uses-test.ts': ['../../test/unit/x.test.ts'], // the product never imports tests
  'guest-stub/consumer.ts': ['../src/input/sink.js'], // the producer is not a consumer
  'src/kvmfr/a.ts': ['./b.js'], // a cycle
  'src/kvmfr/b.ts': ['./a.js'],
  'src/lgmp/typo.ts': ['./missing.js'], // cannot be resolved, so cannot be checked
  'src/newlayer/z.ts': ['../errors.js'], // a folder no layer owns
  'bench/uses-test.ts': ['../test/unit/x.test.ts'],
};

for (const [file, imports] of Object.entries(FILES)) {
  mkdirSync(join(tree, dirname(file)), { recursive: true });
  const lines = imports.map((m, i) => `import * as m${i} from '${m}';\nvoid m${i};`);
  writeFileSync(join(tree, file), `${lines.join('\n')}\nexport const here = ${JSON.stringify(file)};\n`);
}
writeFileSync(join(tree, 'tsconfig.json'), JSON.stringify({ compilerOptions: { module: 'NodeNext', moduleResolution: 'NodeNext', strict: true }, include: ['**/*.ts'] }));
writeFileSync(join(tree, 'package.json'), JSON.stringify({ type: 'module' }));

interface Violation {
  rule: { name: string };
  from: string;
  to: string;
}

function cruise(cwd: string, args: string[]) {
  return spawnSync(process.execPath, [DEPCRUISE, ...args, '--config', CONFIG], { cwd, encoding: 'utf8', timeout: 120_000 });
}

describe('the layer check', () => {
  it('reports each break with the rule made for it, and nothing the layers allow', () => {
    const r = cruise(tree, ['src', 'guest-stub', 'bench', 'test', '--output-type', 'json']);
    expect(r.stderr).toBe('');
    const found = (JSON.parse(r.stdout).summary.violations as Violation[]).map((v) => `${v.rule.name}: ${v.from} -> ${v.to}`).sort();
    expect(found).toEqual(
      [
        'bench-not-test: bench/uses-test.ts -> test/unit/x.test.ts',
        'guest-stub-beside-product: guest-stub/consumer.ts -> src/input/sink.ts',
        'layer-cli: src/cli/commands/view.ts -> guest-stub/producer.ts',
        'layer-input: src/input/spice-user.ts -> src/spice/input-sink.ts',
        'layer-relay: src/relay/sideways.ts -> src/spice/input-sink.ts',
        'layer-relay: src/relay/up.ts -> src/viewer/window.ts',
        'layer-vm: src/vm/uses-test.ts -> test/unit/x.test.ts',
        'no-circular: src/kvmfr/a.ts -> src/kvmfr/b.ts', // a cycle is reported once
        'not-to-unresolvable: src/lgmp/typo.ts -> ./missing.js',
        'src-outside-layers: src/newlayer/z.ts -> src/errors.ts',
      ].sort(),
    );
  });

  it('fails `npm run lint:deps` with the rule, the import and what to do instead', () => {
    const r = cruise(tree, ['src/relay/up.ts', '--output-type', 'err-long']);
    expect(r.status).not.toBe(0);
    expect(r.stdout).toContain('layer-relay: src/relay/up.ts → src/viewer/window.ts');
    expect(r.stdout).toMatch(/relay \(\^src\/relay\/\) may import only relay,\s+input,\s+scenes,\s+draw,\s+lgmp,\s+kvmfr,\s+base/);
    expect(r.stdout).toContain('docs/architecture.md');
  });
});
