/**
 * A VM's files in the state directory: NAME.json (pid, sockets, journal; written once QEMU is
 * spawned, removed by `vm down`), NAME.journal.json (only while devices are lent) and NAME.log
 * (QEMU's output; it stays, so a stopped VM is told apart from a name that never ran).
 */
import { existsSync, promises as fs, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { GlasspaneError } from '../errors.js';

/**
 * What `vm status` says of a VM: QEMU running, paused (QMP), stopped (exited cleanly or by `vm
 * down`), crashed.
 */
export type VmStatus = 'running' | 'paused' | 'stopped' | 'crashed';

/**
 * A VM's state file (NAME.json): written by `vm up` once QEMU is spawned, read by `vm status` and
 * `vm down`. Paths are absolute; `pid` is only trusted after isVmProcess() confirms it.
 */
export interface VmState {
  name: string;
  pid: number;
  qmpSocket: string;
  watchSocket: string;
  spiceSocket: string | null;
  regionPath: string | null;
  /** Set when we created the region file (so we delete it at the end). */
  regionCreated: boolean;
  journalPath: string;
  root: string;
  logPath: string;
  startedAt: string;
  /** lifecycle.shutdown_timeout_s from the config, for `vm down`. */
  shutdownTimeoutS: number;
  /** `vm down` in progress: the supervisor leaves the restore to it. */
  stopping?: boolean;
  /** Set by whoever saw the end. */
  outcome?: 'stopped' | 'crashed';
}

/** $GLASSPANE_STATE_DIR, else /run/glasspane for root, else $XDG_RUNTIME_DIR/glasspane. */
export function defaultStateDir(): string {
  if (process.env.GLASSPANE_STATE_DIR) return process.env.GLASSPANE_STATE_DIR;
  if (process.getuid?.() === 0) return '/run/glasspane';
  return path.join(process.env.XDG_RUNTIME_DIR ?? path.join(os.tmpdir(), `glasspane-${process.getuid?.() ?? 'user'}`), 'glasspane');
}

/** The state file of VM `name` in state folder `dir` (NAME.json). */
export const statePath = (dir: string, name: string) => path.join(dir, `${name}.json`);
/** The host-state journal of VM `name` in state folder `dir` (NAME.journal.json). */
export const journalPathFor = (dir: string, name: string) => path.join(dir, `${name}.journal.json`);

/**
 * The state of VM `name`, or null when it has none (never ran, or `vm down` finished). Rejects
 * with GlasspaneError ERR_VM_STATE when the file cannot be read or is not JSON. The content is
 * not validated beyond JSON: it is our own file.
 */
export async function readState(dir: string, name: string): Promise<VmState | null> {
  try {
    return JSON.parse(await fs.readFile(statePath(dir, name), 'utf8')) as VmState;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new GlasspaneError('ERR_VM_STATE', `cannot read ${statePath(dir, name)}: ${(err as Error).message}`, 'delete the file if no QEMU of that VM is running');
  }
}

/**
 * Writes the state file atomically (temp file + rename, mode 0644: pids and paths only). Rejects
 * with the errno error of the write.
 */
export async function writeState(dir: string, state: VmState): Promise<void> {
  const file = statePath(dir, state.name);
  // Readable by all (pids and paths only) so `vm status` works without root; QMP stays root-only.
  await fs.writeFile(`${file}.tmp`, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o644 });
  await fs.rename(`${file}.tmp`, file);
}

/** Reads a /proc file (the default, readFileSync); tests pass one that fails as a hardened /proc does. */
export type ProcReader = (path: string) => string;

/** Whether a process `pid` exists, by signal 0: EPERM means it does (another user's). */
function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Whether `pid` is still this VM's QEMU: alive, not a zombie, and its command line names our QMP
 * socket (guards against pid reuse after a crash). Where /proc hides another user's processes
 * (mounted with hidepid: EACCES, or ENOENT although the process exists) the command line cannot
 * be read: the process counts as this VM's while it exists and its QMP socket is there, rather
 * than a running VM looking dead (and `vm up` starting a second one, or `vm down` skipping it).
 */
export function isVmProcess(pid: number, qmpSocket: string, read: ProcReader = (p) => readFileSync(p, 'utf8')): boolean {
  try {
    const stat = read(`/proc/${pid}/stat`);
    if (/^\d+ \(.*\) Z/s.test(stat)) return false;
    return read(`/proc/${pid}/cmdline`).includes(qmpSocket);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'EACCES' && code !== 'EPERM' && code !== 'ENOENT') throw err;
    // ENOENT with the process alive: hidepid=2 hides it; EACCES/EPERM: hidepid=1 shows it but not its files.
    return processExists(pid) && existsSync(qmpSocket);
  }
}

/** Whether `vm up` ever ran this VM from `dir`: its QEMU log stays after `vm down`, its state does not. */
export async function hasRunHere(dir: string, name: string): Promise<boolean> {
  for (const f of [`${name}.log`, `${name}.json`]) {
    if (await fs.stat(path.join(dir, f)).then(() => true, () => false)) return true;
  }
  return false;
}

/**
 * The error for a VM name that never ran from `dir`: GlasspaneError ERR_VM_UNKNOWN (returned, not
 * thrown).
 */
export function unknownVm(dir: string, name: string): GlasspaneError {
  return new GlasspaneError('ERR_VM_UNKNOWN', `no VM named ${name} has run from ${dir}`, 'check the name (the name = key of its TOML file), or pass the --state-dir that `vm up` used');
}

