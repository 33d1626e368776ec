/**
 * Writes to sysfs attributes, each in a child process with a timeout.
 *
 * Why a child process: a write to `unbind` can block forever inside write(2) (vfio-pci while
 * QEMU still holds the device, nvidia while in use). Done on the event loop or in a libuv pool
 * thread that would hang glasspane itself; done in a child we give up after the timeout, report
 * the write as stuck, and leave the (possibly unkillable, D-state) child behind unreferenced.
 *
 * Errors carry the errno the kernel returned (EBUSY: already bound / group owned by VFIO,
 * ENODEV: no such device or not bound to that driver), the path and the value.
 */
import { spawn } from 'node:child_process';
import { debuglog } from 'node:util';
import { GlasspaneError } from '../errors.js';
import type { HostRoot } from './host-root.js';

const debug = debuglog('glasspane:vm');

/** Where the vfio code sends its writes; the real one is ChildProcessWriter, tests add a fake kernel. */
export interface SysfsWriter {
  /** Writes `value` to the host path (no newline is added). Rejects with SysfsWriteError. */
  write(hostPath: string, value: string): Promise<void>;
}

/**
 * A sysfs write that failed (ERR_SYSFS_WRITE, with the kernel's errno and a fix for it) or never
 * returned (ERR_SYSFS_STUCK, errno "ETIMEDOUT"). Carries the host path and the value written.
 */
export class SysfsWriteError extends GlasspaneError {
  /** errno name from the kernel ("EBUSY"), or "ETIMEDOUT" for a write that never returned. */
  readonly errno: string;
  readonly path: string;
  readonly value: string;
  constructor(errno: string, hostPath: string, value: string, detail?: string) {
    const shown = JSON.stringify(value);
    const stuck = errno === 'ETIMEDOUT';
    super(
      stuck ? 'ERR_SYSFS_STUCK' : 'ERR_SYSFS_WRITE',
      stuck
        ? `writing ${shown} to ${hostPath} did not return (${detail ?? 'timed out'}); the kernel is blocked in this write`
        : `writing ${shown} to ${hostPath} failed with ${errno}${detail ? ` (${detail})` : ''}`,
      stuck
        ? 'a process still uses the device (QEMU holding vfio-pci, or a host driver in use): stop it, then run `glasspane vfio restore`'
        : errnoFix(errno),
    );
    this.errno = errno;
    this.path = hostPath;
    this.value = value;
  }
}

function errnoFix(errno: string): string {
  switch (errno) {
    case 'EBUSY':
      return 'the device is already bound or its IOMMU group is in use by VFIO: stop the VM using it and retry';
    case 'ENODEV':
      return 'the device is not bound to that driver, or the driver does not support it: check `glasspane iommu`';
    case 'EACCES':
    case 'EPERM':
      return 'sysfs writes need root: run with sudo';
    case 'ENOENT':
      return 'the sysfs file is missing: is the device present and the driver module loaded?';
    default:
      return 'check `dmesg` for the kernel message about this write';
  }
}

/** Runs in the child: one open + one write, so sysfs sees the value in a single store() call. */
const CHILD_SCRIPT = `
const fs = require('fs');
const [p, v] = process.argv.slice(1);
try { const fd = fs.openSync(p, 'w'); fs.writeSync(fd, v); fs.closeSync(fd); }
catch (e) { process.stderr.write(JSON.stringify({ code: e.code || 'EIO', message: e.message })); process.exit(3); }
`;

/**
 * The real writer (see the module comment): each write runs `node -e` in a child with a timeout
 * (ms, default 10 s) under the HostRoot's prefix. Never blocks the event loop; a stuck child is
 * left behind unreferenced (it may be unkillable) and the write rejects with ERR_SYSFS_STUCK.
 */
export class ChildProcessWriter implements SysfsWriter {
  constructor(
    private readonly host: HostRoot,
    private readonly timeoutMs = 10_000,
  ) {}

  write(hostPath: string, value: string): Promise<void> {
    const real = this.host.resolve(hostPath);
    debug('write %j -> %s', value, real);
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, ['-e', CHILD_SCRIPT, real, value], {
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      let stderr = '';
      let settled = false;
      child.stderr.setEncoding('utf8');
      child.stderr.on('data', (chunk: string) => (stderr += chunk));
      const timer = setTimeout(() => {
        if (settled) return;
        settled = true;
        // A task in uninterruptible sleep ignores SIGKILL; do not wait for it, do not let it
        // keep our event loop alive.
        child.kill('SIGKILL');
        child.stderr.destroy();
        child.unref();
        reject(new SysfsWriteError('ETIMEDOUT', hostPath, value, `no answer after ${this.timeoutMs} ms`));
      }, this.timeoutMs);
      child.on('error', (err) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        reject(new SysfsWriteError('EIO', hostPath, value, `could not start the writer process: ${err.message}`));
      });
      child.on('close', (code) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (code === 0) return resolve();
        let errno = 'EIO';
        try {
          errno = (JSON.parse(stderr) as { code: string }).code;
        } catch {
          /* keep EIO */
        }
        reject(new SysfsWriteError(errno, hostPath, value));
      });
    });
  }
}

/** Records writes instead of making them: the `--dry-run` writer. */
export class RecordingWriter implements SysfsWriter {
  readonly writes: { path: string; value: string }[] = [];
  async write(hostPath: string, value: string): Promise<void> {
    this.writes.push({ path: hostPath, value });
  }
}
