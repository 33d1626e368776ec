/**
 * `vm up` / `vm status` / `vm down` and the supervisor that notices crashes.
 *
 * Per VM the state directory holds: NAME.json (pid, sockets, journal; written once QEMU is
 * spawned), NAME.journal.json (only while devices are lent), NAME.log (QEMU's stdout/stderr) and
 * the QMP/SPICE sockets. QEMU gets two QMP monitors: NAME.qmp for status/down/the user and
 * NAME.watch.qmp held by the supervisor, which sees SHUTDOWN and the EOF of a crash.
 *
 * Whoever ends a VM gives the host back: `vm down` itself (it marks the state "stopping" first),
 * or the supervisor after a guest shutdown or a crash (EOF without SHUTDOWN = crashed).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { promises as fs, openSync, closeSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { debuglog } from 'node:util';
import { GlasspaneError } from '../errors.js';
import { passthroughAddresses, regionBytes, type VmConfig } from './config.js';
import { requireHostReady } from './doctor.js';
import type { HostRoot } from './host-root.js';
import { readJournal } from './journal.js';
import { readPciDevice } from './pci.js';
import { buildQemuArgs, buildQemuFlags, formatCommand, runtimePaths, spicePasswordCopyPath, type RuntimePaths } from './qemu-args.js';
import { readSpicePassword } from '../spice/password.js';
import { connectQmp, type QmpClient } from './qmp.js';
import { formatSize } from './region-size.js';
import type { SysfsWriter } from './sysfs-writer.js';
import { bindDevices, planBind, planDeviceBind, planWrites, restoreFromJournal, type PlannedWrite } from './vfio.js';

const debug = debuglog('glasspane:vm');

import { hasRunHere, isVmProcess, journalPathFor, readState, statePath, unknownVm, writeState, type VmState, type VmStatus } from './vm-state.js';

export type { VmStatus, VmState } from './vm-state.js';
export { defaultStateDir, journalPathFor, readState, isVmProcess } from './vm-state.js';

/**
 * What the lifecycle works through: the host (possibly a --root tree), the sysfs writer, the state
 * folder (docs/vm.md "vm up / status / down") and where progress lines go. Main thread.
 */
export interface LifecycleContext {
  host: HostRoot;
  writer: SysfsWriter;
  stateDir: string;
  log?: (line: string) => void;
}

/**
 * What `vm up --dry-run` prints: the QEMU command (one flag per line), every planned sysfs write,
 * and notes on files it would create.
 */
export interface DryRunReport {
  command: string;
  writes: PlannedWrite[];
  notes: string[];
}

/** What `vm up --dry-run` prints: the QEMU command and every planned host write; touches nothing. */
export async function planUp(ctx: LifecycleContext, config: VmConfig): Promise<DryRunReport> {
  const paths = runtimePaths(config, ctx.stateDir);
  const notes: string[] = [];
  const addrs = passthroughAddresses(config);
  let writes: PlannedWrite[] = [];
  const present = [];
  for (const a of addrs) present.push(await readPciDevice(ctx.host, a));
  if (addrs.length && present.every(Boolean)) {
    writes = planWrites(await planBind(ctx.host, addrs, { forceBootGpu: config.lifecycle.force_boot_gpu, unbindConsole: config.lifecycle.unbind_console, owner: `vm:${config.name}` }));
  } else if (addrs.length) {
    notes.push(`not all of ${addrs.join(', ')} exist under ${ctx.host.root}: writes shown for devices bound to a host driver`);
    for (const a of addrs) writes.push(...planDeviceBind({ address: a, class: '', vendor: '', device: '', driver: 'HOST-DRIVER', driverOverride: null, bootVga: false, resetMethods: [], iommuGroup: null }));
  }
  if (config.region && !/^\/dev\/kvmfr\d+$/.test(config.region.path)) {
    notes.push(`create ${config.region.path}: ${formatSize(regionBytes(config)!)}, mode 0660`);
  }
  if (config.firmware) notes.push(`copy ${config.firmware.vars_template} to ${config.firmware.vars} if it does not exist`);
  if (paths.spicePasswordCopy) notes.push(`SPICE password: ${config.spice!.password_file} copied to ${paths.spicePasswordCopy} (mode 0600) without its trailing newline, for QEMU`);
  notes.push(`journal: ${journalPathFor(ctx.stateDir, config.name)}`);
  return { command: formatCommand(config.qemu.binary, buildQemuFlags(config, paths)), writes, notes };
}

