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

export function newJournal(owner: string, root: string): Journal {
  return { version: 1, owner, pid: process.pid, createdAt: new Date().toISOString(), root, devices: [], framebuffers: [], consoles: [] };
}

/** Writes via a temp file + fsync + rename, so a crash leaves the old or the new journal, never half. */
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

/** The journal at `file`, or null when there is none. */
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

export async function removeJournal(file: string): Promise<void> {
  await fs.rm(file, { force: true });
}
