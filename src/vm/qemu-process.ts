/**
 * The QEMU process of a VM: starting it with its output in the VM's log, knowing when it runs
 * (over QMP), waiting for it to end, and killing it when `vm up` fails half-way.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { promises as fs, openSync, closeSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { debuglog } from 'node:util';
import { GlasspaneError } from '../errors.js';
import { connectQmp, type QmpClient } from './qmp.js';
import { isVmProcess } from './vm-state.js';

const debug = debuglog('glasspane:vm');

/** The last `lines` lines of `file` (QEMU's log), or '' when it cannot be read. */
export async function logTail(file: string, lines = 15): Promise<string> {
  try {
    return (await fs.readFile(file, 'utf8')).trim().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

/**
 * Spawns `binary args` with stdout and stderr into `logPath` (created, mode 0600), in its own
 * process group: a Ctrl-C in the terminal reaches glasspane, which runs `vm down` properly,
 * instead of killing QEMU behind the journal's back. Returns the child at once, before it is
 * known to have started (see qemuStarted); throws only when the log cannot be opened.
 */
export function spawnQemu(binary: string, args: string[], logPath: string): ChildProcess {
  debug('spawn %s %j', binary, args);
  const logFd = openSync(logPath, 'w', 0o600);
  try {
    return spawn(binary, args, { stdio: ['ignore', logFd, logFd], detached: true });
  } finally {
    closeSync(logFd);
  }
}

/**
 * Waits until `child` has started. Returns a probe that says whether it has exited since; throws
 * ERR_QEMU_SPAWN (binary missing or not executable) when it could not start.
 */
export async function qemuStarted(child: ChildProcess, binary: string): Promise<() => boolean> {
  const spawnError = await new Promise<Error | null>((resolve) => {
    child.once('spawn', () => resolve(null));
    child.once('error', resolve);
  });
  if (spawnError) throw new GlasspaneError('ERR_QEMU_SPAWN', `cannot start ${binary}: ${spawnError.message}`, 'install QEMU (Debian: apt install qemu-system-x86) or set qemu.binary');
  let exited = false;
  child.once('exit', () => (exited = true));
  return () => exited;
}

/**
 * Waits until QEMU answers on `qmpSocket` (30 s) and reports running (10 s of query-status).
 * Throws ERR_QEMU_EXITED (with the log's tail) when it never answered or exited, and
 * ERR_VM_NOT_RUNNING when it stays in another state. The QMP connection is closed either way.
 */
export async function waitUntilRunning(child: ChildProcess, exited: () => boolean, qmpSocket: string, logPath: string): Promise<void> {
  let qmp: QmpClient;
  try {
    qmp = await connectQmp(qmpSocket, { timeoutMs: 30_000, stillStarting: () => !exited() });
  } catch (err) {
    const why = await logTail(logPath);
    throw new GlasspaneError('ERR_QEMU_EXITED', `QEMU did not come up: ${exited() ? `it exited (code ${child.exitCode})` : (err as Error).message}${why ? `\n${why}` : ''}`, `fix what the QEMU log says (${logPath}); \`glasspane vm up FILE --dry-run\` shows the command`);
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
}

/**
 * Kills `child` (SIGKILL) if it still runs and waits up to 10 s for it to end: QEMU must have
 * closed /dev/vfio/N before the devices go back, or the unbind blocks.
 */
export async function killQemu(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGKILL');
  for (let i = 0; i < 200 && child.exitCode === null && child.signalCode === null; i++) await sleep(50);
}

/** Waits up to `timeoutMs` for the VM process to be gone; true when it is. */
export async function waitForExit(pid: number, qmpSocket: string, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!isVmProcess(pid, qmpSocket)) return true;
    await sleep(50);
  }
  return !isVmProcess(pid, qmpSocket);
}
