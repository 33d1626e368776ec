// The builds the native tests need besides the addon itself (tools/build-native.mjs):
//  - the stress harness, test/native/stress.cc with the addon's thread and memory parts
//    (mapping, fault guard, copies, watch engine) and no Node, plain or with sanitizers;
//  - the addon with AddressSanitizer and UndefinedBehaviorSanitizer (build/sanitize/glasspane.node),
//    for node processes started with the ASan runtime preloaded (GLASSPANE_NATIVE_ADDON names it).
// Each is rebuilt only when its sources or flags changed (a hash next to the output). Everything
// goes under build/ (ignored). g++ is the one the addon's own build uses.
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const require = createRequire(import.meta.url);

/**
 * The sanitizers' compile and link flags (the runtime must come first: LD_PRELOAD for node).
 * No vptr check: it needs RTTI on both sides, and node (V8's BackingStore, whose shared_ptr the
 * async copies hold) is built without it, so every such call would be reported.
 */
export const SANITIZE_FLAGS = ['-fsanitize=address,undefined', '-fno-sanitize=vptr', '-fno-sanitize-recover=all', '-fno-omit-frame-pointer', '-g', '-O1'];

/** The native parts the harness links: everything that is not N-API glue. */
const CORE = ['mapping.cc', 'fault_guard.cc', 'fast_copy.cc', 'watch_engine.cc'].map((f) => join(root, 'native', f));

function sourcesHash(files, flags) {
  const hash = createHash('sha256');
  hash.update(flags.join(' '));
  for (const f of files) hash.update(`${f}\0`).update(readFileSync(f)).update('\0');
  for (const h of readdirSync(join(root, 'native')).filter((f) => f.endsWith('.h')).sort()) hash.update(readFileSync(join(root, 'native', h)));
  return hash.digest('hex');
}

/** Runs g++ when `out` is missing or was built from other sources or flags; returns `out`. */
function build(out, files, flags, log) {
  const stamp = `${out}.sha256`;
  const hash = sourcesHash(files, flags);
  if (existsSync(out) && existsSync(stamp) && readFileSync(stamp, 'utf8').trim() === hash) return out;
  mkdirSync(dirname(out), { recursive: true });
  log?.(`native-builds: building ${out.slice(root.length)}`);
  execFileSync('g++', [...flags, '-o', out, ...files], { cwd: root, stdio: ['ignore', 'inherit', 'inherit'] });
  writeFileSync(stamp, `${hash}\n`);
  return out;
}

/** The stress harness, plain (`sanitize` false) or with ASan + UBSan; returns its path. */
export function buildStressHarness({ sanitize = false, log } = {}) {
  const flags = ['-std=c++17', '-Wall', '-Wextra', '-pthread', ...(sanitize ? SANITIZE_FLAGS : ['-O2'])];
  const out = join(root, 'build', 'test', sanitize ? 'stress-sanitize' : 'stress');
  return build(out, [join(root, 'test', 'native', 'stress.cc'), ...CORE], flags, log);
}

/** Node's headers: beside the running node (a distribution's /usr/include/node), or npm_config_nodedir's. */
function nodeIncludeDir() {
  const candidates = [process.env.npm_config_nodedir && join(process.env.npm_config_nodedir, 'include', 'node'), join(dirname(process.execPath), '..', 'include', 'node')].filter(Boolean);
  const found = candidates.find((d) => existsSync(join(d, 'node_api.h')));
  if (!found) throw new Error(`node's headers (node_api.h) are in none of ${candidates.join(', ')}: install nodejs's headers or set npm_config_nodedir`);
  return found;
}

/** binding.gyp as data: a gyp file is JSON with `#` comment lines. */
function readGyp() {
  return JSON.parse(readFileSync(join(root, 'binding.gyp'), 'utf8').replace(/^\s*#.*$/gm, ''));
}

/** The addon with ASan + UBSan, the same sources, defines and libraries as binding.gyp; returns its path. */
export function buildSanitizedAddon({ log } = {}) {
  const gyp = readGyp();
  const target = gyp.targets.find((t) => t.target_name === 'glasspane');
  const files = target.sources.map((s) => join(root, s));
  const flags = [
    '-std=c++17', '-shared', '-fPIC', '-Wall', '-Wextra', '-fexceptions', '-pthread', ...SANITIZE_FLAGS,
    `-isystem${nodeIncludeDir()}`, `-isystem${require('node-addon-api').include_dir}`,
    ...target.defines.map((d) => `-D${d}`), '-DNODE_GYP_MODULE_NAME=glasspane', '-DBUILDING_NODE_EXTENSION',
    ...(target.libraries ?? []),
  ];
  return build(join(root, 'build', 'sanitize', 'glasspane.node'), files, flags, log);
}

/**
 * Compiles every source of the addon (or those in `only`) with `compiler` (e.g. aarch64-linux-gnu-g++: no x86
 * intrinsics may be reached there) and `extra` flags, to object code that is thrown away. Returns
 * the compiler's complaints, empty when every file compiled. The host's SDL headers are not used
 * (their config is the host's architecture's).
 */
export function compileCheck(compiler, extra = [], only = null) {
  const gyp = readGyp();
  const target = gyp.targets.find((t) => t.target_name === 'glasspane');
  const errors = [];
  // The files that reach CPU-specific code are compiled to object code; the rest only checked
  // (far quicker: V8's headers are large).
  const codegen = new Set(['native/fast_copy.cc', 'native/watch_engine.cc']);
  for (const source of target.sources.filter((s) => !only || only.includes(s))) {
    const out = codegen.has(source) ? ['-c', '-o', '/dev/null'] : ['-fsyntax-only'];
    const args = ['-std=c++17', '-fexceptions', '-Wall', '-Wextra', '-Werror', '-O1', '-fPIC', `-isystem${nodeIncludeDir()}`, `-isystem${require('node-addon-api').include_dir}`, ...target.defines.map((d) => `-D${d}`), '-DGLASSPANE_NO_SDL_HEADERS', ...extra, ...out, join(root, source)];
    try {
      execFileSync(compiler, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (err) {
      errors.push(`${source}: ${String(err.stderr ?? err.message).trim().split('\n').slice(0, 5).join('\n')}`);
    }
  }
  return errors;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const log = (l) => console.log(l);
  console.log(buildStressHarness({ log }));
  console.log(buildStressHarness({ sanitize: true, log }));
  console.log(buildSanitizedAddon({ log }));
}
