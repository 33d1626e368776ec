#!/usr/bin/env node
// npm's install step for glasspane's own addon: build only when no current binary is found, as
// node-gyp-build does for prebuilt addons. `npm install -g .`, `npm link` and `npx glasspane` run
// the install script in this folder again; a plain `node-gyp rebuild` there deleted
// build/Release/glasspane.node for the length of a compile and crashed every glasspane running
// from it. "Current" means: node-gyp-build finds a binary that loads, and the sources it was built
// from (binding.gyp, native/*) hash to the value recorded next to it after the last build.
//   node tools/build-native.mjs            build if needed (the `install` script)
//   node tools/build-native.mjs --force    build anyway (`npm run build:native`)
// A build is `node-gyp configure` + `build`, never `rebuild`: no clean, and the linker replaces
// the file rather than writing into the one running processes have mapped.
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { nodeGyp } from './node-gyp.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const stampFile = join(root, 'build', 'glasspane.sources.sha256');
const require = createRequire(import.meta.url);

/** Hash of everything the binary is built from. */
function sourcesHash() {
  const hash = createHash('sha256');
  const files = ['binding.gyp', ...readdirSync(join(root, 'native')).sort().map((f) => join('native', f))];
  for (const f of files) hash.update(`${f}\0`).update(readFileSync(join(root, f))).update('\0');
  return hash.digest('hex');
}

/** The binary node-gyp-build would load, when it loads; else null (and why, for the log). */
function loadableBinary() {
  try {
    const path = require('node-gyp-build').path(root);
    require(path);
    return { path };
  } catch (err) {
    return { path: null, why: String(err?.message ?? err).split('\n')[0] };
  }
}

const hash = sourcesHash();
const found = loadableBinary();
const stamp = existsSync(stampFile) ? readFileSync(stampFile, 'utf8').trim() : '';
const prebuilt = found.path !== null && !found.path.startsWith(join(root, 'build'));
if (!process.argv.includes('--force') && found.path && (prebuilt || stamp === hash)) {
  console.log(`build-native: ${found.path} is current; not rebuilding`);
  process.exit(0);
}
console.log(`build-native: building the native addon (${found.path ? 'its sources changed' : found.why})`);

nodeGyp(['configure'], { cwd: root });
nodeGyp(['build'], { cwd: root });
writeFileSync(stampFile, `${hash}\n`);
