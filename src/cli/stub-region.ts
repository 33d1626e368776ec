/**
 * The file `glasspane stub --shm PATH` writes into, made safe for what the user already had:
 * an existing file is used only when it already is an LGMP region (or still all zeros, as QEMU's
 * ivshmem creates it) and has no live producer (its LGMP heartbeat still moving: a second
 * producer would corrupt the first one's queues), unless --force; a file the stub creates gets mode 0660 whatever the umask
 * (QEMU often runs in the file's group and must map it), and is removed again when the stub
 * fails to start in it, so a failed run leaves nothing behind.
 */
import { closeSync, fchmodSync, openSync, readFileSync, readSync, rmSync, statSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { userInfo } from 'node:os';
import { GlasspaneError } from '../errors.js';
import { HEADER, LGMP } from '../lgmp/layout.js';

/** The mode a region file the stub creates gets (rw for owner and group), whatever the umask. */
export const REGION_FILE_MODE = 0o660;

/** What a region file holds in its first bytes. */
function headerKind(path: string): 'lgmp' | 'zeros' | 'other' {
  const fd = openSync(path, 'r');
  try {
    const head = Buffer.alloc(64);
    const n = readSync(fd, head, 0, head.length, 0);
    if (n >= 4 && head.readUInt32LE(0) === LGMP.MAGIC) return 'lgmp';
    return head.subarray(0, n).every((b) => b === 0) ? 'zeros' : 'other';
  } finally {
    closeSync(fd);
  }
}

/**
 * How long claimRegionFile() watches an LGMP region's heartbeat before calling its producer gone.
 * B7 producers (and the stub) beat every 10 ms; a guest that is merely busy still beats well
 * within this, while waiting LGMP's full second would slow every restart over a dead region.
 */
export const LIVE_PRODUCER_WATCH_MS = 500;

/** The LGMP heartbeat word (the producer's clock in ms) of the region file at `path`, read with pread. */
function heartbeat(path: string): bigint {
  const fd = openSync(path, 'r');
  try {
    const b = Buffer.alloc(8);
    return readSync(fd, b, 0, 8, HEADER.timestamp) === 8 ? b.readBigUInt64LE(0) : 0n;
  } finally {
    closeSync(fd);
  }
}

/** Whether a producer is writing the region file at `path`: its heartbeat moves within `ms`. */
export async function producerAlive(path: string, ms = LIVE_PRODUCER_WATCH_MS): Promise<boolean> {
  const first = heartbeat(path);
  for (const end = performance.now() + ms; performance.now() < end; ) {
    await sleep(10);
    if (heartbeat(path) !== first) return true;
  }
  return false;
}

/** The group's name from /etc/group, else its number. */
export function groupName(gid: number): string {
  try {
    const line = readFileSync('/etc/group', 'utf8')
      .split('\n')
      .find((l) => l.split(':')[2] === String(gid));
    if (line) return line.split(':')[0]!;
  } catch {
    /* no /etc/group: the number will do */
  }
  return String(gid);
}

/** A region file the stub may use, as claimRegionFile() left it. */
export interface ClaimedRegionFile {
  /** The stub created the file (remove it when starting fails). */
  created: boolean;
  /** One line for the user: path, mode, owner and group. */
  describe(): string;
  /** Removes the file if the stub created it. */
  discardIfCreated(): void;
}

/**
 * Checks (and creates) a /dev/shm-style region file before the stub maps it. Device paths
 * (/dev/kvmfrN, PCI BAR files under /sys) are left to the mapping code. Resolves once the file
 * is checked (an LGMP region is watched for up to LIVE_PRODUCER_WATCH_MS). Rejects with
 * GlasspaneError ERR_NOT_A_REGION for a non-empty file without the LGMP magic, ERR_REGION_IN_USE
 * for a region whose producer is alive (neither with `force`), ERR_REGION_OPEN when the file
 * cannot be created; the created file is empty (the stub sizes it).
 */
export async function claimRegionFile(path: string, force: boolean): Promise<ClaimedRegionFile> {
  let created = false;
  let st = statSync(path, { throwIfNoEntry: false });
  const kind = st && st.isFile() && st.size > 0 && !force ? headerKind(path) : null;
  if (kind === 'other') {
    throw new GlasspaneError(
      'ERR_NOT_A_REGION',
      `${path} is a ${st!.size}-byte file that is not an LGMP region (no "LGMP" magic at offset 0): the stub would overwrite it`,
      'name a new file (e.g. /dev/shm/looking-glass) or an existing region; add --force only if its content may be destroyed',
    );
  }
  if (kind === 'lgmp' && (await producerAlive(path))) {
    throw new GlasspaneError(
      'ERR_REGION_IN_USE',
      `${path} has a live producer (its LGMP heartbeat is moving): a second one would corrupt its queues and every viewer's session`,
      'stop the other producer (the guest application or the other `glasspane stub`), or name another --shm; add --force only to take the region over anyway',
    );
  }
  if (!st && !path.startsWith('/dev/kvmfr') && !path.startsWith('/sys/')) {
    let fd: number;
    try {
      fd = openSync(path, 'wx', REGION_FILE_MODE);
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      throw new GlasspaneError('ERR_REGION_OPEN', `cannot create ${path}: ${e.code ?? e.message}`, 'name a file in a folder you can write in, e.g. /dev/shm/looking-glass', { cause: err });
    }
    try {
      fchmodSync(fd, REGION_FILE_MODE); // the umask took bits off the mode given to open()
    } finally {
      closeSync(fd);
    }
    created = true;
    st = statSync(path);
  }
  return {
    created,
    describe: () => {
      const now = statSync(path, { throwIfNoEntry: false }) ?? st;
      if (!now) return path;
      const owner = now.uid === userInfo().uid ? userInfo().username : String(now.uid);
      return `${path} (${created ? 'created, ' : ''}mode ${(now.mode & 0o777).toString(8).padStart(4, '0')}, owner ${owner}, group ${groupName(now.gid)})`;
    },
    discardIfCreated: () => {
      if (created) rmSync(path, { force: true });
    },
  };
}
