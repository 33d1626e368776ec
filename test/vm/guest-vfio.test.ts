/**
 * Real kernel, real sysfs: a q35 guest with an emulated Intel IOMMU boots the host's Debian
 * kernel, mounts /usr and this project over 9p (read-only), loads vfio-pci and runs the built
 * `glasspane vfio bind/unbind` against a spare e1000 NIC. Then a bind of the NIC plus a PCIe root
 * port, which vfio-pci refuses to drive (bridges are not normal-header devices), must roll the
 * NIC back to e1000 and the port back to pcieport. Last, a VFIO user (python, as QEMU would)
 * holds the NIC: the unbind from vfio-pci blocks inside write() for real, glasspane reports it
 * stuck after its timeout and keeps the journal, and after the holder exits `vfio restore` brings
 * the NIC back. Then `vm up` passes the NIC to a nested (TCG) QEMU by vfio-pci for real, `vm status`
 * says running, and a kill -9 of that QEMU is seen by the detached supervisor, which gives the NIC
 * back to e1000. The guest reports over its serial console.
 *
 * Needs what tools/setup installs: qemu-system-x86, linux-image-amd64, busybox-static; and dist/
 * built (npm test builds it first).
 */
import { spawn } from 'node:child_process';
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { findBusybox, findHostKernel, hostShare, HOST_SHARE_MODULES, initLoadModules, INIT_START, moduleClosure, writeInitramfs } from '../support/initramfs.js';
import { makeTempDir } from './fake-sysfs.js';
import { GUEST_PARTS, needs } from '../support/system.js';
import { progressLog } from '../support/progress.js';

const NIC = '0000:00:05.0';
const PORT = '0000:00:06.0';

