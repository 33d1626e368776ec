#!/usr/bin/env node
// The npm registry reachable from this project's build machines serves only some of the
// per-platform binary packages (rollup's, @napi-rs/canvas's), so `npm install` leaves the others
// out of package-lock.json and `npm ci` then refuses the lock as out of sync. This adds the
// missing optional platform entries (os/cpu/libc read from the package name, as these packages
// name themselves: NAME-<os>-<cpu>[-gnu|-musl|-msvc|-gnueabihf]) so that `npm ci` skips them as
// foreign platforms. Run after any `npm install` that adds such a package:
//   node tools/lock-platform-entries.mjs
import { readFileSync, writeFileSync } from 'node:fs';

const file = new URL('../package-lock.json', import.meta.url);
const lock = JSON.parse(readFileSync(file, 'utf8'));
const pkgs = lock.packages;
const PLATFORM = /-(android|darwin|freebsd|linux|openbsd|openharmony|win32)-(arm64|x64|ia32|arm|loong64|ppc64|riscv64|s390x|universal)(?:-(gnu|musl|msvc|gnueabihf|musleabihf|eabi))?$/;
let added = 0;
for (const [path, meta] of Object.entries(pkgs)) {
  for (const [name, version] of Object.entries(meta.optionalDependencies ?? {})) {
    const key = `node_modules/${name}`;
    if (pkgs[key]) continue;
    const m = PLATFORM.exec(name);
    if (!m) throw new Error(`${name} (optional for ${path}) is missing from the lock and is not a platform package`);
    const [, os, cpu, abi] = m;
    const entry = { version, cpu: cpu === 'universal' ? ['x64', 'arm64'] : [cpu], dev: meta.dev, license: meta.license ?? 'MIT', optional: true, os: [os] };
    if (abi === 'gnu' || abi === 'gnueabihf') entry.libc = ['glibc'];
    if (abi === 'musl' || abi === 'musleabihf') entry.libc = ['musl'];
    if (!entry.dev) delete entry.dev;
    pkgs[key] = entry;
    added++;
  }
}
lock.packages = Object.fromEntries(Object.entries(pkgs).sort(([a], [b]) => (a === '' ? -1 : b === '' ? 1 : a.localeCompare(b))));
writeFileSync(file, `${JSON.stringify(lock, null, 2)}\n`);
console.log(`package-lock.json: added ${added} foreign-platform entries`);