/** How vmUp() keeps watch over the VM after starting it. */
export interface UpOptions {
  /** 'detached': spawn `glasspane vm supervise NAME` (the CLI); 'inline': run it in this process. */
  supervise: 'detached' | 'inline' | 'none';
  /** argv that starts the supervisor, for 'detached' (e.g. [node, main.js, 'vm', 'supervise']). */
  superviseCommand?: string[];
  /** Stay attached (keep the child referenced) until the VM ends; default: return once running. */
  foreground?: boolean;
}

/**
 * A started VM: its state file's content, the QEMU child (unreferenced unless `foreground`), and
 * the inline supervisor's run.
 */
export interface UpResult {
  state: VmState;
  child: ChildProcess;
  /** The supervisor's run for 'inline' (resolves with the outcome when the VM ends). */
  supervision?: Promise<'stopped' | 'crashed' | 'handled-by-down'>;
}

async function prepareRegion(config: VmConfig, log: (l: string) => void): Promise<boolean> {
  if (!config.region) return false;
  const p = config.region.path;
  if (/^\/dev\/kvmfr\d+$/.test(p)) return false; // the kvmfr module owns size and mode
  const bytes = regionBytes(config)!;
  const fh = await fs.open(p, 'a+', 0o660);
  try {
    await fh.truncate(bytes);
    await fh.chmod(0o660);
    // Under sudo, hand the file to the invoking user so their viewer can map it.
    const uid = Number(process.env.SUDO_UID);
    const gid = Number(process.env.SUDO_GID);
    if (process.getuid?.() === 0 && Number.isInteger(uid) && Number.isInteger(gid) && uid > 0) await fh.chown(uid, gid);
  } finally {
    await fh.close();
  }
  log(`region ${p}: ${formatSize(bytes)}, mode 0660`);
  return true;
}

async function prepareFirmware(config: VmConfig, log: (l: string) => void): Promise<void> {
  if (!config.firmware) return;
  try {
    await fs.access(config.firmware.vars);
  } catch {
    await fs.mkdir(path.dirname(config.firmware.vars), { recursive: true });
    await fs.copyFile(config.firmware.vars_template, config.firmware.vars);
    await fs.chmod(config.firmware.vars, 0o600);
    log(`firmware variables: private copy at ${config.firmware.vars}`);
  }
}

/** Under sudo, the viewer runs as the invoking user: give it the SPICE socket (not QMP). */
async function shareSpiceSocket(socket: string | null): Promise<void> {
  const uid = Number(process.env.SUDO_UID);
  const gid = Number(process.env.SUDO_GID);
  if (!socket || process.getuid?.() !== 0 || !Number.isInteger(uid) || !Number.isInteger(gid) || uid <= 0) return;
  await fs.chown(socket, uid, gid).catch((err: Error) => debug('chown %s: %s', socket, err.message));
}

