/**
 * Opening the shared-memory region with errors a user can act on: which file, what is wrong
 * (missing, permissions, too small, not a region) and the fix. Below this only the native addon.
 */
import { accessSync, constants, statSync } from 'node:fs';
import { userInfo } from 'node:os';
import { native, type NativeRegion } from './native.js';
import { GlasspaneError } from './errors.js';
import { permissionFix } from './permission-fix.js';

/**
 * A mapped region as the layers above use it: the addon's NativeRegion (see src/native.ts for the
 * bounds, blocking and lifetime rules), made by openRegion().
 */
export type Region = NativeRegion;

/** What openRegion() may do beyond mapping an existing region as it is. */
export interface OpenRegionOptions {
  /** Create the file (regular /dev/shm files only) and grow it to at least this many bytes. */
  createBytes?: number;
  /** Map exactly this many bytes (e.g. a kvmfr device whose size ioctl is unavailable). */
  size?: number;
}

function describeOwner(path: string): string {
  try {
    const st = statSync(path);
    return `owner uid ${st.uid}, group gid ${st.gid}, mode ${(st.mode & 0o777).toString(8).padStart(4, '0')}`;
  } catch {
    return 'owner unknown';
  }
}

/** The EACCES/EPERM error for a region this user may not read and write, with the fix for its kind of path. */
function notAccessible(path: string, cause?: unknown): GlasspaneError {
  return new GlasspaneError('ERR_REGION_OPEN', `${path} is not readable and writable by ${userInfo().username} (${describeOwner(path)})`, permissionFix(path), { cause });
}

/**
 * Checks, before anything waits for it, that `path` (named by `flag`) can be a region: a missing
 * path is fine (the VM or the stub makes it later), a folder or anything but a file or a device
 * never can be (GlasspaneError ERR_USAGE, exit 2), and an existing one this user may not read
 * and write is ERR_REGION_OPEN (exit 4) now, not a wait for a file that is already there.
 * Synchronous; maps nothing.
 */
export function checkRegionPath(path: string, flag: string): void {
  const st = statSync(path, { throwIfNoEntry: false });
  if (!st) return;
  if (!st.isFile() && !st.isCharacterDevice()) {
    const what = st.isDirectory() ? 'a folder' : 'not a file or a device';
    throw new GlasspaneError('ERR_USAGE', `${flag} ${path} is ${what}: a region is a file (/dev/shm/NAME, a PCI BAR resource file) or a /dev/kvmfrN device`, `name the region file, e.g. ${flag} /dev/shm/looking-glass`);
  }
  try {
    accessSync(path, constants.R_OK | constants.W_OK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS') throw notAccessible(path, err);
    throw err;
  }
}

/**
 * Maps the region at `path` (/dev/shm/NAME, /dev/kvmfrN or a PCI BAR resource file) read-write,
 * synchronously. With `createBytes` a missing regular file is created and a smaller one grown
 * (never for /dev/kvmfr* or /sys/ paths, which must exist). The caller owns the returned Region and
 * must close() it; every view of its `buffer` dies with that close.
 *
 * Throws GlasspaneError ERR_USAGE for an empty path, ERR_REGION_OPEN when it does not exist, is not
 * readable and writable by this user (the fix names the udev/tmpfiles.d files), cannot be mapped
 * (EINVAL: not a region, 0 bytes, not a kvmfr device) or any other errno; ERR_NATIVE_MISSING when
 * the addon does not load. Nothing is checked about the region's contents here.
 */
export function openRegion(path: string, options: OpenRegionOptions = {}): Region {
  if (!path) throw new GlasspaneError('ERR_USAGE', 'no region path given', 'pass --shm /dev/shm/NAME or --shm /dev/kvmfr0');
  const create = options.createBytes !== undefined && !path.startsWith('/dev/kvmfr') && !path.startsWith('/sys/');
  try {
    return new native.Region(path, { create, size: create ? options.createBytes : options.size });
  } catch (err) {
    if (err instanceof GlasspaneError) throw err; // the addon itself is missing: its own fix
    const e = err as NodeJS.ErrnoException;
    switch (e.code) {
      case 'ENOENT':
        throw new GlasspaneError(
          'ERR_REGION_OPEN',
          `the shared-memory region ${path} does not exist`,
          path.startsWith('/dev/kvmfr')
            ? 'load the kvmfr module (modprobe kvmfr static_size_mb=64) or check the device number'
            : 'start the VM (its ivshmem mem-path) or `glasspane stub` first, or check the path',
          { cause: err },
        );
      case 'EACCES':
      case 'EPERM':
        throw notAccessible(path, err);
      case 'EINVAL':
        throw new GlasspaneError('ERR_REGION_OPEN', `${path} cannot be mapped: ${e.message}`, 'point --shm at the ivshmem region file or /dev/kvmfrN', {
          cause: err,
        });
      default:
        throw new GlasspaneError('ERR_REGION_OPEN', `cannot map ${path}: ${e.message}`, undefined, { cause: err });
    }
  }
}

/**
 * Whether the region's path still names the file we mapped, at the size we mapped. A host script
 * that deletes and re-creates the region (or a producer that grows it) leaves us holding the old,
 * unlinked file; re-opening is the cure. Returns why it changed, or null when it did not (also
 * for devices and BARs, which cannot be swapped under a mapping, and while the path is missing —
 * nothing to re-open yet). A path that cannot be looked at any more (EACCES: its folder's or its
 * own permissions changed; ENOTDIR, ELOOP) is a change too: re-opening then reports the cause
 * with its fix, where "unchanged" would hide it.
 */
export function regionFileChanged(region: Region): string | null {
  if (region.kind !== 'file' || region.closed) return null;
  let st;
  try {
    st = statSync(region.path, { bigint: true });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return null;
    return `${region.path} cannot be looked at any more (${code ?? (err as Error).message})`;
  }
  if (`${st.dev}:${st.ino}` !== region.fileId) return `${region.path} was deleted and created again`;
  if (st.size !== BigInt(region.byteLength)) return `${region.path} changed size from ${region.byteLength} to ${st.size} bytes`;
  return null;
}
