/**
 * Read-only access to the host's /sys, /proc and /dev under a root prefix.
 *
 * Contract: every host path handed to this module is absolute as seen on a live host
 * ("/sys/bus/pci/devices/0000:2f:00.0/vendor"); the prefix (`--root DIR`) is added here and
 * nowhere else, so a captured tree attached to a bug report, or a fake tree in a test, is read
 * exactly like the real host. Reads never block on sysfs (attribute reads return at once);
 * writes that can hang live in sysfs-writer.ts, not here.
 */
import { promises as fs, constants as fsConstants, type Stats } from 'node:fs';
import path from 'node:path';

/**
 * The host's files under `root` (default "/", the live host; resolved to an absolute path). Every
 * method takes a host path (absolute, as on a live host: anything else throws Error) and never
 * writes. Reads are async and reject only for errors other than absence (EACCES, EIO…).
 */
export class HostRoot {
  /** Absolute directory standing for "/" ("/" on a live host). */
  readonly root: string;

  constructor(root = '/') {
    this.root = path.resolve(root);
  }

  /** True when the root is "/" (the real host, not a captured or fake tree). */
  get isLiveHost(): boolean {
    return this.root === '/';
  }

  /** The real path of a host path under the prefix. */
  resolve(hostPath: string): string {
    if (!hostPath.startsWith('/')) throw new Error(`host path must be absolute: ${hostPath}`);
    return this.isLiveHost ? hostPath : path.join(this.root, hostPath);
  }

  /** File contents with surrounding whitespace trimmed; null when the file is absent. */
  async read(hostPath: string): Promise<string | null> {
    try {
      return (await fs.readFile(this.resolve(hostPath), 'utf8')).trim();
    } catch (err) {
      if (isAbsent(err)) return null;
      throw err;
    }
  }

  /** The last component of a symlink's target ("vfio-pci" for a `driver` link); null when absent. */
  async linkName(hostPath: string): Promise<string | null> {
    try {
      return path.basename(await fs.readlink(this.resolve(hostPath)));
    } catch (err) {
      if (isAbsent(err) || (err as NodeJS.ErrnoException).code === 'EINVAL') return null;
      throw err;
    }
  }

  /** Entry names of a directory, sorted; [] when the directory is absent. */
  async list(hostPath: string): Promise<string[]> {
    try {
      return (await fs.readdir(this.resolve(hostPath))).sort();
    } catch (err) {
      if (isAbsent(err)) return [];
      throw err;
    }
  }

  /** lstat-free stat (follows links, as the kernel's paths do); null when absent. */
  async stat(hostPath: string): Promise<Stats | null> {
    try {
      return await fs.stat(this.resolve(hostPath));
    } catch (err) {
      if (isAbsent(err)) return null;
      throw err;
    }
  }

  /** True when the path exists, or is a symlink (even a dangling one). */
  async exists(hostPath: string): Promise<boolean> {
    return (await this.stat(hostPath)) !== null || (await this.linkName(hostPath)) !== null;
  }

  /** Whether this process could open the path for writing (access(2) W_OK). */
  async writable(hostPath: string): Promise<boolean> {
    try {
      await fs.access(this.resolve(hostPath), fsConstants.W_OK);
      return true;
    } catch {
      return false;
    }
  }
}

function isAbsent(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException)?.code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}
