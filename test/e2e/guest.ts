/**
 * The e2e guest: QEMU 7.2 under TCG booting the host's Debian kernel with a busybox initramfs
 * (test/support/initramfs.ts builds it), an ivshmem-plain device backed by a fresh /dev/shm file,
 * SPICE on a unix socket (test/spice/qemu.ts starts QEMU), and /usr plus this project shared
 * read-only over 9p so the guest runs the host's own node and the built glasspane. /init loads
 * evdev and the PS/2 mouse driver, waits for the keyboard and mouse, and then runs
 * `glasspane stub --device auto --scene input-echo` on the BAR as root. Lines it prints on the
 * serial port start with "E2E ".
 *
 * Contract: startE2eGuest() either returns a running guest or throws with the reason; stop()
 * kills QEMU and removes the temp dir and the /dev/shm file, and is safe to call twice. Callers
 * must call it (afterAll/finally).
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, closeSync, openSync, ftruncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { findBusybox, findHostKernel, hostKernel, hostShare, HOST_SHARE_MODULES, initLoadModules, initWaitForInput, INIT_START, moduleClosure, writeInitramfs, type ExtraFile, type HostShare } from '../support/initramfs.js';
import { haveQemu, startQemu, type QemuHandle } from '../spice/qemu.js';
import { ROOT } from '../support/helpers.js';

export interface E2eGuestOptions {
  width: number;
  height: number;
  fps: number;
  /** ivshmem size in MiB (a power of two; QEMU requires it). */
  regionMiB?: number;
  /** Guest RAM, MiB. */
  memMiB?: number;
}

export interface E2eGuest {
  /** The host side of the ivshmem region. */
  shmPath: string;
  /** SPICE address for glasspane (unix:/path). */
  spice: string;
  qemu: QemuHandle;
  /** Serial console output so far. */
  serial(): string;
  /** "E2E ..." lines so far, without the prefix. */
  lines(): string[];
  stop(): Promise<void>;
}

/** Why the e2e loop cannot run here, or '' when it can. */
export function e2eUnavailable(): string {
  if (process.platform !== 'linux') return 'needs Linux';
  if (!haveQemu()) return 'QEMU is not installed (apt-get install qemu-system-x86)';
  const kernel = hostKernel();
  if (typeof kernel === 'string') return kernel;
  if (!findBusybox()) return 'no static busybox (apt-get install busybox-static)';
  if (!existsSync(path.join(ROOT, 'dist/src/cli/main.js'))) return 'dist/ is not built (npm run build)';
  if (!existsSync(path.join(ROOT, 'build/Release/glasspane.node'))) return 'the native addon is not built (npm install / node-gyp rebuild)';
  return '';
}

/**
 * The guest's /init: input drivers and the host share (test/support/initramfs.ts), then the stub
 * on the ivshmem BAR; its exit status is the last "E2E" line before the guest powers off.
 */
function initScript(o: { guestNode: string; share: string; stubArgs: string }): string {
  const run = `echo "E2E booted $(cut -d' ' -f1 /proc/uptime)"
chroot /newroot ${o.guestNode} /glasspane/dist/src/cli/main.js stub --device auto --scene input-echo ${o.stubArgs} --quiet
echo "E2E stub-exit $?"
poweroff -f
`;
  return [INIT_START, initLoadModules('E2E'), initWaitForInput('E2E dev'), o.share, run].join('');
}

export async function startE2eGuest(o: E2eGuestOptions): Promise<E2eGuest> {
  const why = e2eUnavailable();
  if (why) throw new Error(`the e2e guest cannot run: ${why}`);
  const stubArgs = `--width ${o.width} --height ${o.height} --fps ${o.fps}`;
  return bootIvshmemGuest({
    tag: 'E2E',
    modules: ['evdev', 'psmouse'],
    regionMiB: o.regionMiB ?? 32,
    memMiB: o.memMiB,
    init: (share) => initScript({ guestNode: share.guestNode, share: share.init, stubArgs }),
  });
}

