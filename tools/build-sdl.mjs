#!/usr/bin/env node
// Builds @kmamal/sdl's native addon against the system's SDL2 (Debian: libsdl2-dev), because its
// own install script downloads a prebuilt from GitHub, which is unreachable on the machines this
// project is built on (package.json sets allowScripts["@kmamal/sdl"] = false). Runs from the
// `install` script after our own addon. Without SDL2 headers it warns and exits 0: everything but
// the viewer window (`glasspane view` without --headless) still works.
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, renameSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { nodeGyp } from './node-gyp.mjs';

// Its package "exports" hide package.json from require.resolve: look in our node_modules.
const pkgDir = fileURLToPath(new URL('../node_modules/@kmamal/sdl', import.meta.url));
if (!existsSync(join(pkgDir, 'package.json'))) {
  console.warn('build-sdl: @kmamal/sdl is not installed; skipping the viewer window addon');
  process.exit(0);
}
const target = join(pkgDir, 'dist', 'sdl.node');
// Like our own addon (tools/build-native.mjs): a binary that is there and loads is not rebuilt,
// so `npm install -g .` or `npm link` in this folder never replaces it under a running viewer.
if (existsSync(target) && !process.argv.includes('--force')) {
  try {
    createRequire(import.meta.url)(target);
    process.exit(0);
  } catch (err) {
    console.warn(`build-sdl: ${target} does not load (${String(err?.message ?? err).split('\n')[0]}); rebuilding it`);
  }
}

const inc = process.env.SDL_INC ?? '/usr/include/SDL2';
// Debian's multiarch library folder (x86_64-linux-gnu, aarch64-linux-gnu, ...).
const multiarch = (() => {
  try {
    return execFileSync('gcc', ['-print-multiarch'], { encoding: 'utf8' }).trim() || 'x86_64-linux-gnu';
  } catch {
    return 'x86_64-linux-gnu';
  }
})();
const lib = process.env.SDL_LIB ?? `/usr/lib/${multiarch}`;
if (!existsSync(join(inc, 'SDL.h'))) {
  console.warn(`build-sdl: no SDL2 headers in ${inc} (install libsdl2-dev, then run \`npm run build:sdl\`); the viewer window is unavailable, --headless works`);
  process.exit(0);
}
nodeGyp(['rebuild'], { cwd: pkgDir, env: { ...process.env, SDL_INC: inc, SDL_LIB: lib } });
mkdirSync(dirname(target), { recursive: true });
// Copy, then rename over the old file: a viewer that has it loaded keeps its (unchanged) mapping.
copyFileSync(join(pkgDir, 'build', 'Release', 'sdl.node'), `${target}.tmp`);
renameSync(`${target}.tmp`, target);
console.log(`build-sdl: built ${target} against ${inc}`);
