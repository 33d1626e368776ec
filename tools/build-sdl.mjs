#!/usr/bin/env node
// Builds @kmamal/sdl's native addon against the system's SDL2 (Debian: libsdl2-dev), because its
// own install script downloads a prebuilt from GitHub, which is unreachable on the machines this
// project is built on (package.json sets allowScripts["@kmamal/sdl"] = false). Runs from the
// `install` script after our own addon. Without SDL2 headers it warns and exits 0: everything but
// the viewer window (`glasspane view` without --headless) still works.
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

// Its package "exports" hide package.json from require.resolve: look in our node_modules.
const pkgDir = fileURLToPath(new URL('../node_modules/@kmamal/sdl', import.meta.url));
if (!existsSync(join(pkgDir, 'package.json'))) {
  console.warn('build-sdl: @kmamal/sdl is not installed; skipping the viewer window addon');
  process.exit(0);
}
const target = join(pkgDir, 'dist', 'sdl.node');
if (existsSync(target) && !process.argv.includes('--force')) process.exit(0);

const inc = process.env.SDL_INC ?? '/usr/include/SDL2';
const lib = process.env.SDL_LIB ?? '/usr/lib/x86_64-linux-gnu';
if (!existsSync(join(inc, 'SDL.h'))) {
  console.warn(`build-sdl: no SDL2 headers in ${inc} (install libsdl2-dev, then run \`npm run build:sdl\`); the viewer window is unavailable, --headless works`);
  process.exit(0);
}
execFileSync('node-gyp', ['rebuild'], { cwd: pkgDir, stdio: 'inherit', env: { ...process.env, SDL_INC: inc, SDL_LIB: lib } });
mkdirSync(dirname(target), { recursive: true });
copyFileSync(join(pkgDir, 'build', 'Release', 'sdl.node'), target);
console.log(`build-sdl: built ${target} against ${inc}`);