/** What bootIvshmemGuest() boots: the /init, what it needs, and the sizes. */
export interface IvshmemGuestOptions {
  /** The prefix of the lines /init prints for the host ("E2E", "CAP"). */
  tag: string;
  /** Modules beyond the host share's (with their dependencies), e.g. evdev and psmouse for input. */
  modules: string[];
  /** The /init script, given how the host share is mounted (hostShare's lines and node path). */
  init: (share: HostShare) => string;
  /** Files added at the initramfs root. */
  files?: ExtraFile[];
  /** ivshmem size in MiB (a power of two). */
  regionMiB: number;
  /** Guest RAM, MiB (default 512). */
  memMiB?: number;
}

/**
 * Boots a QEMU TCG guest on the host's kernel with an initramfs holding busybox, the modules and
 * `init`, the project and /usr shared over 9p, an ivshmem-plain device at 00:05.0 on a fresh
 * /dev/shm file, SPICE on a unix socket and the serial console in a file. Returns the running
 * guest (lines() are the serial lines that start with the tag, without it) or throws, having
 * cleaned up; stop() is safe twice.
 */
export async function bootIvshmemGuest(o: IvshmemGuestOptions): Promise<E2eGuest> {
  const kernel = findHostKernel();
  const busybox = findBusybox();
  if (!kernel || !busybox) throw new Error('a guest needs a readable host kernel (linux-image-amd64) and busybox-static');
  const dir = mkdtempSync(path.join(tmpdir(), 'glasspane-e2e-'));
  const shmPath = `/dev/shm/glasspane-e2e-${process.pid}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
  let qemu: QemuHandle | undefined;
  const cleanup = async () => {
    await qemu?.stop(true);
    rmSync(dir, { recursive: true, force: true });
    rmSync(shmPath, { force: true });
  };
  try {
    // Made here (not by QEMU) so it is ours to remove and the host relay can open it at once.
    const fd = openSync(shmPath, 'wx', 0o600);
    ftruncateSync(fd, o.regionMiB * 1024 * 1024);
    closeSync(fd);

    // The guest runs this very node on this very build, shared over 9p.
    const share = hostShare(ROOT, o.tag);
    const initrd = path.join(dir, 'initrd.cpio');
    const modules = moduleClosure(kernel.version, [...HOST_SHARE_MODULES, ...o.modules]);
    writeInitramfs(initrd, { busybox, version: kernel.version, modules, init: o.init(share), files: o.files });
    const serialPath = path.join(dir, 'serial.log');
    const extraArgs = [
      '-m', String(o.memMiB ?? 512),
      '-kernel', kernel.vmlinuz, '-initrd', initrd,
      // no_timer_check: a loaded TCG host can fail the IO-APIC timer check and panic.
      '-append', 'console=ttyS0 no_timer_check quiet loglevel=3 panic=-1 rdinit=/init',
      '-no-reboot', '-serial', `file:${serialPath}`,
      ...share.qemuArgs,
      '-object', `memory-backend-file,id=gpshm,share=on,mem-path=${shmPath},size=${o.regionMiB}M`,
      '-device', 'ivshmem-plain,memdev=gpshm,addr=0x5',
    ];
    qemu = await startQemu({ transport: 'unix', dir, extraArgs });
    const serial = () => (existsSync(serialPath) ? readFileSync(serialPath, 'utf8') : '');
    const prefix = `${o.tag} `;
    let stopped = false;
    return {
      shmPath,
      spice: qemu.address,
      qemu,
      serial,
      lines: () => serial().split(/\r?\n/).filter((l) => l.startsWith(prefix)).map((l) => l.slice(prefix.length)),
      async stop() {
        if (stopped) return;
        stopped = true;
        await cleanup();
      },
    };
  } catch (err) {
    await cleanup();
    throw err;
  }
}
