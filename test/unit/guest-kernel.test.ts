/**
 * Which host kernel the test guests boot and how its modules get into their initramfs
 * (test/support/initramfs.ts), on kernel trees made here: Debian 12 ships plain .ko modules,
 * Debian 13 .ko.xz (busybox's insmod in the guest unpacks them), other systems .ko.zst (unpacked
 * on the host with zstd, which busybox cannot do). A guest booting each is in the guest tests.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { findHostKernel, hostKernel, moduleClosure, writeInitramfs } from '../support/initramfs.js';
import { needs } from '../support/system.js';

const base = mkdtempSync(join(tmpdir(), 'glasspane-kernel-'));
afterAll(() => rmSync(base, { recursive: true, force: true }));
let trees = 0;
/** Stands in for the static busybox: only its place in the archive matters here. */
const BUSYBOX = join(base, 'busybox');
writeFileSync(BUSYBOX, 'busybox');

/** A /boot and /lib/modules with one kernel whose evdev depends on input-core, as `suffix` files. */
function kernelTree(version: string, suffix: string, contents = (name: string) => Buffer.from(`module ${name}\n`)) {
  const root = join(base, `tree-${trees++}`);
  const dirs = { modules: join(root, 'modules'), boot: join(root, 'boot') };
  const dir = join(dirs.modules, version, 'kernel/drivers/input');
  mkdirSync(dir, { recursive: true });
  mkdirSync(dirs.boot);
  writeFileSync(join(dirs.boot, `vmlinuz-${version}`), 'kernel');
  for (const name of ['evdev', 'input-core']) writeFileSync(join(dir, `${name}${suffix}`), contents(name));
  writeFileSync(
    join(dirs.modules, version, 'modules.dep'),
    `kernel/drivers/input/evdev${suffix}: kernel/drivers/input/input-core${suffix}\nkernel/drivers/input/input-core${suffix}:\n`,
  );
  return dirs;
}

/** The members of a newc cpio archive: name → contents. */
function cpioMembers(archive: Buffer): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  let at = 0;
  const pad4 = (n: number) => (n + 3) & ~3;
  while (at < archive.length) {
    const field = (i: number) => parseInt(archive.toString('latin1', at + 6 + i * 8, at + 14 + i * 8), 16);
    const size = field(6);
    const nameSize = field(11);
    const name = archive.toString('latin1', at + 110, at + 110 + nameSize - 1);
    const dataAt = pad4(at + 110 + nameSize);
    if (name === 'TRAILER!!!') break;
    out.set(name, archive.subarray(dataAt, dataAt + size));
    at = pad4(dataAt + size);
  }
  return out;
}

describe('the guests\' kernel', () => {
  it.each(['.ko', '.ko.xz', '.ko.gz'])('modules as %s files are used, and go into the initramfs as they are', (suffix) => {
    const dirs = kernelTree('6.12.38+deb13-amd64', suffix);
    const k = findHostKernel(dirs);
    expect(k).toMatchObject({ version: '6.12.38+deb13-amd64', vmlinuz: join(dirs.boot, 'vmlinuz-6.12.38+deb13-amd64') });
    const modules = moduleClosure(k!.version, ['evdev'], dirs);
    expect(modules).toEqual([`kernel/drivers/input/input-core${suffix}`, `kernel/drivers/input/evdev${suffix}`]);
    const file = join(base, `initrd-${trees}`);
    writeInitramfs(file, { busybox: BUSYBOX, version: k!.version, modules, init: '#!/bin/sh\n', dirs });
    const members = cpioMembers(readFileSync(file));
    expect(members.get('modules/order')!.toString()).toBe(`input-core${suffix}\nevdev${suffix}\n`);
    expect(members.get(`modules/evdev${suffix}`)!.toString()).toBe('module evdev\n');
  });

  it.skipIf(needs('zstd'))('.ko.zst modules are unpacked on the host (busybox cannot), and go in as .ko', () => {
    const packed = (name: string) => spawnSync('zstd', ['-c', '-q'], { input: `module ${name}\n` }).stdout;
    const dirs = kernelTree('6.8.0-40-generic', '.ko.zst', packed);
    const k = findHostKernel(dirs)!;
    const modules = moduleClosure(k.version, ['evdev'], dirs);
    const file = join(base, `initrd-${trees}`);
    writeInitramfs(file, { busybox: BUSYBOX, version: k.version, modules, init: '#!/bin/sh\n', dirs });
    const members = cpioMembers(readFileSync(file));
    expect(members.get('modules/order')!.toString()).toBe('input-core.ko\nevdev.ko\n');
    expect(members.get('modules/evdev.ko')!.toString()).toBe('module evdev\n');
  });

  it('says why there is no kernel to boot, and the fix', () => {
    const empty = { modules: join(base, 'none/modules'), boot: join(base, 'none/boot') };
    expect(hostKernel(empty)).toMatch(/^no .*\/boot\/vmlinuz-V with its .*\/modules\/V\/modules\.dep \(a Debian kernel package: linux-image-amd64\)$/);
    const zst = kernelTree('6.8.0-40-generic', '.ko.zst');
    const saved = process.env.PATH;
    process.env.PATH = '/nonexistent';
    try {
      expect(hostKernel(zst)).toMatch(/zstd-compressed \(\.ko\.zst\) and zstd is not installed \(install zstd\)$/);
    } finally {
      process.env.PATH = saved;
    }
  });
});
