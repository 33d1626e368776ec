/**
 * The host-state journal: what every device, framebuffer and console looked like before glasspane
 * changed anything. Written (atomically, fsync'd) before the first sysfs write, kept while the
 * devices are lent to VFIO, replayed by rollback, `vfio restore` and `vm down`, removed once the
 * host is back. A journal on disk therefore always means "the host may not be in its original
 * state", including after a crash or a `kill -9` of glasspane.
 *
 * Default location is under /run, a tmpfs: a reboot resets the host and the journal with it.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { GlasspaneError } from '../errors.js';

/**
 * One PCI function as it was before glasspane changed it: its address and the driver and
 * driver_override to put back.
 */
export interface JournalDevice {
  address: string;
  /** Driver bound before glasspane touched it; null when it was unbound. */
  driver: string | null;
  driverOverride: string | null;
}

/** A sysfs attribute to put back by writing its original value (vtconsole `bind`). */
export interface JournalAttribute {
  path: string;
  value: string;
}

/** A platform framebuffer device that was bound to its driver (efi-framebuffer.0, ...). */
export interface JournalFramebuffer {
  driver: string;
  device: string;
}

/** The journal file's content (JSON, version 1); see the module comment for its lifetime. */
export interface Journal {
  version: 1;
  /** Who wrote it: "vfio" for the command, "vm:NAME" for a VM. */
  owner: string;
  pid: number;
  createdAt: string;
  /** The --root the writes went to ("/" on a live host); restore refuses a different one. */
  root: string;
  devices: JournalDevice[];
  framebuffers: JournalFramebuffer[];
  consoles: JournalAttribute[];
}

/**
 * An empty journal for `owner` ("vfio" or "vm:NAME") and the --root the writes go to, stamped with
 * this process's pid and the time.
 */
export function newJournal(owner: string, root: string): Journal {
  return { version: 1, owner, pid: process.pid, createdAt: new Date().toISOString(), root, devices: [], framebuffers: [], consoles: [] };
}

/**
 * Writes via a temp file + fsync + rename, so a crash leaves the old or the new journal, never
 * half. The folder is made (mode 0700) when missing, the file is 0600. Rejects with the errno
 * error of the write (a read-only or full /run).
 */
export async function writeJournal(file: string, journal: Journal): Promise<void> {
  await fs.mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.tmp`;
  const fh = await fs.open(tmp, 'w', 0o600);
  try {
    await fh.writeFile(`${JSON.stringify(journal, null, 2)}\n`);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await fs.rename(tmp, file);
}

/**
 * The journal at `file`, or null when there is none. Rejects with GlasspaneError
 * ERR_JOURNAL_CORRUPT when it is not a version-1 journal (the fix says how to restore by hand),
 * and with the errno error of a read that fails otherwise.
 */
export async function readJournal(file: string): Promise<Journal | null> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  try {
    const j = JSON.parse(text) as Journal;
    if (j.version !== 1 || !Array.isArray(j.devices)) throw new Error('unknown layout');
    j.framebuffers ??= [];
    j.consoles ??= [];
    return j;
  } catch (err) {
    throw new GlasspaneError(
      'ERR_JOURNAL_CORRUPT',
      `the journal ${file} cannot be read: ${(err as Error).message}`,
      'restore the devices by hand (`glasspane vfio unbind ADDR`), then delete the file',
    );
  }
}

/** Deletes the journal (no error when it is already gone): the host is back as it was. */
export async function removeJournal(file: string): Promise<void> {
  await fs.rm(file, { force: true });
}
