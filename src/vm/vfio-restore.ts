/**
 * Giving devices back from vfio-pci: `vfio restore` (the journal replayed), `vfio unbind`, and the
 * rollback of a bind that failed half-way.
 *
 * Giving back runs in two phases over all devices: first every device leaves vfio-pci, then each
 * is probed. Kernels ≥ 5.19 refuse (EBUSY) to bind a host driver to any member of a group VFIO
 * still owns, so probing the GPU's audio function before the GPU left vfio-pci would fail.
 */
import { debuglog } from 'node:util';
import { GlasspaneError } from '../errors.js';
import type { HostRoot } from './host-root.js';
import { readJournal, removeJournal, writeJournal, type Journal, type JournalDevice } from './journal.js';
import { PCI_DEVICES, PCI_DRIVERS, readPciDevice, requirePciDevice, type PciDevice } from './pci.js';
import { DRIVERS_PROBE, normalizeAll, PLATFORM_DRIVERS, VFIO_DRIVER, type PlannedWrite, type VfioContext } from './vfio-plan.js';

const debug = debuglog('glasspane:vm');

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