const GUEST = `
export PATH=/usr/sbin:/usr/bin HOME=/tmp NODE=__NODE__
modprobe e1000 || echo "GP modprobe e1000 failed"
# QEMU's emulated VT-d here has no interrupt remapping; type1 refuses containers without this.
modprobe vfio_iommu_type1 allow_unsafe_interrupts=1 || echo "GP modprobe vfio_iommu_type1 failed"
modprobe vfio-pci || echo "GP modprobe vfio-pci failed"
echo "GP t0 $(cut -d' ' -f1 /proc/uptime)"
drv() { if [ -e /sys/bus/pci/devices/$1/driver ]; then basename "$(readlink /sys/bus/pci/devices/$1/driver)"; else echo none; fi; }
j() { if [ -e "$1" ]; then echo yes; else echo no; fi; }
G="\$NODE /glasspane/dist/src/cli/main.js"
echo "GP before nic=$(drv ${NIC}) port=$(drv ${PORT}) groups=$(ls /sys/kernel/iommu_groups | wc -l)"
$G iommu --json > /tmp/iommu.json; echo "GP iommu rc=$? nicgroup=$(basename "$(readlink /sys/bus/pci/devices/${NIC}/iommu_group)")"
$G vfio bind ${NIC} --journal /tmp/j.json --timeout 120; echo "GP bind rc=$? nic=$(drv ${NIC}) override=$(cat /sys/bus/pci/devices/${NIC}/driver_override) journal=$(j /tmp/j.json)"
$G vfio unbind ${NIC} --journal /tmp/j.json --timeout 120; echo "GP unbind rc=$? nic=$(drv ${NIC}) override=$(cat /sys/bus/pci/devices/${NIC}/driver_override) journal=$(j /tmp/j.json)"
$G vfio bind ${NIC} ${PORT} --journal /tmp/j2.json --timeout 120 2>/tmp/err; echo "GP rollback rc=$? nic=$(drv ${NIC}) port=$(drv ${PORT}) journal=$(j /tmp/j2.json)"
echo "GP t1 $(cut -d' ' -f1 /proc/uptime)"
echo "GP rollback-error $(tr '\\n' ' ' < /tmp/err | head -c 400)"
# A VFIO user holds the device (as QEMU would): the unbind from vfio-pci blocks in write().
cat > /tmp/hold.py <<'PY'
import fcntl, os, struct, sys, time
addr = sys.argv[1]
group = os.path.basename(os.readlink('/sys/bus/pci/devices/%s/iommu_group' % addr))
container = os.open('/dev/vfio/vfio', os.O_RDWR)
g = os.open('/dev/vfio/' + group, os.O_RDWR)
fcntl.ioctl(g, 0x3b68, bytearray(struct.pack('i', container)), True)  # VFIO_GROUP_SET_CONTAINER
fcntl.ioctl(container, 0x3b66, 1)  # VFIO_SET_IOMMU, VFIO_TYPE1_IOMMU
fd = fcntl.ioctl(g, 0x3b6a, bytearray(addr.encode() + bytes(1)), True)  # VFIO_GROUP_GET_DEVICE_FD
print('held fd=%d' % fd, flush=True)
time.sleep(3600)
PY
$G vfio bind ${NIC} --journal /tmp/j3.json --timeout 120 > /dev/null 2>&1
python3 /tmp/hold.py ${NIC} > /tmp/hold.out 2>&1 &
HOLDER=$!
for i in $(seq 1 600); do grep -q held /tmp/hold.out && break; sleep 0.2; done
echo "GP hold $(head -c 200 /tmp/hold.out | tr '\\n' ' ')"
$G vfio unbind ${NIC} --journal /tmp/j3.json --timeout 15 2>/tmp/err3; echo "GP stuck rc=$? journal=$(j /tmp/j3.json)"
echo "GP stuck-error $(tr '\\n' ' ' < /tmp/err3 | head -c 400)"
kill $HOLDER; wait $HOLDER 2>/dev/null
for i in $(seq 1 600); do [ "$(drv ${NIC})" = none ] && break; sleep 0.2; done
$G vfio restore --journal /tmp/j3.json > /dev/null; echo "GP released rc=$? nic=$(drv ${NIC}) journal=$(j /tmp/j3.json)"
echo "GP t2 $(cut -d' ' -f1 /proc/uptime)"
# The whole lifecycle with real passthrough: a nested QEMU gets the NIC by vfio-pci.
cat > /tmp/inner.toml <<'T'
name = "inner"
[qemu]
accel = "tcg"
[cpu]
cores = 1
[memory]
size = "64M"
[gpu]
functions = ["${NIC}"]
[region]
path = "/tmp/inner-region"
width = 640
height = 480
[network]
mode = "none"
T
$G vm up /tmp/inner.toml --state-dir /run/gp > /tmp/up.out 2> /tmp/up.err; echo "GP vmup rc=$? nic=$(drv ${NIC})"
echo "GP vmup-log $(tr '\\n' ' ' < /tmp/up.err | head -c 600)"
ST=$($G vm status inner --json --state-dir /run/gp); echo "GP vmstatus $ST"
PID=$(echo "$ST" | sed -n 's/.*"pid":\\([0-9]*\\).*/\\1/p')
kill -9 "$PID"
for i in $(seq 1 600); do [ "$(drv ${NIC})" = e1000 ] && [ ! -e /run/gp/inner.journal.json ] && break; sleep 0.2; done
echo "GP crashed nic=$(drv ${NIC}) journal=$(j /run/gp/inner.journal.json) $($G vm status inner --json --state-dir /run/gp)"
# A QEMU that dies at start: vm up must give the NIC back before it reports the error.
cat > /tmp/broken.toml <<'T'
name = "broken"
[qemu]
accel = "tcg"
extra_args = ["-no-such-flag"]
[cpu]
cores = 1
[memory]
size = "64M"
[gpu]
functions = ["${NIC}"]
[network]
mode = "none"
T
$G vm up /tmp/broken.toml --state-dir /run/gp > /dev/null 2> /tmp/broken.err; echo "GP broken rc=$? nic=$(drv ${NIC}) journal=$(j /run/gp/broken.journal.json)"
echo "GP broken-error $(tr '\\n' ' ' < /tmp/broken.err | head -c 300)"
echo "GP t3 $(cut -d' ' -f1 /proc/uptime)"
`;

const kernel = findHostKernel();
const busybox = findBusybox();
const dir = makeTempDir('glasspane-guest-');
let qemuPid: number | undefined;

