/**
 * Lending PCI devices to vfio-pci, before any write: the words both directions share (the
 * context, a planned write) and the plan of a bind, made of pure reads so that --dry-run and the
 * real run cannot disagree. vfio.ts carries the plan out; vfio-restore.ts gives devices back.
 */
import { GlasspaneError } from '../errors.js';
import type { HostRoot } from './host-root.js';
import { readFramebufferOwners } from './iomem.js';
import { newJournal, type Journal } from './journal.js';
import { groupMembers, isBridge, normalizePciAddress, PCI_DEVICES, PCI_DRIVERS, requirePciDevice, VFIO_SAFE_DRIVERS, type PciDevice } from './pci.js';
import type { SysfsWriter } from './sysfs-writer.js';

/** The driver devices are lent to. */
export const VFIO_DRIVER = 'vfio-pci';
/** Writing an address here makes the kernel look for a driver for that device. */
export const DRIVERS_PROBE = '/sys/bus/pci/drivers_probe';
const VTCONSOLES = '/sys/class/vtconsole';
/** Where the firmware framebuffer drivers (platform devices) are bound and unbound. */
export const PLATFORM_DRIVERS = '/sys/bus/platform/drivers';
/** Firmware framebuffer drivers old recipes unbind (efifb kernels, simpledrm kernels, vesafb). */
const FRAMEBUFFER_DRIVERS = ['efi-framebuffer', 'simple-framebuffer', 'vesa-framebuffer'];

/**
 * Where the vfio operations read (`host`), write (`writer`: the real child-process writer, or the
 * recording one for --dry-run) and keep their journal. Main thread; every write is awaited in
 * order.
 */
export interface VfioContext {
  host: HostRoot;
  writer: SysfsWriter;
  /** Real path of the journal file (not under the host prefix). */
  journalPath: string;
  /** Progress lines for the user. */
  log?: (line: string) => void;
}

/** One planned sysfs write, with the reason shown by --dry-run. */
export interface PlannedWrite {
  path: string;
  value: string;
  why: string;
}

/** Opt-ins of bindDevices()/planBind() beyond the safe default. */
export interface BindOptions {
  /** Allow lending the boot GPU or the device under the active framebuffer. */
  forceBootGpu?: boolean;
  /** Also unbind efi/simple framebuffer and framebuffer vtconsoles (opt-in, seed recipe). */
  unbindConsole?: boolean;
  /** Journal owner label ("vfio", "vm:NAME"). */
  owner?: string;
}

/**
 * What bindDevices() will do (or did): the devices as they were, the writes in order, and the
 * journal that records the original state. Built by planBind() from reads only.
 */
export interface BindPlan {
  /** Original state of every requested device, in the order given. */
  devices: PciDevice[];
  /** Writes for the console/framebuffer step (empty unless unbindConsole). */
  consoleWrites: PlannedWrite[];
  /** Per device, in order. */
  deviceWrites: PlannedWrite[][];
  journal: Journal;
}

/**
 * The addresses in canonical form (normalizePciAddress). Throws ERR_USAGE for an empty list or a
 * device named twice, and what normalizePciAddress throws for a malformed address.
 */
export function normalizeAll(addresses: string[]): string[] {
  if (addresses.length === 0) {
    throw new GlasspaneError('ERR_USAGE', 'no PCI address given', 'name the devices, e.g. `glasspane vfio bind 0000:2f:00.0 0000:2f:00.1`');
  }
  const out = addresses.map(normalizePciAddress);
  const dup = out.find((a, i) => out.indexOf(a) !== i);
  if (dup) throw new GlasspaneError('ERR_USAGE', `${dup} is listed twice`, 'name each device once');
  return out;
}

/** Writes that move one device onto vfio-pci, from its current state. */
export function planDeviceBind(dev: PciDevice): PlannedWrite[] {
  const dir = `${PCI_DEVICES}/${dev.address}`;
  const writes: PlannedWrite[] = [];
  if (dev.driver === VFIO_DRIVER) return writes;
  if (dev.driverOverride !== VFIO_DRIVER) {
    writes.push({ path: `${dir}/driver_override`, value: VFIO_DRIVER, why: 'only vfio-pci may bind it (works for two identical cards, unlike new_id)' });
  }
  if (dev.driver) writes.push({ path: `${dir}/driver/unbind`, value: dev.address, why: `release it from ${dev.driver}` });
  writes.push({ path: DRIVERS_PROBE, value: dev.address, why: 'let the kernel bind vfio-pci (then re-read driver)' });
  return writes;
}

async function planConsoleUnbind(host: HostRoot, journal: Journal): Promise<PlannedWrite[]> {
  const writes: PlannedWrite[] = [];
  for (const con of await host.list(VTCONSOLES)) {
    const bind = await host.read(`${VTCONSOLES}/${con}/bind`);
    const name = (await host.read(`${VTCONSOLES}/${con}/name`)) ?? '';
    if (bind === '1' && /frame ?buffer/i.test(name)) {
      journal.consoles.push({ path: `${VTCONSOLES}/${con}/bind`, value: '1' });
      writes.push({ path: `${VTCONSOLES}/${con}/bind`, value: '0', why: `detach the console from ${name}` });
    }
  }
  for (const driver of FRAMEBUFFER_DRIVERS) {
    const device = `${driver}.0`;
    if (await host.exists(`${PLATFORM_DRIVERS}/${driver}/${device}`)) {
      journal.framebuffers.push({ driver, device });
      writes.push({ path: `${PLATFORM_DRIVERS}/${driver}/unbind`, value: device, why: 'release the firmware framebuffer' });
    }
  }
  return writes;
}

