/**
 * A fake host tree (sysfs, /proc, /dev) in a temp dir, laid out like the real one, plus a fake
 * kernel that gives writes their sysfs meaning (driver_override, unbind, bind, drivers_probe)
 * and can inject failures. A "hang" fault is real: the write goes through the production
 * ChildProcessWriter to a FIFO nobody reads, so the child truly blocks and the timeout fires.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, lstatSync, symlinkSync, unlinkSync, writeFileSync, existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { HostRoot } from '../../src/vm/host-root.js';
import { ChildProcessWriter, SysfsWriteError, type SysfsWriter } from '../../src/vm/sysfs-writer.js';

export interface FakeDevice {
  address: string;
  class: string;
  vendor: string;
  device: string;
  driver?: string | null;
  group?: number | null;
  bootVga?: boolean;
  resetMethods?: string;
}

export interface FakeHostSpec {
  devices: FakeDevice[];
  /** Drivers present under /sys/bus/pci/drivers. vfio-pci is added unless noVfio. */
  drivers?: string[];
  noVfio?: boolean;
  files?: Record<string, string>;
}

export function makeTempDir(prefix = 'glasspane-vm-'): string {
  return mkdtempSync(path.join(os.tmpdir(), prefix));
}

function put(root: string, hostPath: string, content: string): void {
  const p = path.join(root, hostPath);
  mkdirSync(path.dirname(p), { recursive: true });
  writeFileSync(p, content);
}

function link(root: string, hostPath: string, target: string): void {
  const p = path.join(root, hostPath);
  mkdirSync(path.dirname(p), { recursive: true });
  symlinkSync(target, p);
}

/** Creates the tree; returns its root directory. */
export function makeFakeHost(spec: FakeHostSpec, root = makeTempDir()): string {
  const drivers = new Set(spec.drivers ?? []);
  if (!spec.noVfio) drivers.add('vfio-pci');
  for (const d of spec.devices) if (d.driver) drivers.add(d.driver);
  for (const drv of drivers) {
    for (const f of ['bind', 'unbind', 'new_id']) put(root, `/sys/bus/pci/drivers/${drv}/${f}`, '');
  }
  put(root, '/sys/bus/pci/drivers_probe', '');
  put(root, '/sys/bus/pci/rescan', '');
  for (const d of spec.devices) {
    const dir = `/sys/bus/pci/devices/${d.address}`;
    put(root, `${dir}/vendor`, `${d.vendor}\n`);
    put(root, `${dir}/device`, `${d.device}\n`);
    put(root, `${dir}/class`, `${d.class}\n`);
    put(root, `${dir}/driver_override`, '(null)\n');
    put(root, `${dir}/reset_method`, `${d.resetMethods ?? 'flr bus'}\n`);
    put(root, `${dir}/remove`, '');
    if ((parseInt(d.class, 16) >> 16) === 3) put(root, `${dir}/boot_vga`, d.bootVga ? '1\n' : '0\n');
    if (d.driver) bindLinks(root, d.address, d.driver);
    if (d.group !== null && d.group !== undefined) {
      link(root, `${dir}/iommu_group`, `../../../../kernel/iommu_groups/${d.group}`);
      link(root, `/sys/kernel/iommu_groups/${d.group}/devices/${d.address}`, `../../../../bus/pci/devices/${d.address}`);
    }
  }
  for (const [p, content] of Object.entries(spec.files ?? {})) put(root, p, content);
  return root;
}

function bindLinks(root: string, address: string, driver: string): void {
  link(root, `/sys/bus/pci/devices/${address}/driver`, `../../drivers/${driver}`);
  link(root, `/sys/bus/pci/drivers/${driver}/${address}`, `../../devices/${address}`);
}

function unbindLinks(root: string, address: string, driver: string): void {
  unlinkSync(path.join(root, `/sys/bus/pci/devices/${address}/driver`));
  rmSync(path.join(root, `/sys/bus/pci/drivers/${driver}/${address}`), { force: true });
}

