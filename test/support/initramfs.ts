/**
 * The one initramfs builder for the tests that boot a real Linux guest under QEMU (the SPICE
 * input, agent and audio guests in test/spice/guest.ts, the e2e loop in test/e2e/guest.ts, the
 * vfio guest in test/vm/guest-vfio.test.ts). Every guest runs the host's Debian kernel, so its
 * modules come from the host's /lib/modules; an initramfs is a "newc" cpio archive holding static
 * busybox (/bin/busybox, /bin/sh), those modules (/modules/*.ko, load order in /modules/order),
 * any files a test adds, and an /init script composed from the parts below plus the test's own
 * lines. Script lines a guest prints for the host start with the test's tag ("E2E", "GP", ...).
 */
import { spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/** Where the host's kernels and their modules are (a test points these at a tree of its own). */
export interface KernelDirs {
  /** Holds V/modules.dep and the module files of each kernel version V. */
  modules: string;
  /** Holds vmlinuz-V. */
  boot: string;
}
const HOST_DIRS: KernelDirs = { modules: '/lib/modules', boot: '/boot' };

/** A kernel the test guests can boot: its image, version and module folder. */
export interface HostKernel {
  vmlinuz: string;
  version: string;
  /** DIRS.modules/version: modules.dep and the module files (plain, .gz, .xz or .zst). */
  modulesDir: string;
}

/**
 * The newest kernel V with both a BOOT/vmlinuz-V and a MODULES/V/modules.dep, or why there is
 * none usable (a string: the problem and its fix). Its modules may be plain .ko files (Debian 12)
 * or compressed (.ko.xz on Debian 13, .ko.zst elsewhere): busybox's insmod in the guest unpacks
 * .gz and .xz itself, .zst ones are unpacked here with zstd (moduleFile), so a kernel whose
 * modules are .zst needs zstd on PATH.
 */
export function hostKernel(dirs: KernelDirs = HOST_DIRS): HostKernel | string {
  let versions: string[] = [];
  try {
    versions = readdirSync(dirs.modules).filter((v) => existsSync(path.join(dirs.boot, `vmlinuz-${v}`)) && existsSync(path.join(dirs.modules, v, 'modules.dep')));
  } catch {
    // no module folder at all: the message below
  }
  const version = versions.sort().at(-1);
  if (!version) return `no ${dirs.boot}/vmlinuz-V with its ${dirs.modules}/V/modules.dep (a Debian kernel package: linux-image-amd64)`;
  const vmlinuz = path.join(dirs.boot, `vmlinuz-${version}`);
  try {
    accessSync(vmlinuz, constants.R_OK);
  } catch {
    return `${vmlinuz} is not readable by this user (run the tests as root, or make it readable: chmod a+r ${vmlinuz})`;
  }
  const modulesDir = path.join(dirs.modules, version);
  if (/\.ko\.zst:/.test(readFileSync(path.join(modulesDir, 'modules.dep'), 'utf8')) && !onPath('zstd')) {
    return `the modules of ${version} are zstd-compressed (.ko.zst) and zstd is not installed (install zstd)`;
  }
  return { vmlinuz, version, modulesDir };
}

/** The newest usable host kernel (hostKernel), or null. */
export function findHostKernel(dirs: KernelDirs = HOST_DIRS): HostKernel | null {
  const k = hostKernel(dirs);
  return typeof k === 'string' ? null : k;
}

const onPath = (cmd: string) => (process.env.PATH ?? '').split(':').some((d) => d && existsSync(path.join(d, cmd)));

/**
 * A module file as the guest's insmod can load it: name and contents. Plain, .gz and .xz files go
 * in as they are (busybox's insmod unpacks gzip and xz); a .ko.zst is unpacked with zstd, which
 * busybox cannot do, and goes in as .ko. Throws when zstd fails.
 */
export function moduleFile(file: string): { name: string; data: Buffer } {
  const base = path.basename(file);
  if (!base.endsWith('.ko.zst')) return { name: base, data: readFileSync(file) };
  const r = spawnSync('zstd', ['-dcq', file], { maxBuffer: 256 << 20 });
  if (r.status !== 0) throw new Error(`zstd -d ${file} failed: ${r.error?.message ?? r.stderr.toString().trim()}`);
  return { name: base.slice(0, -'.zst'.length), data: r.stdout };
}

/** Where Debian's busybox-static puts its binary. */
export const BUSYBOX_CANDIDATES = ['/bin/busybox', '/usr/bin/busybox'];

/** The static busybox to put in a guest, or undefined when busybox-static is not installed. */
export function findBusybox(): string | undefined {
  return BUSYBOX_CANDIDATES.find((p) => existsSync(p));
}

/**
 * Module files (relative to /lib/modules/`version`) for the modules named in `targets` and their
 * dependencies, in load order (dependencies first, each once). A target missing from modules.dep
 * is taken as built into the kernel and skipped; a missing dependency throws.
 */
export function moduleClosure(version: string, targets: string[], dirs: KernelDirs = HOST_DIRS): string[] {
  const dep = new Map<string, string[]>();
  for (const line of readFileSync(path.join(dirs.modules, version, 'modules.dep'), 'utf8').split('\n')) {
    const [mod, deps] = line.split(':');
    if (mod) dep.set(path.basename(mod).replace(/\.ko(\.\w+)?$/, ''), [mod, ...(deps ?? '').trim().split(/\s+/).filter(Boolean)]);
  }
  const order: string[] = [];
  const visit = (file: string) => {
    const name = path.basename(file).replace(/\.ko(\.\w+)?$/, '');
    const entry = dep.get(name);
    if (!entry) throw new Error(`module ${name} not in modules.dep of ${version}`);
    for (const d of entry.slice(1)) visit(d);
    if (!order.includes(entry[0])) order.push(entry[0]);
  };
  for (const t of targets) {
    if (dep.has(t)) visit(t); // absent = built into the kernel
  }
  return order;
}

/** One archive member. `mode` carries the file type bits (0o100000 file, 0o040000 dir, 0o120000 link, 0o020000 char device). */
export interface CpioEntry {
  name: string;
  mode: number;
  /** A file's contents. */
  data?: Buffer;
  /** A symbolic link's target (the link's body). */
  target?: string;
  /** A device's [major, minor]. */
  rdev?: [number, number];
}

/**
 * A "newc" cpio archive of `entries` in order, closed by the TRAILER!!! entry: what the kernel
 * unpacks as an initramfs. Owners are root, every entry has one link, inode numbers count from 1.
 */
export function cpioNewc(entries: CpioEntry[]): Buffer {
  const parts: Buffer[] = [];
  const pad4 = (n: number) => Buffer.alloc((4 - (n % 4)) % 4);
  const hex = (n: number) => n.toString(16).padStart(8, '0');
  let ino = 1;
  const push = (name: string, mode: number, body: Buffer, [major, minor]: [number, number] = [0, 0]) => {
    const nameBuf = Buffer.from(`${name}\0`);
    // ino mode uid gid nlink mtime filesize devmajor devminor rdevmajor rdevminor namesize check
    const fields = [ino++, mode, 0, 0, 1, 0, body.length, 0, 0, major, minor, nameBuf.length, 0];
    const header = Buffer.from(`070701${fields.map(hex).join('')}`);
    parts.push(header, nameBuf, pad4(header.length + nameBuf.length), body, pad4(body.length));
  };
  for (const e of entries) push(e.name, e.mode, e.target !== undefined ? Buffer.from(e.target) : (e.data ?? Buffer.alloc(0)), e.rdev);
  push('TRAILER!!!', 0, Buffer.alloc(0));
  return Buffer.concat(parts);
}

/** The first lines of every guest's /init: busybox's applets on PATH, /proc, /sys and /dev mounted, all output to the serial port. */
export const INIT_START = `#!/bin/sh
export PATH=/bin
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
exec >/dev/ttyS0 2>&1
`;

/** /init lines that load /modules in their order, saying "<tag> insmod M failed" for each that does not load. */
export function initLoadModules(tag: string): string {
  return `for m in $(cat /modules/order); do insmod /modules/$m || echo "${tag} insmod $m failed"; done\n`;
}

/**
 * /init lines that wait (up to 60 s) until a keyboard and a mouse have evdev handlers, then print
 * the devices' N: (name) and H: (handlers) lines of /proc/bus/input/devices as "<tag> N: ..." and
 * "<tag> H: ..." (in that order per device).
 */
export function initWaitForInput(tag: string): string {
  return `i=0
while [ $i -lt 600 ]; do
  if grep -q 'Handlers=.*kbd.*event' /proc/bus/input/devices && grep -q 'Handlers=mouse.*event' /proc/bus/input/devices; then break; fi
  sleep 0.1
  i=$((i+1))
done
grep -E '^(N|H):' /proc/bus/input/devices | sed 's/^/${tag} /'
`;
}

/** The modules the host share needs in the guest (virtio PCI transport and 9p over it). */
export const HOST_SHARE_MODULES = ['virtio_pci', '9p', '9pnet_virtio'];

/** What a guest needs to run the host's own node and the built project (see hostShare). */
export interface HostShare {
  /** The host's node binary as the guest sees it after the chroot. */
  guestNode: string;
  /** /init lines that build /newroot from the shares and mount /proc, /sys, /dev, /tmp and /run there; "<tag> mount X failed" on a failure. */
  init: string;
  /** QEMU arguments for the read-only 9p shares (tags usr, proj, and node when node lives outside /usr). */
  qemuArgs: string[];
}

/**
 * Shares the host's /usr and the project at `project` with the guest read-only over 9p, so that
 * after `chroot /newroot` the guest runs the host's own node (the same binary, so the same addon
 * ABI) on the built project, at /glasspane whatever its host path (a checkout under /tmp would be
 * hidden by the guest's /tmp). A node outside /usr (nvm, a tarball) gets its install directory
 * shared too, at /opt/node. The guest needs HOST_SHARE_MODULES loaded before `init` runs.
 */
export function hostShare(project: string, tag: string): HostShare {
  const mount = 'trans=virtio,version=9p2000.L,ro,msize=262144,cache=loose';
  const nodeInUsr = process.execPath.startsWith('/usr/');
  const nodeHome = path.dirname(path.dirname(process.execPath));
  const guestNode = nodeInUsr ? process.execPath : `/opt/node/bin/${path.basename(process.execPath)}`;
  const nodeMount = nodeInUsr ? '' : `mkdir -p /newroot/opt/node && mount -t 9p -o ${mount} node /newroot/opt/node || echo "${tag} mount node failed"\n`;
  const init = `cd /newroot
mkdir -p usr glasspane proc sys dev tmp run etc
ln -s usr/lib lib; ln -s usr/lib64 lib64; ln -s usr/bin bin; ln -s usr/sbin sbin
mount -t 9p -o ${mount} usr /newroot/usr || echo "${tag} mount usr failed"
mount -t 9p -o ${mount} proj /newroot/glasspane || echo "${tag} mount proj failed"
${nodeMount}mount -t proc proc /newroot/proc
mount -t sysfs sys /newroot/sys
mount -t devtmpfs dev /newroot/dev
mount -t tmpfs tmp /newroot/tmp
mount -t tmpfs run /newroot/run
`;
  const share = (dir: string, tag: string) => ['-virtfs', `local,path=${dir},mount_tag=${tag},security_model=none,readonly=on`];
  const qemuArgs = [...share('/usr', 'usr'), ...share(project, 'proj'), ...(nodeInUsr ? [] : share(nodeHome, 'node'))];
  return { guestNode, init, qemuArgs };
}

/** A file a test adds to the initramfs root. */
export interface ExtraFile {
  name: string;
  data: Buffer;
  executable?: boolean;
}

export interface InitramfsOptions {
  /** The static busybox binary (findBusybox). */
  busybox: string;
  /** The kernel version whose /lib/modules the modules come from. */
  version: string;
  /** Where that version's module folder is (default: the host's, /lib/modules). */
  dirs?: KernelDirs;
  /** Module files relative to /lib/modules/`version`, in load order (moduleClosure). */
  modules: string[];
  /** The /init script, usually INIT_START + initLoadModules(tag) + the test's lines. */
  init: string;
  files?: ExtraFile[];
}

/**
 * Writes the initramfs to `file`: the directories /dev /proc /sys /bin /modules /newroot /tmp,
 * /dev/console, busybox as /bin/busybox and /bin/sh, `init` as /init, the modules under /modules
 * with their names in /modules/order, and `files` at the root. Throws when a file cannot be read.
 */
export function writeInitramfs(file: string, o: InitramfsOptions): void {
  const dirs = ['dev', 'proc', 'sys', 'bin', 'modules', 'newroot', 'tmp'];
  const entries: CpioEntry[] = dirs.map((d) => ({ name: d, mode: 0o040755 }));
  entries.push({ name: 'dev/console', mode: 0o020600, rdev: [5, 1] });
  entries.push({ name: 'bin/busybox', mode: 0o100755, data: readFileSync(o.busybox) });
  entries.push({ name: 'bin/sh', mode: 0o120777, target: 'busybox' });
  entries.push({ name: 'init', mode: 0o100755, data: Buffer.from(o.init) });
  const order: string[] = [];
  for (const m of o.modules) {
    const { name, data } = moduleFile(path.join((o.dirs ?? HOST_DIRS).modules, o.version, m));
    entries.push({ name: `modules/${name}`, mode: 0o100644, data });
    order.push(name);
  }
  entries.push({ name: 'modules/order', mode: 0o100644, data: Buffer.from(`${order.join('\n')}\n`) });
  for (const f of o.files ?? []) entries.push({ name: f.name, mode: f.executable ? 0o100755 : 0o100644, data: f.data });
  writeFileSync(file, cpioNewc(entries));
}
