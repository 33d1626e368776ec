/**
 * `vm down`: the VM asked to power off, then made to stop (quit, SIGTERM, SIGKILL) when it does
 * not, and the host given back. Also the way back to a clean host after a crash or a `vm up`
 * that was killed half-way.
 */
import { promises as fs } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { GlasspaneError } from '../errors.js';
import { readJournal } from './journal.js';
import { connectQmp, type QmpClient } from './qmp.js';
import { waitForExit } from './qemu-process.js';
import { restoreFromJournal } from './vfio.js';
import { releaseHost, type LifecycleContext } from './vm-host.js';
import { hasRunHere, isVmProcess, journalPathFor, readState, statePath, unknownVm, writeState } from './vm-state.js';

/** How patient vmDown() is with the guest. */
export interface DownOptions {
  /** Seconds to wait for the guest after system_powerdown (default: the config's shutdown_timeout_s). */
  timeoutS?: number;
}

/**
 * Stops the VM: system_powerdown → SHUTDOWN and exit (timeout) → quit → SIGTERM → SIGKILL, then
 * restores the host from the journal. Returns how it ended ('already stopped' when there was
 * nothing left to do). Works on a crashed VM too (restore only), so `vm down NAME` is always the
 * way back to a clean host. A name that never ran from this state directory is ERR_VM_UNKNOWN.
 */
export async function vmDown(ctx: LifecycleContext, name: string, opts: DownOptions = {}): Promise<string> {
  const log = ctx.log ?? (() => {});
  const state = await readState(ctx.stateDir, name);
  if (!state) {
    // `vm up` killed between the bind and QEMU's start leaves a journal but no state: give back.
    const journalPath = journalPathFor(ctx.stateDir, name);
    if (await readJournal(journalPath)) {
      log(`no QEMU was started, but devices are lent (journal ${journalPath}); restoring the host`);
      await restoreFromJournal({ host: ctx.host, writer: ctx.writer, journalPath, log });
      return 'never started';
    }
    // Stopping a stopped VM is done already; a name that never ran is most likely a typo.
    if (await hasRunHere(ctx.stateDir, name)) return 'already stopped';
    throw unknownVm(ctx.stateDir, name);
  }
  await writeState(ctx.stateDir, { ...state, stopping: true });
  const { pid, qmpSocket } = state;
  let how = state.outcome ?? 'already stopped';
  if (isVmProcess(pid, qmpSocket)) {
    const timeoutMs = (opts.timeoutS ?? state.shutdownTimeoutS ?? 120) * 1000;
    let qmp: QmpClient | null = null;
    try {
      qmp = await connectQmp(qmpSocket, { timeoutMs: 5000 });
    } catch (err) {
      log(`QMP unavailable (${(err as Error).message}); using signals`);
    }
    how = '';
    if (qmp) {
      log('asking the guest to power off (system_powerdown)');
      // A refused powerdown (QEMU's error, or the monitor closing) is said, and quit follows at
      // once: waiting the whole timeout for a SHUTDOWN that cannot come helps nobody.
      const refused = await qmp.execute('system_powerdown').then(
        () => null,
        (err: Error) => err.message,
      );
      const ev = refused === null ? await qmp.waitForEvent('SHUTDOWN', timeoutMs) : null;
      if (ev && (await waitForExit(pid, qmpSocket, 10_000))) how = 'guest powered off';
      if (!how) {
        log(refused !== null ? `system_powerdown failed (${refused}); sending quit` : ev ? 'guest shut down but QEMU did not exit; sending quit' : `no SHUTDOWN within ${timeoutMs / 1000} s; sending quit`);
        await Promise.race([qmp.execute('quit').catch(() => {}), sleep(5000)]);
        if (await waitForExit(pid, qmpSocket, 10_000)) how = 'quit';
      }
      qmp.close();
    }
    for (const sig of ['SIGTERM', 'SIGKILL'] as const) {
      if (how) break;
      log(`sending ${sig} to ${pid}`);
      try {
        process.kill(pid, sig);
      } catch {
        /* already gone */
      }
      if (await waitForExit(pid, qmpSocket, 5000)) how = sig;
    }
    if (!how) throw new GlasspaneError('ERR_VM_STUCK', `QEMU (pid ${pid}) survived SIGKILL`, 'it is stuck in the kernel (often a device reset); the host may need a reboot');
  }
  log('restoring the host');
  await releaseHost(ctx, state);
  await fs.rm(statePath(ctx.stateDir, name), { force: true });
  return how;
}