/** Every file's content and every link's target, for "the tree is back to its original state". */
export function snapshotTree(root: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const p = path.join(dir, name);
      const rel = path.relative(root, p);
      const st = lstatSync(p);
      if (st.isSymbolicLink()) out[rel] = `-> ${readlinkSync(p)}`;
      else if (st.isDirectory()) walk(p);
      else if (st.isFile()) out[rel] = readFileSync(p, 'utf8');
      else out[rel] = 'special';
    }
  };
  walk(root);
  return out;
}

export interface Fault {
  /** Matches when the host path ends with this string. */
  pathEndsWith: string;
  /** Only when the written value equals this (trimmed). */
  value?: string;
  /** EBUSY / ENODEV / ... → the write fails; "hang" → never returns; "noop" → succeeds, does nothing. */
  effect: string;
  /** How many times it fires (default: always). */
  times?: number;
}

/**
 * Driver matching of the fake kernel: `matches[driver]` lists "vendor/class-byte" pairs it claims
 * (vfio-pci and pci-stub only ever bind through driver_override).
 */
export class FakeKernel implements SysfsWriter {
  readonly log: { path: string; value: string }[] = [];
  private readonly host: HostRoot;
  private readonly hangWriter: ChildProcessWriter;
  private readonly fifoDir: string;

  constructor(
    readonly root: string,
    readonly matches: Record<string, string[]>,
    readonly faults: Fault[] = [],
    hangTimeoutMs = 300,
  ) {
    this.host = new HostRoot(root);
    this.fifoDir = makeTempDir('glasspane-fifo-');
    execFileSync('mkfifo', [path.join(this.fifoDir, 'never-read')]);
    this.hangWriter = new ChildProcessWriter(new HostRoot(this.fifoDir), hangTimeoutMs);
  }

  dispose(): void {
    rmSync(this.fifoDir, { recursive: true, force: true });
  }

  async write(hostPath: string, value: string): Promise<void> {
    this.log.push({ path: hostPath, value });
    const fault = this.faults.find((f) => hostPath.endsWith(f.pathEndsWith) && (f.value === undefined || f.value === value.trim()) && (f.times ?? 1) > 0);
    if (fault) {
      if (fault.times !== undefined) fault.times -= 1;
      if (fault.effect === 'hang') return this.hangWriter.write('/never-read', value);
      if (fault.effect === 'noop') return;
      throw new SysfsWriteError(fault.effect, hostPath, value);
    }
    this.apply(hostPath, value.trim());
  }

  private driverOf(address: string): string | null {
    const p = path.join(this.root, `/sys/bus/pci/devices/${address}/driver`);
    return existsSync(p) || isLink(p) ? path.basename(readlinkSync(p)) : null;
  }

  private deviceExists(address: string): boolean {
    return existsSync(path.join(this.root, `/sys/bus/pci/devices/${address}/vendor`));
  }

  private tryBind(address: string, driver: string, explicit: boolean): void {
    const dir = path.join(this.root, `/sys/bus/pci/devices/${address}`);
    const override = readFileSync(`${dir}/driver_override`, 'utf8').trim();
    const vendor = readFileSync(`${dir}/vendor`, 'utf8').trim();
    const cls = readFileSync(`${dir}/class`, 'utf8').trim().slice(2, 4);
    const allowed = override !== '(null)' ? override === driver : (this.matches[driver] ?? []).includes(`${vendor}/${cls}`);
    if (!allowed) {
      if (explicit) throw new SysfsWriteError('ENODEV', `/sys/bus/pci/drivers/${driver}/bind`, address);
      return;
    }
    bindLinks(this.root, address, driver);
  }

