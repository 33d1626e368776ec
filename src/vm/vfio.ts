/**
 * Lending PCI devices to vfio-pci and giving them back, safely.
 *
 * Order (what libvirt does; docs/vm.md "vfio"): driver_override ← "vfio-pci" → unbind from the
 * current driver → drivers_probe → re-read `driver` (drivers_probe reports success even when
 * nothing bound). Before the first write the original state goes to the journal; any failure rolls every
 * device back to that state, and the journal stays on disk until the host is whole again.
 *
 * Giving back runs in two phases over all devices: first every device leaves vfio-pci, then each
 * is probed. Kernels ≥ 5.19 refuse (EBUSY) to bind a host driver to any member of a group VFIO
 * still owns, so probing the GPU's audio function before the GPU left vfio-pci would fail.
 */
import { debuglog } from 'node:util';
import { GlasspaneError } from '../errors.js';
import type { HostRoot } from './host-root.js';
import { readFramebufferOwners } from './iomem.js';
import { newJournal, readJournal, removeJournal, writeJournal, type Journal, type JournalDevice } from './journal.js';
import {
  groupMembers,
  isBridge,
  normalizePciAddress,
  PCI_DEVICES,
  PCI_DRIVERS,
  readPciDevice,
  requirePciDevice,
  VFIO_SAFE_DRIVERS,
  type PciDevice,
} from './pci.js';
import type { SysfsWriter } from './sysfs-writer.js';

const debug = debuglog('glasspane:vm');

/** The driver devices are lent to. */
export const VFIO_DRIVER = 'vfio-pci';
const DRIVERS_PROBE = '/sys/bus/pci/drivers_probe';
const VTCONSOLES = '/sys/class/vtconsole';
const PLATFORM_DRIVERS = '/sys/bus/platform/drivers';
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

// ---------------------------------------------------------------------------------------------
// Planning (pure reads; shared by --dry-run and the real run so they cannot disagree)

