/**
 * Watching a VM: the supervisor that sees it end (a guest shutdown or a crash) and gives the host
 * back, and `vm status`, which asks QEMU (or, when it is gone, the state file) how the VM is.
 */
import { debuglog } from 'node:util';
import { connectQmp } from './qmp.js';
import { waitForExit } from './qemu-process.js';
import { releaseHost, type LifecycleContext } from './vm-host.js';
import { hasRunHere, isVmProcess, readState, unknownVm, writeState, type VmStatus } from './vm-state.js';

const debug = debuglog('glasspane:vm');

/**
 * Watches a running VM through its second monitor until QEMU ends, then records the outcome and
 * gives the host back, unless `vm down` is doing that. EOF without SHUTDOWN = crashed.
 */
export async function superviseVm(ctx: LifecycleContext, name: string): Promise<'stopped' | 'crashed' | 'handled-by-down'> {
  const state = await readState(ctx.stateDir, name);
  if (!state) throw unknownVm(ctx.stateDir, name);
  let shutdownSeen = false;
  try {
    const watch = await connectQmp(state.watchSocket, { timeoutMs: 10_000, stillStarting: () => isVmProcess(state.pid, state.qmpSocket) });
    shutdownSeen = (await watch.closed).shutdownSeen;
  } catch (err) {
    debug('supervisor for %s could not attach: %s', name, (err as Error).message);
  }
  await waitForExit(state.pid, state.qmpSocket, 30_000);
  const now = await readState(ctx.stateDir, name);
  if (!now || now.stopping) return 'handled-by-down';
  const outcome = shutdownSeen ? 'stopped' : 'crashed';
  ctx.log?.(`${name}: QEMU ended (${outcome === 'crashed' ? 'no SHUTDOWN event: crashed' : 'guest shut down'}); restoring the host`);
  await writeState(ctx.stateDir, { ...now, outcome });
  await releaseHost(ctx, now);
  return outcome;
}

/**
 * What `vm status` reports (keys in the documented order); pid and socket are null for a VM that
 * ran before and is gone.
 */
export interface StatusReport {
  name: string;
  status: VmStatus;
  pid: number | null;
  qmpSocket: string | null;
}

/** Maps QEMU's RunState (qapi/run-state.json) onto the four states glasspane reports. */
export function mapRunState(status: string): VmStatus {
  if (status === 'running') return 'running';
  if (status === 'shutdown') return 'stopped';
  if (status === 'guest-panicked' || status === 'internal-error') return 'crashed';
  return 'paused';
}

/** The VM's state; a name that never ran from this state directory is ERR_VM_UNKNOWN, not "stopped". */
export async function vmStatus(ctx: Pick<LifecycleContext, 'stateDir'>, name: string): Promise<StatusReport> {
  const state = await readState(ctx.stateDir, name);
  if (!state) {
    if (!(await hasRunHere(ctx.stateDir, name))) throw unknownVm(ctx.stateDir, name);
    return { name, status: 'stopped', pid: null, qmpSocket: null };
  }
  // Keys in the documented order: name, status, pid, qmpSocket.
  const report = (status: VmStatus): StatusReport => ({ name, status, pid: state.pid, qmpSocket: state.qmpSocket });
  if (!isVmProcess(state.pid, state.qmpSocket)) {
    return report(state.outcome ?? (state.stopping ? 'stopped' : 'crashed'));
  }
  try {
    const qmp = await connectQmp(state.qmpSocket, { timeoutMs: 3000 });
    try {
      const st = await qmp.execute<{ status: string }>('query-status');
      return report(mapRunState(st.status));
    } finally {
      qmp.close();
    }
  } catch (err) {
    debug('status via QMP failed: %s', (err as Error).message);
    return report('running');
  }
}
