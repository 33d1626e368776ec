/**
 * What a VM takes from the host besides its devices, and the giving back of all of it: the shared
 * memory region file, the private copy of the firmware variables, the SPICE password copy and the
 * sockets. `vm up` prepares these before QEMU starts; releaseHost() gives them back with the devices.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { debuglog } from 'node:util';
import { regionBytes, type VmConfig } from './config.js';
import type { HostRoot } from './host-root.js';
import { spicePasswordCopyPath, type RuntimePaths } from './qemu-args.js';
import { readSpicePassword } from '../spice/password.js';
import { formatSize } from './region-size.js';
import type { SysfsWriter } from './sysfs-writer.js';
import { restoreFromJournal } from './vfio.js';
import type { VmState } from './vm-state.js';

const debug = debuglog('glasspane:vm');

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

/** Under sudo: the invoking user's uid and gid (so their viewer can use what root made), else null. */
function sudoUser(): { uid: number; gid: number } | null {
  const uid = Number(process.env.SUDO_UID);
  const gid = Number(process.env.SUDO_GID);
  if (process.getuid?.() !== 0 || !Number.isInteger(uid) || !Number.isInteger(gid) || uid <= 0) return null;
  return { uid, gid };
}

/**
 * Creates or resizes the region file to the config's size, mode 0660 (under sudo owned by the
 * invoking user). Returns true when it made the file ours to remove at the end; false for no
 * region or a /dev/kvmfrN device (the kvmfr module owns its size and mode). Throws fs errors.
 */
export async function prepareRegion(config: VmConfig, log: (l: string) => void): Promise<boolean> {
  if (!config.region) return false;
  const p = config.region.path;
  if (/^\/dev\/kvmfr\d+$/.test(p)) return false; // the kvmfr module owns size and mode
  const bytes = regionBytes(config)!;
  const fh = await fs.open(p, 'a+', 0o660);
  try {
    await fh.truncate(bytes);
    await fh.chmod(0o660);
    // Under sudo, hand the file to the invoking user so their viewer can map it.
    const user = sudoUser();
    if (user) await fh.chown(user.uid, user.gid);
  } finally {
    await fh.close();
  }
  log(`region ${p}: ${formatSize(bytes)}, mode 0660`);
  return true;
}

/**
 * Copies the firmware variables template to the VM's own file (mode 0600) unless that exists.
 * Returns true when it made the copy. Throws fs errors (the files were checked before: see
 * config-files.ts).
 */
export async function prepareFirmware(config: VmConfig, log: (l: string) => void): Promise<boolean> {
  if (!config.firmware) return false;
  try {
    await fs.access(config.firmware.vars);
    return false;
  } catch {
    await fs.mkdir(path.dirname(config.firmware.vars), { recursive: true });
    await fs.copyFile(config.firmware.vars_template, config.firmware.vars);
    await fs.chmod(config.firmware.vars, 0o600);
    log(`firmware variables: private copy at ${config.firmware.vars}`);
    return true;
  }
}

/**
 * Writes the SPICE password for QEMU to `paths.spicePasswordCopy` (mode 0600) as `view
 * --spice-password-file` and `send` read it (one trailing newline dropped). Nothing without a
 * password file. Throws what readSpicePassword throws for a bad file, and fs errors.
 */
export async function writeSpicePasswordCopy(config: VmConfig, paths: RuntimePaths): Promise<void> {
  if (!paths.spicePasswordCopy || !config.spice?.password_file) return;
  await fs.writeFile(paths.spicePasswordCopy, readSpicePassword(config.spice.password_file), { mode: 0o600 });
  await fs.chmod(paths.spicePasswordCopy, 0o600);
}

/** Removes the sockets left by an earlier run, so QEMU can listen there. */
export async function removeSockets(paths: Pick<RuntimePaths, 'qmpSocket' | 'watchSocket' | 'spiceSocket'>): Promise<void> {
  for (const s of [paths.qmpSocket, paths.watchSocket, paths.spiceSocket]) if (s) await fs.rm(s, { force: true });
}

/** Under sudo, the viewer runs as the invoking user: give it the SPICE socket (not QMP). Never throws. */
export async function shareSpiceSocket(socket: string | null): Promise<void> {
  const user = sudoUser();
  if (!socket || !user) return;
  await fs.chown(socket, user.uid, user.gid).catch((err: Error) => debug('chown %s: %s', socket, err.message));
}

/**
 * Host cleanup after the VM ended: devices back (journal), region file (if we made it), sockets and
 * the SPICE password copy removed. Throws what restoreFromJournal throws; the journal then stays.
 */
export async function releaseHost(ctx: LifecycleContext, state: VmState): Promise<void> {
  await restoreFromJournal({ host: ctx.host, writer: ctx.writer, journalPath: state.journalPath, log: ctx.log });
  if (state.regionCreated && state.regionPath) await fs.rm(state.regionPath, { force: true });
  await removeSockets(state);
  await fs.rm(spicePasswordCopyPath(path.dirname(state.logPath), state.name), { force: true });
}