  private apply(hostPath: string, value: string): void {
    let m: RegExpExecArray | null;
    if ((m = /^\/sys\/bus\/pci\/devices\/([^/]+)\/driver_override$/.exec(hostPath))) {
      writeFileSync(path.join(this.root, hostPath), value === '' ? '(null)\n' : `${value}\n`);
    } else if ((m = /^\/sys\/bus\/pci\/devices\/([^/]+)\/driver\/unbind$/.exec(hostPath))) {
      const drv = this.driverOf(m[1]);
      if (!drv) throw new SysfsWriteError('ENOENT', hostPath, value);
      unbindLinks(this.root, value, drv);
    } else if ((m = /^\/sys\/bus\/pci\/drivers\/([^/]+)\/unbind$/.exec(hostPath))) {
      if (!this.deviceExists(value) || this.driverOf(value) !== m[1]) throw new SysfsWriteError('ENODEV', hostPath, value);
      unbindLinks(this.root, value, m[1]);
    } else if ((m = /^\/sys\/bus\/pci\/drivers\/([^/]+)\/bind$/.exec(hostPath))) {
      if (!this.deviceExists(value)) throw new SysfsWriteError('ENODEV', hostPath, value);
      if (this.driverOf(value)) throw new SysfsWriteError('EBUSY', hostPath, value);
      this.tryBind(value, m[1], true);
    } else if (hostPath === '/sys/bus/pci/drivers_probe') {
      if (!this.deviceExists(value)) throw new SysfsWriteError('ENODEV', hostPath, value);
      if (this.driverOf(value)) return;
      const override = readFileSync(path.join(this.root, `/sys/bus/pci/devices/${value}/driver_override`), 'utf8').trim();
      const candidates = override !== '(null)' ? [override] : Object.keys(this.matches);
      for (const drv of candidates) {
        if (!existsSync(path.join(this.root, `/sys/bus/pci/drivers/${drv}`))) continue;
        this.tryBind(value, drv, false);
        if (this.driverOf(value)) return;
      }
    } else if ((m = /^\/sys\/bus\/platform\/drivers\/([^/]+)\/(bind|unbind)$/.exec(hostPath))) {
      const p = path.join(this.root, `/sys/bus/platform/drivers/${m[1]}/${value}`);
      if (m[2] === 'unbind') rmSync(p, { recursive: true });
      else mkdirSync(p);
    } else {
      writeFileSync(path.join(this.root, hostPath), `${value}\n`);
    }
  }
}

function isLink(p: string): boolean {
  try {
    return lstatSync(p).isSymbolicLink();
  } catch {
    return false;
  }
}

/** The AMD dual-GPU host of the first seed article, reduced to what matters. */
export function amdDualGpuHost(extra: Partial<FakeHostSpec> = {}): FakeHostSpec {
  return {
    devices: [
      { address: '0000:00:01.0', class: '0x060400', vendor: '0x1022', device: '0x1483', driver: 'pcieport', group: 2 },
      { address: '0000:2f:00.0', class: '0x030000', vendor: '0x1002', device: '0x73df', driver: 'amdgpu', group: 28 },
      { address: '0000:2f:00.1', class: '0x040300', vendor: '0x1002', device: '0xab28', driver: 'snd_hda_intel', group: 29 },
      { address: '0000:32:00.0', class: '0x030000', vendor: '0x1002', device: '0x73ff', driver: 'amdgpu', group: 32, bootVga: true },
      { address: '0000:32:00.1', class: '0x040300', vendor: '0x1002', device: '0xab28', driver: 'snd_hda_intel', group: 33 },
      { address: '0000:23:00.0', class: '0x010802', vendor: '0x144d', device: '0xa808', driver: 'nvme', group: 23 },
      { address: '0000:34:00.3', class: '0x0c0330', vendor: '0x1022', device: '0x149c', driver: 'xhci_hcd', group: 36 },
      { address: '0000:30:00.0', class: '0x020000', vendor: '0x10ec', device: '0x8168', driver: 'r8169', group: 40 },
      { address: '0000:31:00.0', class: '0x0c0330', vendor: '0x1022', device: '0x149c', driver: 'xhci_hcd', group: 40 },
    ],
    ...extra,
  };
}

/** Which vendor ids each fake driver claims on drivers_probe. */
export const AMD_MATCHES: Record<string, string[]> = {
  amdgpu: ['0x1002/03'],
  snd_hda_intel: ['0x1002/04'],
  nvme: ['0x144d/01'],
  xhci_hcd: ['0x1022/0c'],
  r8169: ['0x10ec/02'],
  pcieport: ['0x1022/06'],
};