/** A plan with everything that would refuse it, most fundamental first (what planBindChecked() returns). */
export interface CheckedBindPlan {
  plan: BindPlan;
  /** Each one a GlasspaneError with the device, the reason and the fix; empty when the bind may go ahead. */
  blockers: GlasspaneError[];
}

/**
 * Plans the bind from reads only and collects every blocker instead of stopping at the first, so
 * `--dry-run` can show the whole plan and all that stands in its way. Blockers, in the order a
 * user must fix them: no IOMMU group (the IOMMU is off: nothing else matters yet), a group that
 * would not be viable, the boot GPU / framebuffer device, vfio-pci not loaded. Throws only for
 * what leaves nothing to plan: a malformed, duplicate or missing address.
 */
export async function planBindChecked(host: HostRoot, addresses: string[], opts: BindOptions = {}): Promise<CheckedBindPlan> {
  const wanted = normalizeAll(addresses);
  const devices: PciDevice[] = [];
  for (const a of wanted) devices.push(await requirePciDevice(host, a));
  const blockers: GlasspaneError[] = [];

  const fbOwners = await readFramebufferOwners(host);
  const groups = new Map<number, PciDevice[]>();
  for (const dev of devices) {
    if (dev.iommuGroup === null) {
      blockers.push(
        new GlasspaneError(
          'ERR_NO_IOMMU_GROUP',
          `${dev.address} has no IOMMU group: the IOMMU is off`,
          'enable VT-d/AMD-Vi in the firmware and boot with intel_iommu=on (Intel); check with `glasspane doctor`',
        ),
      );
    } else if (!groups.has(dev.iommuGroup)) {
      groups.set(dev.iommuGroup, await groupMembers(host, dev.iommuGroup));
    }
  }

  for (const [group, members] of groups) {
    const others = members.filter((m) => !wanted.includes(m.address) && !isBridge(m) && !VFIO_SAFE_DRIVERS.includes(m.driver));
    if (others.length > 0) {
      const list = others.map((b) => `${b.address} (${b.driver})`).join(', ');
      blockers.push(
        new GlasspaneError(
          'ERR_GROUP_NOT_VIABLE',
          `IOMMU group ${group} also holds ${list}; QEMU would fail with "group ${group} is not viable"`,
          `lend the whole group: add ${others.map((b) => b.address).join(' ')} to the command (or move the card to another slot)`,
        ),
      );
    }
    if (opts.forceBootGpu) continue;
    for (const m of members) {
      const why = m.bootVga ? 'is the boot GPU (boot_vga=1)' : fbOwners?.has(m.address) ? 'scans out the active framebuffer (/proc/iomem)' : null;
      if (why) {
        blockers.push(
          new GlasspaneError(
            'ERR_BOOT_GPU',
            `${m.address} in IOMMU group ${group} ${why}; taking it would leave the host without a display`,
            'pass through the other GPU, make the other card the boot GPU in the firmware setup, or add --force-boot-gpu if the host has another screen',
          ),
        );
      }
    }
  }

  if (!(await host.exists(`${PCI_DRIVERS}/${VFIO_DRIVER}`)) && devices.some((d) => d.driver !== VFIO_DRIVER)) {
    blockers.push(new GlasspaneError('ERR_VFIO_DRIVER_MISSING', 'the vfio-pci driver is not loaded', 'run `modprobe vfio-pci` (and add it to /etc/modules-load.d)'));
  }

  const journal = newJournal(opts.owner ?? 'vfio', host.root);
  journal.devices = devices.map((d) => ({ address: d.address, driver: d.driver, driverOverride: d.driverOverride }));
  const consoleWrites = opts.unbindConsole ? await planConsoleUnbind(host, journal) : [];
  return { plan: { devices, consoleWrites, deviceWrites: devices.map(planDeviceBind), journal }, blockers };
}

/**
 * Checks everything that can be checked without writing and returns the plan. Throws a
 * GlasspaneError naming the device and the fix for: bad or missing address, and the first
 * blocker of planBindChecked() (no IOMMU group, a group that would not be viable, the boot GPU /
 * framebuffer device, vfio-pci not loaded).
 */
export async function planBind(host: HostRoot, addresses: string[], opts: BindOptions = {}): Promise<BindPlan> {
  const { plan, blockers } = await planBindChecked(host, addresses, opts);
  if (blockers.length) throw blockers[0];
  return plan;
}

/** Blockers as `--dry-run` prints them: `# blocked: WHAT` and `#   fix: WHAT TO DO`, for each. */
export function formatBlockers(blockers: readonly GlasspaneError[]): string {
  return blockers.map((b) => `# blocked: ${b.message}\n#   fix: ${b.fix}`).join('\n');
}

/** Every write of a plan in execution order (for --dry-run). */
export function planWrites(plan: BindPlan): PlannedWrite[] {
  return [...plan.consoleWrites, ...plan.deviceWrites.flat()];
}