async function tail(file: string, lines = 15): Promise<string> {
  try {
    return (await fs.readFile(file, 'utf8')).trim().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

/**
 * Starts the VM: host checks → bind (journal) → firmware vars → region → QEMU → QMP → running.
 * On any failure after the bind, QEMU is killed and the host restored before the error is thrown.
 * Rejects with GlasspaneError: ERR_VM_RUNNING / ERR_JOURNAL_EXISTS (an earlier run is not over),
 * ERR_HOST_NOT_READY (a check this VM needs failed), bindDevices()'s errors, ERR_QEMU_SPAWN (no
 * QEMU binary), ERR_QEMU_EXITED (QEMU quit or QMP never answered; the message quotes its log),
 * ERR_VM_NOT_RUNNING, or ERR_ROLLBACK_FAILED when restoring the host failed too (the fix names
 * `vfio restore`). Needs root for passthrough (sysfs writes).
 */
export async function vmUp(ctx: LifecycleContext, config: VmConfig, opts: UpOptions): Promise<UpResult> {
  const log = ctx.log ?? (() => {});
  const paths: RuntimePaths = runtimePaths(config, ctx.stateDir);
  await fs.mkdir(ctx.stateDir, { recursive: true, mode: 0o755 });
  const previous = await readState(ctx.stateDir, config.name);
  if (previous && isVmProcess(previous.pid, previous.qmpSocket)) {
    throw new GlasspaneError('ERR_VM_RUNNING', `${config.name} is already running (pid ${previous.pid})`, `stop it first: glasspane vm down ${config.name}`);
  }
  const journalPath = journalPathFor(ctx.stateDir, config.name);
  if (await readJournal(journalPath)) {
    throw new GlasspaneError('ERR_JOURNAL_EXISTS', `a journal from an earlier run of ${config.name} is at ${journalPath}: the host was not fully restored`, `run \`glasspane vm down ${config.name}\` (or \`glasspane vfio restore --journal ${journalPath}\`) first`);
  }

  log('checking the host');
  await requireHostReady(ctx.host, config);

  const addrs = passthroughAddresses(config);
  const vfio = { host: ctx.host, writer: ctx.writer, journalPath, log };
  if (addrs.length) {
    log(`binding ${addrs.join(' ')} to vfio-pci`);
    await bindDevices(vfio, addrs, { forceBootGpu: config.lifecycle.force_boot_gpu, unbindConsole: config.lifecycle.unbind_console, owner: `vm:${config.name}` });
  }

  let child: ChildProcess | null = null;
  let regionCreated = false;
  const logPath = path.join(ctx.stateDir, `${config.name}.log`);
  try {
    await prepareFirmware(config, log);
    regionCreated = await prepareRegion(config, log);
    if (paths.spicePasswordCopy && config.spice?.password_file) {
      // What `view --spice-password-file` and `send` read (one trailing newline dropped), for QEMU.
      await fs.writeFile(paths.spicePasswordCopy, readSpicePassword(config.spice.password_file), { mode: 0o600 });
      await fs.chmod(paths.spicePasswordCopy, 0o600);
    }
    for (const s of [paths.qmpSocket, paths.watchSocket, paths.spiceSocket]) if (s) await fs.rm(s, { force: true });

    const args = buildQemuArgs(config, paths);
    debug('spawn %s %j', config.qemu.binary, args);
    const logFd = openSync(logPath, 'w', 0o600);
    try {
      // Always its own process group: a Ctrl-C in the terminal reaches glasspane, which runs
      // `vm down` properly, instead of killing QEMU behind the journal's back.
      child = spawn(config.qemu.binary, args, { stdio: ['ignore', logFd, logFd], detached: true });
    } finally {
      closeSync(logFd);
    }
    const spawned = child;
    const spawnError = await new Promise<Error | null>((resolve) => {
      spawned.once('spawn', () => resolve(null));
      spawned.once('error', resolve);
    });
    if (spawnError) throw new GlasspaneError('ERR_QEMU_SPAWN', `cannot start ${config.qemu.binary}: ${spawnError.message}`, 'install QEMU (Debian: apt install qemu-system-x86) or set qemu.binary');
    let exited = false;
    spawned.once('exit', () => (exited = true));
    log(`QEMU started (pid ${spawned.pid}), log ${logPath}`);

    const state: VmState = {
      name: config.name,
      pid: spawned.pid!,
      qmpSocket: paths.qmpSocket,
      watchSocket: paths.watchSocket,
      spiceSocket: paths.spiceSocket,
      regionPath: config.region?.path ?? null,
      regionCreated,
      journalPath,
      root: ctx.host.root,
      logPath,
      startedAt: new Date().toISOString(),
      shutdownTimeoutS: config.lifecycle.shutdown_timeout_s,
    };
    await writeState(ctx.stateDir, state);

    let qmp: QmpClient;
    try {
      qmp = await connectQmp(paths.qmpSocket, { timeoutMs: 30_000, stillStarting: () => !exited });
    } catch (err) {
      const why = await tail(logPath);
      throw new GlasspaneError('ERR_QEMU_EXITED', `QEMU did not come up: ${exited ? `it exited (code ${spawned.exitCode})` : (err as Error).message}${why ? `\n${why}` : ''}`, `fix what the QEMU log says (${logPath}); \`glasspane vm up FILE --dry-run\` shows the command`);
    }
    try {
      for (let i = 0; ; i++) {
        const st = await qmp.execute<{ status: string; running: boolean }>('query-status');
        if (st.running) break;
        if (i > 100) throw new GlasspaneError('ERR_VM_NOT_RUNNING', `QEMU reports status "${st.status}" instead of running`, `see ${logPath}`);
        await sleep(100);
      }
    } finally {
      qmp.close();
    }
    log(`${config.name} is running`);
    await shareSpiceSocket(paths.spiceSocket);

    let supervision: UpResult['supervision'];
    if (opts.supervise === 'inline') supervision = superviseVm(ctx, config.name);
    if (opts.supervise === 'detached' && opts.superviseCommand) {
      const [cmd, ...rest] = opts.superviseCommand;
      const sup = spawn(cmd, [...rest, config.name, '--state-dir', ctx.stateDir], { detached: true, stdio: 'ignore' });
      sup.unref();
    }
    if (!opts.foreground) spawned.unref();
    return { state, child: spawned, supervision };
  } catch (err) {
    if (child && child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      // QEMU must have closed /dev/vfio/N before the devices go back, or the unbind blocks.
      const gone = child;
      for (let i = 0; i < 200 && gone.exitCode === null && gone.signalCode === null; i++) await sleep(50);
    }
    if (regionCreated && config.region) await fs.rm(config.region.path, { force: true });
    if (paths.spicePasswordCopy) await fs.rm(paths.spicePasswordCopy, { force: true });
    await fs.rm(statePath(ctx.stateDir, config.name), { force: true });
    if (addrs.length) {
      try {
        await restoreFromJournal(vfio);
      } catch (restoreErr) {
        throw new GlasspaneError('ERR_ROLLBACK_FAILED', `${(err as Error).message}; restoring the host also failed: ${(restoreErr as Error).message}`, `run \`glasspane vfio restore --journal ${journalPath}\``, { cause: err });
      }
    }
    throw err;
  }
}

/** Host cleanup after the VM ended: devices back (journal), region file and sockets removed. */
async function releaseHost(ctx: LifecycleContext, state: VmState): Promise<void> {
  await restoreFromJournal({ host: ctx.host, writer: ctx.writer, journalPath: state.journalPath, log: ctx.log });
  if (state.regionCreated && state.regionPath) await fs.rm(state.regionPath, { force: true });
  for (const s of [state.qmpSocket, state.watchSocket, state.spiceSocket]) if (s) await fs.rm(s, { force: true });
  await fs.rm(spicePasswordCopyPath(path.dirname(state.logPath), state.name), { force: true });
}

async function waitForExit(pid: number, qmpSocket: string, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!isVmProcess(pid, qmpSocket)) return true;
    await sleep(50);
  }
  return !isVmProcess(pid, qmpSocket);
}

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
      await qmp.execute('system_powerdown').catch(() => {});
      const ev = await qmp.waitForEvent('SHUTDOWN', timeoutMs);
      if (ev && (await waitForExit(pid, qmpSocket, 10_000))) how = 'guest powered off';
      if (!how) {
        log(ev ? 'guest shut down but QEMU did not exit; sending quit' : `no SHUTDOWN within ${timeoutMs / 1000} s; sending quit`);
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
