/**
 * The system parts themselves: what each is, the Debian package with it, and whether it is usable
 * here. Tests declare what they need through test/support/system.ts (needs); this module is the
 * part of it the global setup reads too (it runs outside the test workers, without vitest's expect).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { ROOT } from './helpers.js';
import { hostKernel } from './initramfs.js';

/** One part: what it is, the Debian package tools/setup installs for it, and why it is unusable here. */
interface Part {
  what: string;
  pkg: string;
  /** The programs it gives the tests to run (test/unit/system-parts.test.ts checks the tests run no others). */
  programs: string[];
  /** null when the part is usable here; otherwise the problem and its fix (default: "install PKG"). */
  problem: () => string | null;
}

export const runs = (cmd: string, ...args: string[]) => spawnSync(cmd, args, { stdio: 'ignore', timeout: 20_000 }).status === 0;
const onPath = (cmd: string) => (process.env.PATH ?? '').split(':').some((d) => d && existsSync(join(d, cmd)));
const install = (pkg: string) => `install ${pkg}`;
/** A program the tests run, from package `pkg`. */
const program = (cmd: string, pkg: string): Part => ({ what: cmd, pkg, programs: [cmd], problem: () => (onPath(cmd) ? null : install(pkg)) });

/** The SDL binding built against the system's SDL2 (tools/build-sdl.mjs) loads. */
function sdlProblem(): string | null {
  try {
    createRequire(import.meta.url)(join(ROOT, 'node_modules/@kmamal/sdl/dist/sdl.node'));
    return null;
  } catch {
    return 'install libsdl2-dev, then npm run build:sdl';
  }
}

/** The kernel the guests boot: the host's (test/support/initramfs.ts says which and why not). */
function kernelProblem(): string | null {
  const k = hostKernel();
  return typeof k === 'string' ? k : null;
}

/** systemd-tmpfiles, and a kvm group for contrib/tmpfiles.d/glasspane.conf to give the region to. */
function tmpfilesProblem(): string | null {
  if (!onPath('systemd-tmpfiles')) return install('systemd');
  return /^kvm:/m.test(readFileSync('/etc/group', 'utf8')) ? null : 'there is no kvm group (install udev, or groupadd --system kvm)';
}

const CC = process.env.CC || 'cc';
const ARCH = spawnSync('dpkg', ['--print-architecture'], { encoding: 'utf8' }).stdout?.trim() || 'amd64';

export const PARTS = {
  xvfb: program('Xvfb', 'xvfb'),
  xdotool: program('xdotool', 'xdotool'),
  xwd: program('xwd', 'x11-apps'),
  xclock: program('xclock', 'x11-apps'),
  xprop: program('xprop', 'x11-utils'),
  xclip: program('xclip', 'xclip'),
  openssl: program('openssl', 'openssl'),
  sdl: { what: 'the SDL binding (dist/sdl.node, built against libsdl2-dev)', pkg: 'libsdl2-dev', programs: [], problem: sdlProblem },
  qemu: {
    what: 'QEMU (qemu-system-x86_64)',
    pkg: 'qemu-system-x86',
    programs: ['qemu-system-x86_64'],
    problem: () => (runs(process.env.GLASSPANE_QEMU ?? 'qemu-system-x86_64', '--version') ? null : install('qemu-system-x86')),
  },
  ovmf: {
    what: 'OVMF firmware (/usr/share/OVMF/OVMF_CODE_4M.fd, OVMF_VARS_4M.fd)',
    pkg: 'ovmf',
    programs: [],
    problem: () => (['CODE', 'VARS'].every((k) => existsSync(`/usr/share/OVMF/OVMF_${k}_4M.fd`)) ? null : install('ovmf')),
  },
  kernel: { what: 'a kernel for the test guests (/boot/vmlinuz-V, /lib/modules/V)', pkg: `linux-image-${ARCH}`, programs: [], problem: kernelProblem },
  busybox: { what: 'a static busybox', pkg: 'busybox-static', programs: [], problem: () => (['/bin/busybox', '/usr/bin/busybox'].some(existsSync) ? null : install('busybox-static')) },
  gcc: program('gcc', 'build-essential'),
  cc: { what: `a C compiler (${CC}: $CC, else cc)`, pkg: 'build-essential', programs: [CC], problem: () => (runs(CC, '--version') ? null : `install build-essential, or set CC`) },
  npm: program('npm', 'npm'),
  fish: program('fish', 'fish'),
  zsh: program('zsh', 'zsh'),
  zstd: program('zstd', 'zstd'),
  x11capture: {
    what: 'the X11 capture addon (build/Release/glasspane_x11.node, built against the xcb libraries)',
    pkg: 'libxcb-shm0-dev libxcb-damage0-dev libxcb-xfixes0-dev libxcb-xinput-dev pkg-config',
    programs: [],
    problem: () => (existsSync(join(ROOT, 'build/Release/glasspane_x11.node')) ? null : 'install libxcb-shm0-dev libxcb-damage0-dev libxcb-xfixes0-dev libxcb-xinput-dev pkg-config, then npm run build:native'),
  },
  crossGxx: program('aarch64-linux-gnu-g++', 'g++-aarch64-linux-gnu'),
  xephyr: program('Xephyr', 'xserver-xephyr'),
  xrandr: program('xrandr', 'x11-xserver-utils'),
  xorg: {
    what: 'Xorg with the dummy video and evdev input drivers (the capture guest\'s desktop)',
    pkg: 'xserver-xorg-video-dummy xserver-xorg-input-evdev',
    programs: [],
    problem: () =>
      ['/usr/lib/xorg/Xorg', '/usr/lib/xorg/modules/drivers/dummy_drv.so', '/usr/lib/xorg/modules/input/evdev_drv.so'].every(existsSync)
        ? null
        : install('xserver-xorg-video-dummy xserver-xorg-input-evdev'),
  },
  tmpfiles: { what: 'systemd-tmpfiles and a kvm group', pkg: 'systemd', programs: ['systemd-tmpfiles'], problem: tmpfilesProblem },
} satisfies Record<string, Part>;

export type PartName = keyof typeof PARTS;

/** GLASSPANE_TEST_MISSING=qemu,xvfb pretends those are missing (to check the skip paths). */
const pretendMissing = new Set((process.env.GLASSPANE_TEST_MISSING ?? '').split(',').filter(Boolean));
const known = new Map<PartName, string | null>();
function problem(name: PartName): string | null {
  if (!known.has(name)) known.set(name, pretendMissing.has(name) ? `${install(PARTS[name].pkg)} (GLASSPANE_TEST_MISSING pretends it is missing)` : PARTS[name].problem());
  return known.get(name)!;
}

/** The missing parts among `names`, each as "what: problem and fix"; empty when all are here. */
export function missingParts(...names: PartName[]): string[] {
  return [...new Set(names)].filter((n) => problem(n) !== null).map((n) => `${PARTS[n].what}: ${problem(n)}`);
}

/** True when GLASSPANE_TEST_STRICT is set (to anything but '' or 0): a missing part fails the run. */
export function strict(): boolean {
  const v = process.env.GLASSPANE_TEST_STRICT ?? '';
  return v !== '' && v !== '0';
}


/** Where skips are recorded for the report after the summary (set by the global setup). */
export const SKIP_LOG_ENV = 'GLASSPANE_TEST_SKIP_LOG';

/** One skipped declaration: the test file and why (each reason "what: problem and fix"). */
export interface SkipRecord {
  file: string;
  kind: 'part' | 'host';
  reasons: string[];
}
