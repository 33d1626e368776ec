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
 *
 * This module plans and starts a VM; its parts live beside it: vm-host.ts (the files a VM takes
 * from the host, and giving everything back), qemu-process.ts (the QEMU process), vm-watch.ts
 * (the supervisor and `vm status`), vm-down.ts, vm-state.ts. The whole API is exported from here.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { GlasspaneError } from '../errors.js';
import { passthroughAddresses, regionBytes, type VmConfig } from './config.js';
import { requireHostReady } from './doctor.js';
import { requireConfigFiles } from './config-files.js';
import { readJournal } from './journal.js';
import { readPciDevice } from './pci.js';
import { buildQemuArgs, buildQemuFlags, formatCommand, runtimePaths, type RuntimePaths } from './qemu-args.js';
import { killQemu, qemuStarted, spawnQemu, waitUntilRunning } from './qemu-process.js';
import { formatSize } from './region-size.js';
import { bindDevices, planBindChecked, planDeviceBind, planWrites, restoreFromJournal, type PlannedWrite, type VfioContext } from './vfio.js';
import { prepareFirmware, prepareRegion, removeSockets, shareSpiceSocket, writeSpicePasswordCopy, type LifecycleContext } from './vm-host.js';
import { superviseVm } from './vm-watch.js';
import { isVmProcess, journalPathFor, readState, statePath, writeState, type VmState } from './vm-state.js';

export type { VmStatus, VmState } from './vm-state.js';
export { defaultStateDir, journalPathFor, readState, isVmProcess } from './vm-state.js';
export type { LifecycleContext } from './vm-host.js';
export { mapRunState, superviseVm, vmStatus, type StatusReport } from './vm-watch.js';
export { vmDown, type DownOptions } from './vm-down.js';

/**
 * What `vm up --dry-run` prints: the QEMU command (one flag per line), every planned sysfs write,
 * and notes on files it would create.
 */
export interface DryRunReport {
  command: string;
  writes: PlannedWrite[];
  notes: string[];
  /** What would refuse the bind (no IOMMU, group, boot GPU, vfio-pci), most fundamental first; empty when none. */
  blockers: GlasspaneError[];
}

/**
 * What `vm up --dry-run` prints: the QEMU command and every planned host write; touches nothing.
 * Rejects with ERR_VM_FILE, as `vm up` would, when a file the config names cannot be used (on
 * this host only: under another --root the files are not this machine's, and a note says so).
 */
