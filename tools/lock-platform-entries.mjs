#!/usr/bin/env node
// The npm registry reachable from this project's build machines serves only some of rollup's
// per-platform packages, so `npm install` leaves the others out of package-lock.json and
// `npm ci` then refuses the lock as out of sync. This adds the missing optional platform entries
// (os/cpu/libc read from the package name, the way rollup names them) so that `npm ci` skips
// them as foreign platforms. Run after any `npm install` that rewrites the lock:
//   node tools/lock-platform-entries.mjs
import { readFileSync, writeFileSync } from 'node:fs';

const file = new URL('../package-lock.json', import.meta.url);
const lock = JSON.parse(readFileSync(file, 'utf8'));
const pkgs = lock.packages;
const CPUS = ['arm64', 'x64', 'ia32', 'arm', 'loong64', 'ppc64', 'riscv64', 's390x'];
const OS = { android: 'android', darwin: 'darwin', freebsd: 'freebsd', linux: 'linux', openbsd: 'openbsd', openharmony: 'openharmony', win32: 'win32' };
let added = 0;
for (const [path, meta] of Object.entries(pkgs)) {
  for (const [name, version] of Object.entries(meta.optionalDependencies ?? {})) {
    const key = `node_modules/${name}`;
    if (pkgs[key] || !name.startsWith('@rollup/rollup-')) continue;
    const parts = name.slice('@rollup/rollup-'.length).split('-');
    const os = OS[parts[0]];
    const cpu = CPUS.find((c) => parts[1]?.startsWith(c === 'arm' ? 'arm' : c));
    if (!os || !cpu) throw new Error(`cannot tell the platform of ${name} (needed by ${path})`);
    const entry = { version, cpu: [parts[1] === 'arm' || parts[1]?.startsWith('arm-') ? 'arm' : cpu], dev: meta.dev, license: 'MIT', optional: true, os: [os] };
    if (parts.includes('gnu') || parts.includes('gnueabihf')) entry.libc = ['glibc'];
    if (parts.includes('musl') || parts.includes('musleabihf')) entry.libc = ['musl'];
    if (parts[1] === 'arm64' || parts[1] === 'x64' || parts[1] === 'ia32' || parts[1] === 'loong64' || parts[1] === 'ppc64' || parts[1] === 'riscv64' || parts[1] === 's390x') entry.cpu = [parts[1]];
    pkgs[key] = entry;
    added++;
  }
}
lock.packages = Object.fromEntries(Object.entries(pkgs).sort(([a], [b]) => (a === '' ? -1 : b === '' ? 1 : a.localeCompare(b))));
writeFileSync(file, `${JSON.stringify(lock, null, 2)}\n`);
console.log(`package-lock.json: added ${added} foreign-platform rollup entries`);
