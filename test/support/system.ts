/**
 * The system parts some tests need (Xvfb, QEMU, OVMF, a kernel image, ...), checked in one place.
 * A test file whose parts are missing skips with `describe.skipIf(needs(...))`; the reasons are
 * printed once, at the top of the run, by test/support/global-setup.ts (not once per file).
 * `tools/setup` installs every one of them on Debian; docs/install.md names them for others.
 */
import { spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { ROOT } from './helpers.js';

/** One part: what it is, the Debian package with it, and whether it is usable here. */
interface Part {
  what: string;
  pkg: string;
  present: () => boolean;
}

const runs = (cmd: string, ...args: string[]) => spawnSync(cmd, args, { stdio: 'ignore', timeout: 20_000 }).status === 0;
const onPath = (cmd: string) => (process.env.PATH ?? '').split(':').some((d) => d && existsSync(join(d, cmd)));
const readable = (p: string) => {
  try {
    accessSync(p, constants.R_OK);
    return true;
  } catch {
    return false;
  }
};

/**
 * A readable /boot/vmlinuz-V whose modules are plain .ko files: the test guests boot the host's
 * kernel and busybox's insmod loads modules from their initramfs (Debian 13 ships them as .ko.xz,
 * which these helpers do not unpack yet).
 */
function hostKernel(): boolean {
  try {
    return readdirSync('/lib/modules').some((v) => readable(`/boot/vmlinuz-${v}`) && existsSync(`/lib/modules/${v}/kernel/drivers/input/evdev.ko`));
  } catch {
    return false;
  }
}

/** The SDL binding built against the system's SDL2 (tools/build-sdl.mjs) loads. */
function sdlBinding(): boolean {
  try {
    createRequire(import.meta.url)(join(ROOT, 'node_modules/@kmamal/sdl/dist/sdl.node'));
    return true;
  } catch {
    return false;
  }
}

export const PARTS = {
  xvfb: { what: 'Xvfb', pkg: 'xvfb', present: () => onPath('Xvfb') },
  xdotool: { what: 'xdotool', pkg: 'xdotool', present: () => onPath('xdotool') },
  xwd: { what: 'xwd', pkg: 'x11-apps', present: () => onPath('xwd') },
  xclip: { what: 'xclip', pkg: 'xclip', present: () => onPath('xclip') },
  openssl: { what: 'openssl', pkg: 'openssl', present: () => onPath('openssl') },
  sdl: { what: 'the SDL binding (dist/sdl.node, built against libsdl2-dev)', pkg: 'libsdl2-dev, then npm run build:sdl', present: sdlBinding },
  qemu: { what: 'QEMU (qemu-system-x86_64)', pkg: 'qemu-system-x86', present: () => runs(process.env.GLASSPANE_QEMU ?? 'qemu-system-x86_64', '--version') },
  ovmf: { what: 'OVMF firmware (/usr/share/OVMF/OVMF_CODE_4M.fd, OVMF_VARS_4M.fd)', pkg: 'ovmf', present: () => ['CODE', 'VARS'].every((k) => readable(`/usr/share/OVMF/OVMF_${k}_4M.fd`)) },
  kernel: { what: 'a readable kernel image with uncompressed modules (/boot/vmlinuz-V, /lib/modules/V/**/*.ko, as Debian 12 has them)', pkg: 'linux-image-amd64', present: hostKernel },
  busybox: { what: 'a static busybox', pkg: 'busybox-static', present: () => ['/bin/busybox', '/usr/bin/busybox'].some(existsSync) },
  gcc: { what: 'gcc', pkg: 'build-essential', present: () => onPath('gcc') },
} satisfies Record<string, Part>;

export type PartName = keyof typeof PARTS;

/** GLASSPANE_TEST_MISSING=qemu,xvfb pretends those are missing (to check the skip paths). */
const pretendMissing = new Set((process.env.GLASSPANE_TEST_MISSING ?? '').split(',').filter(Boolean));
const known = new Map<PartName, boolean>();
function present(name: PartName): boolean {
  if (!known.has(name)) known.set(name, !pretendMissing.has(name) && PARTS[name].present());
  return known.get(name)!;
}

/** The missing parts among `names`, each as "what: install PACKAGE"; empty when all are here. */
export function missingParts(...names: PartName[]): string[] {
  return names.filter((n) => !present(n)).map((n) => `${PARTS[n].what}: install ${PARTS[n].pkg}`);
}

/**
 * For `describe.skipIf(needs('qemu', 'kernel'))`: true when any part is missing. Says nothing:
 * the run's global setup prints every missing part once.
 */
export function needs(...names: PartName[]): boolean {
  return missingParts(...names).length > 0;
}

/** Parts the window tests need. */
export const WINDOW_PARTS: PartName[] = ['xvfb', 'xdotool', 'xwd', 'sdl'];
/** Parts the real-kernel guest tests need. */
export const GUEST_PARTS: PartName[] = ['qemu', 'kernel', 'busybox'];
