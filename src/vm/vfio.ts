/**
 * Lending PCI devices to vfio-pci and giving them back, safely.
 *
 * Order (what libvirt does; docs/vm.md "vfio"): driver_override ← "vfio-pci" → unbind from the
 * current driver → drivers_probe → re-read `driver` (drivers_probe reports success even when
 * nothing bound). Before the first write the original state goes to the journal; any failure rolls every
 * device back to that state, and the journal stays on disk until the host is whole again.
 *
 * This module binds; the plan comes from vfio-plan.ts and giving back is vfio-restore.ts. The
 * whole API is exported from here.
 */
import { debuglog } from 'node:util';
import { GlasspaneError } from '../errors.js';
import { readJournal, removeJournal, writeJournal } from './journal.js';
import { PCI_DEVICES } from './pci.js';
import { planBind, VFIO_DRIVER, type BindOptions, type BindPlan, type VfioContext } from './vfio-plan.js';
import { restoreJournal } from './vfio-restore.js';

export { VFIO_DRIVER, formatBlockers, planBind, planBindChecked, planDeviceBind, planWrites, type BindOptions, type BindPlan, type CheckedBindPlan, type PlannedWrite, type VfioContext } from './vfio-plan.js';
export { planRestore, restoreFromJournal, restoreJournal, unbindDevices } from './vfio-restore.js';

const debug = debuglog('glasspane:vm');

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
