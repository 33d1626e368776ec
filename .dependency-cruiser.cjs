// @ts-check
/**
 * The import boundaries of glasspane, checked by dependency-cruiser on every `npm test` (its
 * pretest runs `npm run lint:deps`); test/unit/layers.test.ts shows the rules catch each break. docs/architecture.md explains the layers;
 * this table is the one the check reads, so change both together.
 *
 * Rows run from the top of the product to the bottom: a layer may import the layers in the rows
 * below its own, never a layer in its own row (its peers) or above. Type-only imports count too:
 * a type couples modules as much as a value does.
 */

/** @typedef {{ name: string, path: string, what: string }} Layer */

/** @type {Layer[][]} */
const ROWS = [
  [{ name: 'cli', path: '^src/cli/', what: 'the `glasspane` command: parses argv and composes the layers below' }],
  [
    { name: 'viewer', path: '^src/viewer/', what: 'the window, presenter, OSD, capture mode, and the bridges from SPICE\'s clipboard and audio to it' },
    { name: 'vm', path: '^src/vm/', what: 'host checks, IOMMU, vfio binding, QEMU arguments, QMP, VM lifecycle' },
  ],
  [
    { name: 'relay', path: '^src/relay/', what: 'frames and cursor from a region for a consumer (FrameRelay, headless runner)' },
    { name: 'spice', path: '^src/spice/', what: 'the SPICE client: link, framing, channels; the InputSink over its inputs channel; the send parsers' },
  ],
  [{ name: 'input', path: '^src/input/', what: 'scancode table, the InputSink interface, the stub sink' }],
  [
    { name: 'scenes', path: '^src/scenes/', what: 'the test scenes glasspane and guest-stub share: their pixels, their verifier, the input scene\'s messages' },
    { name: 'draw', path: '^src/draw/', what: 'pixel drawing shared by the viewer\'s OSD and guest-stub (text panels)' },
  ],
  [
    { name: 'lgmp', path: '^src/lgmp/', what: 'LGMP v6 producer and consumer over the native atomics' },
    { name: 'kvmfr', path: '^src/kvmfr/', what: 'KVMFR v20 records, frame and cursor structs, formats, sizing' },
  ],
  [
    {
      name: 'base',
      path: '^src/(native|region|errors|error-codes|permission-fix|config-file|npm-banner|orphan-files)\\.ts$',
      what: 'the addon loader, region mapping, error codes, config-file reading, sweeping files of dead processes: what every layer may use',
    },
  ],
];

const LAYERS = ROWS.flat();
/** Every project file the rules speak about (not node_modules, not node: built-ins). */
const PROJECT = '^(src|guest-stub|bench|test)/';

/** The layers below row `r`. */
const below = (r) => ROWS.slice(r + 1).flat();

/**
 * guest-stub is a producer program beside the product: it writes frames the way the Looking Glass
 * host application does, so it may use the wire-format layers and the shared scenes and drawing,
 * never the consumer side (relay, input, spice, viewer) or the commands.
 */
const GUEST_STUB_MAY_IMPORT = ['scenes', 'draw', 'lgmp', 'kvmfr', 'base'];

/**
 * The places the product starts a producer program in-process: `glasspane stub` and `glasspane
 * capture` (docs/cli.md). The CLI is the composition root, so the arrow still points down; every
 * other src module stays free of guest-stub, so nothing the viewer ships depends on a producer.
 */
const RUNS_GUEST_STUB = '^src/cli/commands/(stub|capture)\\.ts$';

const pathsOf = (names) => LAYERS.filter((l) => names.includes(l.name)).map((l) => l.path);

/** @type {import('dependency-cruiser').IForbiddenRuleType[]} */
const layerRules = ROWS.flatMap((row, r) =>
  row.map((layer) => {
    const allowed = [layer, ...below(r)];
    return {
      name: `layer-${layer.name}`,
      severity: 'error',
      comment:
        `${layer.name} (${layer.path}) may import only ${allowed.map((l) => l.name).join(', ')}. ` +
        'Move the shared piece down to the layer that owns it, or the composing code up (docs/architecture.md "Layers").',
      from: { path: layer.path, ...(layer.name === 'cli' ? { pathNot: RUNS_GUEST_STUB } : {}) },
      to: { path: PROJECT, pathNot: allowed.map((l) => l.path) },
    };
  }),
);

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    ...layerRules,
    {
      name: 'layer-cli-stub-command',
      severity: 'error',
      comment: 'the `glasspane stub` and `glasspane capture` commands may import what the rest of cli may, plus guest-stub (the producer they run).',
      from: { path: RUNS_GUEST_STUB },
      to: { path: PROJECT, pathNot: [...LAYERS.map((l) => l.path), '^guest-stub/'] },
    },
    {
      name: 'src-outside-layers',
      severity: 'error',
      comment: 'every module under src/ belongs to one layer: add its folder to ROWS in .dependency-cruiser.cjs and to docs/architecture.md.',
      from: { path: '^src/', pathNot: LAYERS.map((l) => l.path) },
      to: {},
    },
    {
      name: 'guest-stub-beside-product',
      severity: 'error',
      comment: `guest-stub may import only its own modules and src ${GUEST_STUB_MAY_IMPORT.join(', ')}: it is a producer, not a consumer (docs/architecture.md).`,
      from: { path: '^guest-stub/' },
      to: { path: PROJECT, pathNot: ['^guest-stub/', ...pathsOf(GUEST_STUB_MAY_IMPORT)] },
    },
    {
      name: 'bench-not-test',
      severity: 'error',
      comment: 'bench/ measures the product; it may use src and guest-stub, never the test suite.',
      from: { path: '^bench/' },
      to: { path: '^test/' },
    },
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'modules that import each other cannot be understood, tested or moved apart: break the cycle by moving the shared part down.',
      from: {},
      to: { circular: true },
    },
    {
      name: 'not-to-unresolvable',
      severity: 'error',
      comment: 'an import the checker cannot resolve is an import it cannot check (a wrong path, or a resolver change that would make every rule pass silently).',
      from: { path: PROJECT },
      // Test fixtures that run the build import dist/, which the check runs before (npm test's pretest).
      to: { couldNotResolve: true, pathNot: '(^|/)dist/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(dist|node_modules)/' },
    tsPreCompilationDeps: true,
    // Resolves the `.js` of an ESM import to the `.ts` beside it, as TypeScript (NodeNext) does.
    tsConfig: { fileName: 'tsconfig.json' },
  },
};