afterAll(() => {
  if (qemuPid) {
    try {
      process.kill(qemuPid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
  rmSync(dir, { recursive: true, force: true });
});

/** Boots the guest; resolves with the "GP ..." lines it printed. */
function bootGuest(): Promise<{ lines: string[]; log: string }> {
  const progress = progressLog('guest-vfio');
  progress('booting the q35 guest under TCG (a few minutes on a busy machine)');
  const initrd = path.join(dir, 'initrd.cpio');
  const modules = moduleClosure(kernel!.version, HOST_SHARE_MODULES);
  // The guest runs this very node binary on this very build, shared over 9p.
  const share = hostShare(process.cwd(), 'GP');
  const init = [
    INIT_START,
    initLoadModules('GP'),
    share.init,
    `cat > /newroot/guest.sh <<'EOF'\n${GUEST.replace('__NODE__', share.guestNode)}\nEOF\n`,
    'chroot /newroot /bin/sh /guest.sh\necho "GP end"\npoweroff -f\n',
  ].join('');
  writeInitramfs(initrd, { busybox: busybox!, version: kernel!.version, modules, init });
  // no_timer_check: on a busy host TCG can be too slow for the kernel's IO-APIC timer check,
  // which panics when interrupt remapping is on ("timer doesn't work through Interrupt-remapped IO-APIC").
  const args: string[] = [
    '-machine', 'q35,accel=tcg', '-cpu', 'max', '-m', '1024', '-smp', '2',
    '-nodefaults', '-no-user-config', '-display', 'none', '-serial', 'stdio', '-no-reboot',
    '-device', 'intel-iommu',
    '-kernel', kernel!.vmlinuz, '-initrd', initrd,
    '-append', 'console=ttyS0 intel_iommu=on no_timer_check quiet loglevel=3 panic=-1 rdinit=/init',
    ...share.qemuArgs,
    '-device', 'e1000,addr=0x5',
    '-device', 'pcie-root-port,id=rp1,addr=0x6,chassis=1',
  ];
  return new Promise((resolve, reject) => {
    const q = spawn('qemu-system-x86_64', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    qemuPid = q.pid;
    let log = '';
    let shown = 0;
    q.stdout.setEncoding('utf8').on('data', (d: string) => {
      log += d;
      // Each "GP ..." line the guest prints is a step done: show it now (the test takes minutes).
      const lines = log.split(/\r?\n/).slice(0, -1).filter((l) => l.startsWith('GP '));
      for (const l of lines.slice(shown)) progress(l.slice(3, 120));
      shown = lines.length;
    });
    q.stderr.setEncoding('utf8').on('data', (d: string) => (log += d));
    q.on('error', reject);
    q.on('close', () => {
      const lines = log.split(/\r?\n/).filter((l) => l.startsWith('GP ')).map((l) => l.slice(3));
      resolve({ lines, log });
    });
  });
}

describe.skipIf(needs(...GUEST_PARTS))('vfio against a real kernel (q35 + intel-iommu guest)', () => {
  it('binds a NIC to vfio-pci and back, rolls back when vfio-pci refuses it, reports a real stuck unbind, passes it to a nested QEMU', async () => {
    expect(kernel, 'no /boot/vmlinuz-X with /lib/modules/X: install linux-image-amd64').not.toBeNull();
    expect(busybox, 'no static busybox: install busybox-static').toBeDefined();
    expect(existsSync('dist/src/cli/main.js'), 'dist/ missing: run npm run build (npm test does)').toBe(true);
    const { lines, log } = await bootGuest();
    if (process.env.GLASSPANE_GUEST_LOG) writeFileSync(process.env.GLASSPANE_GUEST_LOG, log); // for debugging
    const line = (prefix: string) => lines.find((l) => l.startsWith(prefix)) ?? `(missing "${prefix}"; serial log tail:\n${log.slice(-3000)})`;
    expect(lines.filter((l) => / failed$/.test(l)), log.slice(-3000)).toEqual([]);
    expect(line('before')).toMatch(/^before nic=e1000 port=pcieport groups=[1-9]/);
    expect(line('iommu')).toMatch(/^iommu rc=0 nicgroup=\d+/);
    expect(line('bind')).toBe('bind rc=0 nic=vfio-pci override=vfio-pci journal=yes');
    expect(line('unbind')).toBe('unbind rc=0 nic=e1000 override=(null) journal=no');
    // Exit status 4: the host refused (docs/cli.md), not a usage error.
    expect(line('rollback ')).toBe('rollback rc=4 nic=e1000 port=pcieport journal=no');
    expect(line('rollback-error')).toMatch(new RegExp(`${PORT} is unbound after drivers_probe, not to vfio-pci \\(host restored`));
    // the real "write that never returns": reported as stuck after the timeout, journal kept,
    // and once the VFIO user lets go, restore brings the NIC home
    expect(line('hold')).toMatch(/^hold held fd=\d+/);
    expect(line('stuck ')).toBe('stuck rc=4 journal=yes');
    expect(line('stuck-error')).toMatch(/writing "0000:00:05.0" to \/sys\/bus\/pci\/drivers\/vfio-pci\/unbind did not return/);
    expect(line('released')).toBe('released rc=0 nic=e1000 journal=no');
    // vm up with real passthrough: bound, QEMU running with the NIC; kill -9 → crashed, NIC back
    expect(line('vmup ')).toBe('vmup rc=0 nic=vfio-pci');
    expect(line('vmstatus')).toMatch(/^vmstatus \{"name":"inner","status":"running","pid":\d+,"qmpSocket":"\/run\/gp\/inner.qmp"\}$/);
    expect(line('crashed')).toMatch(/^crashed nic=e1000 journal=no \{"name":"inner","status":"crashed","pid":\d+,"qmpSocket":"\/run\/gp\/inner.qmp"\}$/);
    expect(line('broken ')).toBe('broken rc=4 nic=e1000 journal=no');
    expect(line('broken-error')).toMatch(/QEMU did not come up.*no-such-flag/);
    expect(line('end')).toBe('end');
  }, 900_000);
});