export async function planUp(ctx: LifecycleContext, config: VmConfig): Promise<DryRunReport> {
  const paths = runtimePaths(config, ctx.stateDir);
  const notes: string[] = [];
  if (ctx.host.root === '/') requireConfigFiles(config, `the config of ${config.name}`);
  else notes.push(`the files the config names (firmware, disks, ROM, evdev, password) were not checked: --root ${ctx.host.root} is another machine's tree`);
  const addrs = passthroughAddresses(config);
  let writes: PlannedWrite[] = [];
  let blockers: GlasspaneError[] = [];
  const present = [];
  for (const a of addrs) present.push(await readPciDevice(ctx.host, a));
  if (addrs.length && present.every(Boolean)) {
    const checked = await planBindChecked(ctx.host, addrs, { forceBootGpu: config.lifecycle.force_boot_gpu, unbindConsole: config.lifecycle.unbind_console, owner: `vm:${config.name}` });
    writes = planWrites(checked.plan);
    blockers = checked.blockers;
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
  return { command: formatCommand(config.qemu.binary, buildQemuFlags(config, paths)), writes, notes, blockers };
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

/**
 * Refuses to start over an earlier run that is not finished: its QEMU still running
 * (ERR_VM_RUNNING) or its journal still on disk, the host not restored (ERR_JOURNAL_EXISTS).
 * Makes the state directory. Returns where this run's journal goes.
 */
async function refuseUnfinishedRun(ctx: LifecycleContext, config: VmConfig): Promise<string> {
  await fs.mkdir(ctx.stateDir, { recursive: true, mode: 0o755 });
  const previous = await readState(ctx.stateDir, config.name);
  if (previous && isVmProcess(previous.pid, previous.qmpSocket)) {
    throw new GlasspaneError('ERR_VM_RUNNING', `${config.name} is already running (pid ${previous.pid})`, `stop it first: glasspane vm down ${config.name}`);
  }
  const journalPath = journalPathFor(ctx.stateDir, config.name);
  if (await readJournal(journalPath)) {
    throw new GlasspaneError('ERR_JOURNAL_EXISTS', `a journal from an earlier run of ${config.name} is at ${journalPath}: the host was not fully restored`, `run \`glasspane vm down ${config.name}\` (or \`glasspane vfio restore --journal ${journalPath}\`) first`);
  }
  return journalPath;
}

/** Starts the supervisor `opts` asks for: in this process ('inline', its run returned) or as a detached `vm supervise`. */
function startSupervisor(ctx: LifecycleContext, name: string, opts: UpOptions): UpResult['supervision'] {
  if (opts.supervise === 'inline') return superviseVm(ctx, name);
  if (opts.supervise === 'detached' && opts.superviseCommand) {
    const [cmd, ...rest] = opts.superviseCommand;
    const sup = spawn(cmd, [...rest, name, '--state-dir', ctx.stateDir], { detached: true, stdio: 'ignore' });
    sup.unref();
  }
  return undefined;
}

/** What a failed `vm up` had done by the time it failed, for undoUp(). */
interface UpProgress {
  child: ChildProcess | null;
  regionCreated: boolean;
  /** The private firmware variables were copied by this run (removed again if it fails). */
  varsCreated: boolean;
}

/**
 * Undoes a `vm up` that failed after the bind, then throws `err`: QEMU killed (and waited for),
 * the region file (if made) and the password copy and state file removed, and the devices given
 * back (`vfio` null: none were lent). If giving back fails too, throws ERR_ROLLBACK_FAILED with
 * both reasons and the restore command instead.
 */
async function undoUp(ctx: LifecycleContext, config: VmConfig, paths: RuntimePaths, done: UpProgress, vfio: VfioContext | null, err: unknown): Promise<never> {
  if (done.child) await killQemu(done.child);
  if (done.regionCreated && config.region) await fs.rm(config.region.path, { force: true });
  if (done.varsCreated && config.firmware) await fs.rm(config.firmware.vars, { force: true });
  if (paths.spicePasswordCopy) await fs.rm(paths.spicePasswordCopy, { force: true });
  // QEMU's sockets too: a failed start leaves only its log (what the error points at).
  await removeSockets(paths);
  await fs.rm(statePath(ctx.stateDir, config.name), { force: true });
  if (vfio) {
    try {
      await restoreFromJournal(vfio);
    } catch (restoreErr) {
      throw new GlasspaneError('ERR_ROLLBACK_FAILED', `${(err as Error).message}; restoring the host also failed: ${(restoreErr as Error).message}`, `run \`glasspane vfio restore --journal ${vfio.journalPath}\``, { cause: err });
    }
  }
  throw err;
}

/**
 * Starts the VM: host checks → bind (journal) → firmware vars → region → QEMU → QMP → running.
 * On any failure after the bind, QEMU is killed and the host restored before the error is thrown.
 * Rejects with GlasspaneError: ERR_VM_FILE (a file the config names cannot be used; checked before
 * anything else, so nothing is made), ERR_VM_RUNNING / ERR_JOURNAL_EXISTS (an earlier run is not over),
 * ERR_HOST_NOT_READY (a check this VM needs failed), bindDevices()'s errors, ERR_QEMU_SPAWN (no
 * QEMU binary), ERR_QEMU_EXITED (QEMU quit or QMP never answered; the message quotes its log),
 * ERR_VM_NOT_RUNNING, or ERR_ROLLBACK_FAILED when restoring the host failed too (the fix names
 * `vfio restore`). Needs root for passthrough (sysfs writes).
 */
export async function vmUp(ctx: LifecycleContext, config: VmConfig, opts: UpOptions): Promise<UpResult> {
  const log = ctx.log ?? (() => {});
  const paths: RuntimePaths = runtimePaths(config, ctx.stateDir);
  // Every file first: a missing one is the user's to fix, and nothing has been made yet.
  requireConfigFiles(config, `the config of ${config.name}`);
  const journalPath = await refuseUnfinishedRun(ctx, config);

  log('checking the host');
  await requireHostReady(ctx.host, config);

  const addrs = passthroughAddresses(config);
  const vfio = { host: ctx.host, writer: ctx.writer, journalPath, log };
  if (addrs.length) {
    log(`binding ${addrs.join(' ')} to vfio-pci`);
    await bindDevices(vfio, addrs, { forceBootGpu: config.lifecycle.force_boot_gpu, unbindConsole: config.lifecycle.unbind_console, owner: `vm:${config.name}` });
  }

  const done: UpProgress = { child: null, regionCreated: false, varsCreated: false };
  const logPath = path.join(ctx.stateDir, `${config.name}.log`);
  try {
    done.varsCreated = await prepareFirmware(config, log);
    done.regionCreated = await prepareRegion(config, log);
    await writeSpicePasswordCopy(config, paths);
    await removeSockets(paths);

    const child = (done.child = spawnQemu(config.qemu.binary, buildQemuArgs(config, paths), logPath));
    const exited = await qemuStarted(child, config.qemu.binary);
    log(`QEMU started (pid ${child.pid}), log ${logPath}`);

    const state: VmState = {
      name: config.name,
      pid: child.pid!,
      qmpSocket: paths.qmpSocket,
      watchSocket: paths.watchSocket,
      spiceSocket: paths.spiceSocket,
      regionPath: config.region?.path ?? null,
      regionCreated: done.regionCreated,
      journalPath,
      root: ctx.host.root,
      logPath,
      startedAt: new Date().toISOString(),
      shutdownTimeoutS: config.lifecycle.shutdown_timeout_s,
    };
    await writeState(ctx.stateDir, state);

    await waitUntilRunning(child, exited, paths.qmpSocket, logPath);
    log(`${config.name} is running`);
    await shareSpiceSocket(paths.spiceSocket);

    const supervision = startSupervisor(ctx, config.name, opts);
    if (!opts.foreground) child.unref();
    return { state, child, supervision };
  } catch (err) {
    return undoUp(ctx, config, paths, done, addrs.length ? vfio : null, err);
  }
}