function normalizeAll(addresses: string[]): string[] {
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

/**
 * Checks everything that can be checked without writing and returns the plan. Throws a
 * GlasspaneError naming the device and the fix for: bad or missing address, no IOMMU group,
 * a group that would not be viable, the boot GPU / framebuffer device, vfio-pci not loaded.
 */
export async function planBind(host: HostRoot, addresses: string[], opts: BindOptions = {}): Promise<BindPlan> {
  const wanted = normalizeAll(addresses);
  const devices: PciDevice[] = [];
  for (const a of wanted) devices.push(await requirePciDevice(host, a));

  if (!(await host.exists(`${PCI_DRIVERS}/${VFIO_DRIVER}`)) && devices.some((d) => d.driver !== VFIO_DRIVER)) {
    throw new GlasspaneError('ERR_VFIO_DRIVER_MISSING', 'the vfio-pci driver is not loaded', 'run `modprobe vfio-pci` (and add it to /etc/modules-load.d)');
  }

  const fbOwners = await readFramebufferOwners(host);
  const groups = new Map<number, PciDevice[]>();
  for (const dev of devices) {
    if (dev.iommuGroup === null) {
      throw new GlasspaneError(
        'ERR_NO_IOMMU_GROUP',
        `${dev.address} has no IOMMU group: the IOMMU is off`,
        'enable VT-d/AMD-Vi in the firmware and boot with intel_iommu=on (Intel); check with `glasspane doctor`',
      );
    }
    if (!groups.has(dev.iommuGroup)) groups.set(dev.iommuGroup, await groupMembers(host, dev.iommuGroup));
  }

  for (const [group, members] of groups) {
    const blockers = members.filter((m) => !wanted.includes(m.address) && !isBridge(m) && !VFIO_SAFE_DRIVERS.includes(m.driver));
    if (blockers.length > 0) {
      const list = blockers.map((b) => `${b.address} (${b.driver})`).join(', ');
      throw new GlasspaneError(
        'ERR_GROUP_NOT_VIABLE',
        `IOMMU group ${group} also holds ${list}; QEMU would fail with "group ${group} is not viable"`,
        `lend the whole group: add ${blockers.map((b) => b.address).join(' ')} to the command (or move the card to another slot)`,
      );
    }
    if (opts.forceBootGpu) continue;
    for (const m of members) {
      const why = m.bootVga ? 'is the boot GPU (boot_vga=1)' : fbOwners?.has(m.address) ? 'scans out the active framebuffer (/proc/iomem)' : null;
      if (why) {
        throw new GlasspaneError(
          'ERR_BOOT_GPU',
          `${m.address} in IOMMU group ${group} ${why}; taking it would leave the host without a display`,
          'pass through the other GPU, make the other card the boot GPU in the firmware setup, or add --force-boot-gpu if the host has another screen',
        );
      }
    }
  }

  const journal = newJournal(opts.owner ?? 'vfio', host.root);
  journal.devices = devices.map((d) => ({ address: d.address, driver: d.driver, driverOverride: d.driverOverride }));
  const consoleWrites = opts.unbindConsole ? await planConsoleUnbind(host, journal) : [];
  return { devices, consoleWrites, deviceWrites: devices.map(planDeviceBind), journal };
}

/** Every write of a plan in execution order (for --dry-run). */
export function planWrites(plan: BindPlan): PlannedWrite[] {
  return [...plan.consoleWrites, ...plan.deviceWrites.flat()];
}

// ---------------------------------------------------------------------------------------------
// Binding with journal and rollback

/**
 * Lends the devices to vfio-pci. The journal is written first and stays on disk after success
 * (it is how `vfio unbind`, `vfio restore` and `vm down` know what to give back). On any failure
 * the host is rolled back and the journal removed; if the rollback itself fails, the journal
 * stays and the error says to run `glasspane vfio restore`. Rejects with planBind()'s errors
 * before any write, and afterwards with the failed write's SysfsWriteError (ERR_SYSFS_WRITE,
 * ERR_SYSFS_STUCK) or a GlasspaneError for a driver that did not bind, its message saying whether
 * the host was restored. Needs root on a live host (sysfs writes).
 */
export async function bindDevices(ctx: VfioContext, addresses: string[], opts: BindOptions = {}): Promise<BindPlan> {
  const plan = await planBind(ctx.host, addresses, opts);
  const existing = await readJournal(ctx.journalPath);
  if (existing) {
    throw new GlasspaneError(
      'ERR_JOURNAL_EXISTS',
      `a journal from an earlier run (${existing.owner}, pid ${existing.pid}, ${existing.createdAt}) is at ${ctx.journalPath}: those devices may still be on vfio-pci`,
      'run `glasspane vfio restore` first (or `glasspane vm down NAME` for a VM)',
    );
  }
  await writeJournal(ctx.journalPath, plan.journal);
  debug('journal written to %s', ctx.journalPath);
  try {
    for (const w of plan.consoleWrites) await ctx.writer.write(w.path, w.value);
    for (const [i, dev] of plan.devices.entries()) {
      for (const w of plan.deviceWrites[i]) await ctx.writer.write(w.path, w.value);
      const now = await ctx.host.linkName(`${PCI_DEVICES}/${dev.address}/driver`);
      if (now !== VFIO_DRIVER) {
        throw new GlasspaneError(
          'ERR_VFIO_NOT_BOUND',
          `${dev.address} is ${now ? `bound to ${now}` : 'unbound'} after drivers_probe, not to vfio-pci`,
          'check `dmesg` for vfio-pci errors (is the vfio-pci module loaded and the IOMMU on?)',
        );
      }
      ctx.log?.(`${dev.address}: ${dev.driver ?? 'no driver'} -> vfio-pci`);
    }
  } catch (err) {
    ctx.log?.(`bind failed: ${(err as Error).message}; rolling back`);
    const failures = await restoreJournal(ctx, plan.journal);
    if (failures.length === 0) {
      await removeJournal(ctx.journalPath);
      if (err instanceof GlasspaneError) {
        throw new GlasspaneError(err.code, `${err.message} (host restored to its original state)`, err.fix, { cause: err });
      }
      throw err;
    }
    throw new GlasspaneError(
      'ERR_ROLLBACK_FAILED',
      `${(err as Error).message}; rollback also failed: ${failures.map((f) => f.message).join('; ')}`,
      `the journal is kept at ${ctx.journalPath}: fix the cause, then run \`glasspane vfio restore\``,
      { cause: err },
    );
  }
  return plan;
}

// ---------------------------------------------------------------------------------------------
// Giving back

/**
 * The writes of phase 1 for one device: put driver_override back and leave any driver other than
 * the original one (`orig.driver === undefined`: leave whatever driver it has).
 */
function planRelease(cur: PciDevice, orig: { driver?: string | null; driverOverride: string | null }): PlannedWrite[] {
  const dir = `${PCI_DEVICES}/${cur.address}`;
  const writes: PlannedWrite[] = [];
  if (cur.driverOverride !== orig.driverOverride) {
    writes.push({ path: `${dir}/driver_override`, value: orig.driverOverride ?? '\n', why: orig.driverOverride ? `put back override ${orig.driverOverride}` : 'clear the override' });
  }
  if (cur.driver && cur.driver !== orig.driver) {
    writes.push({ path: `${PCI_DRIVERS}/${cur.driver}/unbind`, value: cur.address, why: `release it from ${cur.driver}` });
  }
  return writes;
}

/** Phase 2 for one device: probe, verify, and fall back to an explicit bind to the original driver. */
async function reattach(ctx: VfioContext, orig: JournalDevice): Promise<void> {
  const linkPath = `${PCI_DEVICES}/${orig.address}/driver`;
  let now = await ctx.host.linkName(linkPath);
  if (now === orig.driver) return;
  if (now === null) {
    await ctx.writer.write(DRIVERS_PROBE, orig.address);
    now = await ctx.host.linkName(linkPath);
  }
  if (now === null && orig.driver && (await ctx.host.exists(`${PCI_DRIVERS}/${orig.driver}`))) {
    debug('%s: drivers_probe bound nothing, binding %s explicitly', orig.address, orig.driver);
    await ctx.writer.write(`${PCI_DRIVERS}/${orig.driver}/bind`, orig.address);
    now = await ctx.host.linkName(linkPath);
  }
  if (now !== orig.driver) {
    const loaded = orig.driver ? await ctx.host.exists(`${PCI_DRIVERS}/${orig.driver}`) : true;
    throw new GlasspaneError(
      'ERR_RESTORE_DRIVER',
      `${orig.address} is ${now ? `bound to ${now}` : 'unbound'}, expected ${orig.driver ?? 'no driver'}`,
      loaded
        ? `bind it by hand: echo ${orig.address} > /sys/bus/pci/drivers/${orig.driver}/bind (see dmesg), then \`glasspane vfio restore\``
        : `the ${orig.driver} module is not loaded: run \`modprobe ${orig.driver}\`, then \`glasspane vfio restore\``,
    );
  }
}

/**
 * Puts every journaled device, framebuffer and console back. Keeps going past failures and
 * returns them (empty = host whole again); never throws for a single device.
 */
export async function restoreJournal(ctx: VfioContext, journal: Journal): Promise<Error[]> {
  const failures: Error[] = [];
  const released: JournalDevice[] = [];
  for (const orig of [...journal.devices].reverse()) {
    try {
      const cur = await readPciDevice(ctx.host, orig.address);
      if (!cur) throw new GlasspaneError('ERR_PCI_NOT_FOUND', `${orig.address} is gone from the bus`, 'run `echo 1 > /sys/bus/pci/rescan`, then `glasspane vfio restore`');
      for (const w of planRelease(cur, orig)) await ctx.writer.write(w.path, w.value);
      released.push(orig);
    } catch (err) {
      failures.push(err as Error);
    }
  }
  for (const orig of released.reverse()) {
    try {
      await reattach(ctx, orig);
      ctx.log?.(`${orig.address}: back on ${orig.driver ?? 'no driver'}`);
    } catch (err) {
      failures.push(err as Error);
    }
  }
  for (const fb of journal.framebuffers) {
    try {
      if (!(await ctx.host.exists(`${PLATFORM_DRIVERS}/${fb.driver}/${fb.device}`))) {
        await ctx.writer.write(`${PLATFORM_DRIVERS}/${fb.driver}/bind`, fb.device);
      }
    } catch (err) {
      failures.push(err as Error);
    }
  }
  for (const con of journal.consoles) {
    try {
      if ((await ctx.host.read(con.path)) !== con.value) await ctx.writer.write(con.path, con.value);
    } catch (err) {
      failures.push(err as Error);
    }
  }
  return failures;
}

/** Writes `restore` would make for the current state (for `vfio restore --dry-run`). */
export async function planRestore(host: HostRoot, journal: Journal): Promise<PlannedWrite[]> {
  const writes: PlannedWrite[] = [];
  for (const orig of [...journal.devices].reverse()) {
    const cur = await readPciDevice(host, orig.address);
    if (!cur) continue;
    writes.push(...planRelease(cur, orig));
    if (cur.driver !== orig.driver) writes.push({ path: DRIVERS_PROBE, value: orig.address, why: `let ${orig.driver ?? 'no driver'} take it back` });
  }
  for (const fb of journal.framebuffers) writes.push({ path: `${PLATFORM_DRIVERS}/${fb.driver}/bind`, value: fb.device, why: 'give the firmware framebuffer back' });
  for (const c of journal.consoles) writes.push({ path: c.path, value: c.value, why: 'reattach the console' });
  return writes;
}

/**
 * `vfio restore`: replays the journal left at ctx.journalPath. Returns false when there was none.
 * Removes the journal only when everything came back.
 */
export async function restoreFromJournal(ctx: VfioContext): Promise<boolean> {
  const journal = await readJournal(ctx.journalPath);
  if (!journal) return false;
  if (journal.root !== ctx.host.root) {
    throw new GlasspaneError(
      'ERR_JOURNAL_ROOT',
      `the journal ${ctx.journalPath} was written for root ${journal.root}, not ${ctx.host.root}`,
      `run with --root ${journal.root}`,
    );
  }
  const failures = await restoreJournal(ctx, journal);
  if (failures.length > 0) {
    throw new GlasspaneError(
      'ERR_RESTORE_FAILED',
      `could not restore everything: ${failures.map((f) => f.message).join('; ')}`,
      `${(failures[0] as GlasspaneError).fix ?? 'see dmesg'}; the journal stays at ${ctx.journalPath}`,
    );
  }
  await removeJournal(ctx.journalPath);
  return true;
}

/**
 * `vfio unbind ADDR...`: gives devices back. A device in the journal goes back to its journaled
 * driver (and leaves the journal); any other device on vfio-pci gets its override cleared and is
 * re-probed, and the driver the kernel picks is reported. Returns "address: driver" lines.
 */
export async function unbindDevices(ctx: VfioContext, addresses: string[]): Promise<string[]> {
  const wanted = normalizeAll(addresses);
  const journal = await readJournal(ctx.journalPath);
  const targets: JournalDevice[] = [];
  for (const a of wanted) {
    const cur = await requirePciDevice(ctx.host, a);
    const journaled = journal?.devices.find((d) => d.address === a);
    if (journaled) targets.push(journaled);
    else if (cur.driver === VFIO_DRIVER || cur.driverOverride === VFIO_DRIVER) targets.push({ address: a, driver: null, driverOverride: null });
    else ctx.log?.(`${a}: not on vfio-pci (driver ${cur.driver ?? 'none'}), nothing to do`);
  }
  const lines: string[] = [];
  const failures: Error[] = [];
  // Phase 1 for all, then phase 2 (see the module comment about kernels >= 5.19).
  const released: JournalDevice[] = [];
  for (const t of targets) {
    try {
      const cur = (await requirePciDevice(ctx.host, t.address)) as PciDevice;
      const journaled = journal?.devices.some((d) => d.address === t.address);
      const release = planRelease(cur, journaled ? t : { driverOverride: null });
      for (const w of release) await ctx.writer.write(w.path, w.value);
      released.push(t);
    } catch (err) {
      failures.push(err as Error);
    }
  }
  for (const t of released) {
    try {
      if (t.driver !== null || journal?.devices.some((d) => d.address === t.address)) {
        await reattach(ctx, t);
      } else {
        await ctx.writer.write(DRIVERS_PROBE, t.address);
      }
      const now = await ctx.host.linkName(`${PCI_DEVICES}/${t.address}/driver`);
      lines.push(`${t.address}: ${now ?? 'no driver bound'}`);
      if (journal) journal.devices = journal.devices.filter((d) => d.address !== t.address);
    } catch (err) {
      failures.push(err as Error);
    }
  }
  if (journal) {
    if (journal.devices.length === 0 && journal.framebuffers.length === 0 && journal.consoles.length === 0) await removeJournal(ctx.journalPath);
    else await writeJournal(ctx.journalPath, journal);
  }
  if (failures.length > 0) {
    throw new GlasspaneError(
      'ERR_UNBIND_FAILED',
      failures.map((f) => f.message).join('; '),
      (failures[0] as GlasspaneError).fix ?? 'see dmesg',
    );
  }
  return lines;
}
