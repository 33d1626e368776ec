/**
 * Builds a tiny initramfs for a real-kernel test guest: static busybox, the 9p/virtio modules of
 * the host's Debian kernel (so the guest can mount /usr and the project over 9p and run the
 * host's own node), and an /init script. The guest runs the host's kernel, so its
 * /usr/lib/modules (seen over 9p) matches and `modprobe vfio-pci` works inside it.
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/** Newest /boot/vmlinuz-X whose /lib/modules/X exists, or null. */
export function findHostKernel(): { vmlinuz: string; version: string } | null {
  let versions: string[] = [];
  try {
    versions = readdirSync('/lib/modules').filter((v) => existsSync(`/boot/vmlinuz-${v}`)).sort();
  } catch {
    return null;
  }
  const v = versions.at(-1);
  if (!v) return null;
  try {
    readFileSync(`/boot/vmlinuz-${v}`, { flag: 'r' }).subarray(0, 1);
  } catch {
    return null; // not readable by this user
  }
  return { vmlinuz: `/boot/vmlinuz-${v}`, version: v };
}

export const BUSYBOX_CANDIDATES = ['/bin/busybox', '/usr/bin/busybox'];

/** Module files (relative to /lib/modules/V) for `targets` and their dependencies, load order. */
export function moduleClosure(version: string, targets: string[]): string[] {
  const dep = new Map<string, string[]>();
  for (const line of readFileSync(`/lib/modules/${version}/modules.dep`, 'utf8').split('\n')) {
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

interface Entry {
  name: string;
  mode: number;
  data?: Buffer;
  target?: string;
}

/** A "newc" cpio archive (what the kernel unpacks as initramfs). */
export function cpioNewc(entries: Entry[]): Buffer {
  const parts: Buffer[] = [];
  const pad4 = (n: number) => Buffer.alloc((4 - (n % 4)) % 4);
  let ino = 1;
  const push = (name: string, mode: number, body: Buffer) => {
    const nameBuf = Buffer.from(`${name}\0`);
    const hex = (n: number) => n.toString(16).padStart(8, '0');
    const header = `070701${hex(ino++)}${hex(mode)}${hex(0)}${hex(0)}${hex(1)}${hex(0)}${hex(body.length)}${hex(0)}${hex(0)}${hex(0)}${hex(0)}${hex(nameBuf.length)}${hex(0)}`;
    parts.push(Buffer.from(header), nameBuf, pad4(110 + nameBuf.length), body, pad4(body.length));
  };
  for (const e of entries) push(e.name, e.mode, e.target !== undefined ? Buffer.from(e.target) : (e.data ?? Buffer.alloc(0)));
  push('TRAILER!!!', 0, Buffer.alloc(0));
  return Buffer.concat(parts);
}

export function writeInitramfs(file: string, opts: { busybox: string; version: string; modules: string[]; init: string }): void {
  const dirs = ['dev', 'proc', 'sys', 'bin', 'modules', 'newroot', 'tmp'];
  const entries: Entry[] = dirs.map((d) => ({ name: d, mode: 0o040755 }));
  entries.push({ name: 'bin/busybox', mode: 0o100755, data: readFileSync(opts.busybox) });
  entries.push({ name: 'bin/sh', mode: 0o120777, target: 'busybox' });
  entries.push({ name: 'init', mode: 0o100755, data: Buffer.from(opts.init) });
  const order: string[] = [];
  for (const m of opts.modules) {
    const base = path.basename(m);
    entries.push({ name: `modules/${base}`, mode: 0o100644, data: readFileSync(`/lib/modules/${opts.version}/${m}`) });
    order.push(base);
  }
  entries.push({ name: 'modules/order', mode: 0o100644, data: Buffer.from(`${order.join('\n')}\n`) });
  writeFileSync(file, cpioNewc(entries));
}
