/**
 * The e2e guest: QEMU 7.2 under TCG booting the host's Debian kernel with a busybox initramfs
 * (test/vm/guest-image.ts builds it), an ivshmem-plain device backed by a fresh /dev/shm file,
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
import { BUSYBOX_CANDIDATES, findHostKernel, moduleClosure, writeInitramfs } from '../vm/guest-image.js';
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
  if (!findHostKernel()) return 'no readable /boot/vmlinuz-X with /lib/modules/X (apt-get install linux-image-amd64)';
  if (!BUSYBOX_CANDIDATES.some((p) => existsSync(p))) return 'no static busybox (apt-get install busybox-static)';
  if (!existsSync(path.join(ROOT, 'dist/src/cli/main.js'))) return 'dist/ is not built (npm run build)';
  if (!existsSync(path.join(ROOT, 'build/Release/glasspane.node'))) return 'the native addon is not built (npm install / node-gyp rebuild)';
  return '';
}

const MOUNT = 'trans=virtio,version=9p2000.L,ro,msize=262144,cache=loose';

/** The guest's /init. The project is mounted at /glasspane whatever its host path (a checkout under /tmp would be hidden by the guest's /tmp). */
function initScript(o: { guestNode: string; nodeMount: string; stubArgs: string }): string {
  return `#!/bin/sh
export PATH=/bin
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
exec >/dev/ttyS0 2>&1
for m in $(cat /modules/order); do insmod /modules/$m || echo "E2E insmod $m failed"; done
i=0
while [ $i -lt 600 ]; do
  if grep -q 'Handlers=.*kbd.*event' /proc/bus/input/devices && grep -q 'Handlers=mouse.*event' /proc/bus/input/devices; then break; fi
  sleep 0.1
  i=$((i+1))
done
grep -E '^(N|H):' /proc/bus/input/devices | sed 's/^/E2E dev /'
cd /newroot
mkdir -p usr proc sys dev tmp glasspane
ln -s usr/lib lib; ln -s usr/lib64 lib64; ln -s usr/bin bin; ln -s usr/sbin sbin
mount -t 9p -o ${MOUNT} usr /newroot/usr || echo "E2E mount usr failed"
mount -t 9p -o ${MOUNT} proj /newroot/glasspane || echo "E2E mount proj failed"
${o.nodeMount}
mount -t proc proc /newroot/proc
mount -t sysfs sys /newroot/sys
mount -t devtmpfs dev /newroot/dev
mount -t tmpfs tmp /newroot/tmp
echo "E2E booted $(cut -d' ' -f1 /proc/uptime)"
chroot /newroot ${o.guestNode} /glasspane/dist/src/cli/main.js stub --device auto --scene input-echo ${o.stubArgs} --quiet
echo "E2E stub-exit $?"
poweroff -f
`;
}

export async function startE2eGuest(o: E2eGuestOptions): Promise<E2eGuest> {
  const why = e2eUnavailable();
  if (why) throw new Error(`the e2e guest cannot run: ${why}`);
  const kernel = findHostKernel()!;
  const busybox = BUSYBOX_CANDIDATES.find((p) => existsSync(p))!;
  const dir = mkdtempSync(path.join(tmpdir(), 'glasspane-e2e-'));
  const shmPath = `/dev/shm/glasspane-e2e-${process.pid}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
  const regionMiB = o.regionMiB ?? 32;
  let qemu: QemuHandle | undefined;
  const cleanup = async () => {
    await qemu?.stop(true);
    rmSync(dir, { recursive: true, force: true });
    rmSync(shmPath, { force: true });
  };
  try {
    // Made here (not by QEMU) so it is ours to remove and the host relay can open it at once.
    const fd = openSync(shmPath, 'wx', 0o600);
    ftruncateSync(fd, regionMiB * 1024 * 1024);
    closeSync(fd);

    // The guest runs this very node: under /usr it comes with the /usr share, otherwise its
    // install directory is shared too (as test/vm/guest-vfio.test.ts does).
    const nodeInUsr = process.execPath.startsWith('/usr/');
    const nodeHome = path.dirname(path.dirname(process.execPath));
    const guestNode = nodeInUsr ? process.execPath : `/opt/node/bin/${path.basename(process.execPath)}`;
    const nodeMount = nodeInUsr ? '' : `mkdir -p /newroot/opt/node && mount -t 9p -o ${MOUNT} node /newroot/opt/node || echo "E2E mount node failed"`;
    const initrd = path.join(dir, 'initrd.cpio');
    const modules = moduleClosure(kernel.version, ['virtio_pci', '9p', '9pnet_virtio', 'evdev', 'psmouse']);
    const stubArgs = `--width ${o.width} --height ${o.height} --fps ${o.fps}`;
    writeInitramfs(initrd, { busybox, version: kernel.version, modules, init: initScript({ guestNode, nodeMount, stubArgs }) });
    const serialPath = path.join(dir, 'serial.log');
    const extraArgs = [
      '-m', String(o.memMiB ?? 512),
      '-kernel', kernel.vmlinuz, '-initrd', initrd,
      // no_timer_check: a loaded TCG host can fail the IO-APIC timer check and panic.
      '-append', 'console=ttyS0 no_timer_check quiet loglevel=3 panic=-1 rdinit=/init',
      '-no-reboot', '-serial', `file:${serialPath}`,
      '-virtfs', 'local,path=/usr,mount_tag=usr,security_model=none,readonly=on',
      '-virtfs', `local,path=${ROOT},mount_tag=proj,security_model=none,readonly=on`,
      ...(nodeInUsr ? [] : ['-virtfs', `local,path=${nodeHome},mount_tag=node,security_model=none,readonly=on`]),
      '-object', `memory-backend-file,id=gpshm,share=on,mem-path=${shmPath},size=${regionMiB}M`,
      '-device', 'ivshmem-plain,memdev=gpshm,addr=0x5',
    ];
    qemu = await startQemu({ transport: 'unix', dir, extraArgs });
    const serial = () => (existsSync(serialPath) ? readFileSync(serialPath, 'utf8') : '');
    let stopped = false;
    return {
      shmPath,
      spice: qemu.address,
      qemu,
      serial,
      lines: () => serial().split(/\r?\n/).filter((l) => l.startsWith('E2E ')).map((l) => l.slice(4)),
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
