/** doctor and iommu over fake --root trees, and the vfio/vm commands' dry runs, through commander. */
import { readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { Command } from 'commander';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { registerDoctor } from '../../src/cli/commands/doctor.js';
import { registerIommu } from '../../src/cli/commands/iommu.js';
import { registerVfio } from '../../src/cli/commands/vfio.js';
import { registerVm } from '../../src/cli/commands/vm.js';
import { parseVmConfig } from '../../src/vm/config.js';
import { runDoctor, requireHostReady } from '../../src/vm/doctor.js';
import type { Check } from '../../src/vm/check.js';
import { HostRoot } from '../../src/vm/host-root.js';
import { xorgBusId } from '../../src/vm/pci.js';
import { amdDualGpuHost, makeFakeHost, makeTempDir, snapshotTree, type FakeHostSpec } from './fake-sysfs.js';
import { spawnSync } from 'node:child_process';

const roots: string[] = [];
afterEach(() => {
  vi.restoreAllMocks();
  process.exitCode = undefined;
  while (roots.length) rmSync(roots.pop()!, { recursive: true, force: true });
});

function tree(spec: FakeHostSpec): string {
  const r = makeFakeHost(spec);
  roots.push(r);
  return r;
}

const GOOD_FILES: Record<string, string> = {
  '/proc/cpuinfo': 'vendor_id\t: AuthenticAMD\nflags\t\t: fpu vme svm sse2\n',
  '/proc/cmdline': 'BOOT_IMAGE=/vmlinuz root=/dev/nvme0n1p2 iommu=pt vfio-pci.ids=1002:73df video=efifb:off\n',
  '/proc/meminfo': 'MemTotal: 65000000 kB\nHugePages_Total:    8192\nHugePages_Free:     8192\nHugepagesize:       2048 kB\n',
  '/dev/kvm': '',
  '/dev/vfio/vfio': '',
  '/sys/firmware/acpi/tables/IVRS': '',
  '/sys/module/vfio_pci/refcnt': '0\n',
  '/sys/module/vfio_iommu_type1/parameters/allow_unsafe_interrupts': 'N\n',
  '/proc/iomem': '00000000-00000fff : Reserved\n',
};

const byId = (checks: Check[]) => Object.fromEntries(checks.map((c) => [c.id, c]));

/** Runs one CLI invocation; returns stdout and the exit code the command set. */
async function cli(register: (p: Command) => void, args: string[]): Promise<{ out: string; code: number }> {
  const program = new Command().exitOverride();
  register(program);
  let out = '';
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    out += String(chunk);
    return true;
  });
  vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
  process.exitCode = undefined;
  await program.parseAsync(['node', 'glasspane', ...args]);
  const code = typeof process.exitCode === 'number' ? process.exitCode : 0;
  vi.restoreAllMocks();
  return { out, code };
}

describe('doctor', () => {
  it('a well set-up AMD host passes, with verdicts for each check', async () => {
    const root = tree(amdDualGpuHost({ files: GOOD_FILES }));
    const c = byId(await runDoctor(new HostRoot(root)));
    for (const id of ['cpu-virtualization', 'kvm-device', 'firmware-iommu', 'iommu-active', 'vfio-device', 'cmdline-iommu-pt', 'cmdline-amd-iommu', 'acs-override', 'interrupt-remapping', 'vfio-modules', 'hugepages', 'boot-gpu']) {
      expect(c[id]?.status, id).toBe('ok');
    }
    expect(c['iommu-active'].message).toMatch(/^8 IOMMU groups/);
    expect(c['cmdline-notes'].message).toContain('vfio-pci.ids=1002:73df video=efifb:off');
    expect(c['boot-gpu'].message).toMatch(/boot GPU 0000:32:00.0/);
    expect(c['gpu-reset:0000:2f:00.0'].message).toMatch(/suspending and resuming the host/);
    expect(c['cmdline-intel-iommu']).toBeUndefined();
  });

  it('a misconfigured host gets warn/fail verdicts that name the fix', async () => {
    const spec = amdDualGpuHost({
      files: {
        ...GOOD_FILES,
        '/proc/cpuinfo': 'vendor_id\t: GenuineIntel\nflags\t\t: fpu sse2\n',
        '/proc/cmdline': 'root=/dev/sda1 amd_iommu=on pcie_acs_override=downstream,multifunction\n',
        '/sys/module/vfio_iommu_type1/parameters/allow_unsafe_interrupts': 'Y\n',
        '/dev/kvmfr0': 'not a device',
      },
      noVfio: true,
    });
    spec.devices.forEach((d) => (d.group = null));
    spec.devices.push({ address: '0000:0b:00.0', class: '0x030000', vendor: '0x1002', device: '0x67df', driver: 'amdgpu', group: null, resetMethods: 'bus' });
    const root = tree(spec);
    rmSync(path.join(root, 'sys/firmware'), { recursive: true, force: true });
    rmSync(path.join(root, 'sys/module/vfio_pci'), { recursive: true, force: true });
    rmSync(path.join(root, 'dev/vfio'), { recursive: true, force: true });
    rmSync(path.join(root, 'dev/kvm'));
    const config = parseVmConfig(
      { name: 'w', cpu: { cores: 1 }, memory: { size: '32G', hugepages: true }, gpu: { functions: ['0000:32:00.0', '0000:0b:00.0'] }, region: { path: '/dev/kvmfr0', width: 1920, height: 1080 } },
      '/x/w.toml',
    );
    const c = byId(await runDoctor(new HostRoot(root), config));
    const expectVerdict = (id: string, status: string, fix: RegExp) => {
      expect(c[id]?.status, id).toBe(status);
      expect(c[id].fix, id).toMatch(fix);
    };
    // The CPU flags are information (warn at most); /dev/kvm decides.
    expectVerdict('cpu-virtualization', 'warn', /firmware setup/);
    expectVerdict('kvm-device', 'fail', /modprobe kvm_intel/);
    expectVerdict('firmware-iommu', 'fail', /VT-d/);
    expectVerdict('iommu-active', 'fail', /intel_iommu=on/);
    expectVerdict('cmdline-intel-iommu', 'fail', /intel_iommu=on/);
    expectVerdict('cmdline-iommu-pt', 'warn', /iommu=pt/);
    expectVerdict('cmdline-amd-iommu', 'warn', /remove amd_iommu=on/);
    expectVerdict('acs-override', 'warn', /risk/);
    expect(c['acs-override'].message).toMatch(/security downgrade/);
    expectVerdict('interrupt-remapping', 'warn', /interrupt remapping/);
    expectVerdict('vfio-modules', 'warn', /modprobe vfio-pci/);
    expectVerdict('vfio-device', 'warn', /modprobe vfio-pci/);
    expectVerdict('hugepages', 'fail', /nr_hugepages/);
    expectVerdict('gpu-reset:0000:0b:00.0', 'warn', /vendor-reset/);
    expectVerdict('boot-gpu', 'fail', /other GPU/);
    expectVerdict('shared-memory', 'fail', /modprobe kvmfr/);
    expectVerdict('vcpu-topology', 'warn', /at least 2 cores/);
    expect(c['region-size'].message).toMatch(/32M region for 1920x1080/);
    const err = await requireHostReady(new HostRoot(root), config).catch((e) => e);
    expect(err.code).toBe('ERR_HOST_NOT_READY');
    expect(err.message).toMatch(/kvm-device: \/dev\/kvm is missing/);
    expect(err.message).not.toMatch(/cpu-virtualization/);
  });

  it('checks a /dev/shm region: missing is fine (vm up creates it), too small fails', async () => {
    const root = tree(amdDualGpuHost({ files: { ...GOOD_FILES, '/dev/shm/lg': 'x' } }));
    const cfg = (p: string) => parseVmConfig({ name: 'w', cpu: { cores: 4 }, memory: { size: '1G' }, region: { path: p, width: 2560, height: 1440 } }, '/x/w.toml');
    expect(byId(await runDoctor(new HostRoot(root), cfg('/dev/shm/none')))['shared-memory'].status).toBe('ok');
    const small = byId(await runDoctor(new HostRoot(root), cfg('/dev/shm/lg')))['shared-memory'];
    expect(small.status).toBe('fail');
    expect(small.message).toMatch(/the resolution needs 64M/);
    // vm up recreates a /dev/shm file at the right size, so that failure does not stop it
    await expect(requireHostReady(new HostRoot(root), cfg('/dev/shm/lg'))).resolves.toBeTruthy();
  });

  it('--json prints {"checks": [{id, status, message, fix}]} and exits 1 when a check fails', async () => {
    const root = tree(amdDualGpuHost({ files: { ...GOOD_FILES, '/proc/cpuinfo': 'flags : fpu\n' } }));
    rmSync(path.join(root, 'dev/kvm'));
    const { out, code } = await cli(registerDoctor, ['doctor', '--root', root, '--json']);
    const json = JSON.parse(out);
    expect(Object.keys(json)).toEqual(['checks']);
    for (const c of json.checks) expect(Object.keys(c)).toEqual(['id', 'status', 'message', 'fix']);
    expect(json.checks.find((c: Check) => c.id === 'cpu-virtualization').status).toBe('warn');
    expect(json.checks.find((c: Check) => c.id === 'kvm-device').status).toBe('fail');
    expect(code).toBe(1);
  });

  it('doctor FILE checks only what that VM needs', async () => {
    const root = tree(amdDualGpuHost({ files: { ...GOOD_FILES, '/proc/cpuinfo': 'flags : fpu\n', '/proc/cmdline': 'root=/dev/sda1\n' } }));
    rmSync(path.join(root, 'dev/kvm'));
    rmSync(path.join(root, 'sys/firmware'), { recursive: true, force: true });
    // TCG, no passthrough, no hugepages, no region: none of the failing host checks concern it.
    const tcg = parseVmConfig({ name: 't', qemu: { accel: 'tcg' }, cpu: { cores: 2 }, memory: { size: '1G' } }, '/x/t.toml');
    const ids = (await runDoctor(new HostRoot(root), tcg)).map((c) => c.id);
    expect(ids).toEqual(['vcpu-topology']);
    // One GPU lent: its reset check and the IOMMU ones, not the other GPU's.
    const one = parseVmConfig({ name: 'g', qemu: { accel: 'tcg' }, cpu: { cores: 2 }, memory: { size: '1G' }, gpu: { functions: ['0000:2f:00.0', '0000:2f:00.1'] } }, '/x/g.toml');
    const c = byId(await runDoctor(new HostRoot(root), one));
    expect(Object.keys(c).filter((id) => id.startsWith('gpu-reset:'))).toEqual(['gpu-reset:0000:2f:00.0']);
    expect(c['firmware-iommu']?.status).toBe('fail');
    expect(c['boot-gpu']?.status).toBe('ok');
    expect(c['kvm-device']).toBeUndefined();
    expect(c['hugepages']).toBeUndefined();
    expect(c['shared-memory']).toBeUndefined();
  });
});

describe('iommu', () => {
  it('--json has exactly the documented shape', async () => {
    const root = tree(amdDualGpuHost());
    const { out } = await cli(registerIommu, ['iommu', '--root', root, '--json']);
    const json = JSON.parse(out);
    expect(json.groups.map((g: { id: number }) => g.id)).toEqual([2, 23, 28, 29, 32, 33, 36, 40]);
    const g28 = json.groups.find((g: { id: number }) => g.id === 28);
    expect(g28).toEqual({ id: 28, devices: [{ address: '0000:2f:00.0', class: '0x030000', vendor: '0x1002', device: '0x73df', driver: 'amdgpu', bootVga: false, resetMethods: ['flr', 'bus'] }] });
    expect(json.groups.find((g: { id: number }) => g.id === 32).devices[0].bootVga).toBe(true);
  });

  it('reports an unbound device with driver null and marks whole-card groups in text', async () => {
    const spec = amdDualGpuHost();
    spec.devices.find((d) => d.address === '0000:2f:00.1')!.driver = null;
    const root = tree(spec);
    const json = JSON.parse((await cli(registerIommu, ['iommu', '--root', root, '--json'])).out);
    expect(json.groups.find((g: { id: number }) => g.id === 29).devices[0].driver).toBeNull();
    const { out } = await cli(registerIommu, ['iommu', '--root', root]);
    expect(out).toMatch(/IOMMU group 28 {2}\[one card: can be passed through whole\]/);
    expect(out).toMatch(/IOMMU group 40\n/); // NIC + USB of different slots: not whole
    expect(out).toContain('0000:2f:00.1  class 040300 [1002:ab28]  driver (none)');
  });

  it('turns a PCI address into an Xorg BusID (hex to decimal)', async () => {
    expect(xorgBusId('0000:32:00.0')).toBe('PCI:50:0:0');
    expect(xorgBusId('0a:1f.3')).toBe('PCI:10:31:3');
    expect(xorgBusId('0001:02:00.0')).toBe('PCI:2@1:0:0');
    expect((await cli(registerIommu, ['iommu', '--xorg-busid', '0000:32:00.0'])).out).toBe('BusID "PCI:50:0:0"\n');
  });

  it('says the IOMMU is off when there are no groups', async () => {
    const spec = amdDualGpuHost();
    spec.devices.forEach((d) => (d.group = null));
    expect((await cli(registerIommu, ['iommu', '--root', tree(spec)])).out).toMatch(/IOMMU is off/);
  });
});

describe('vfio and vm commands over a --root tree', () => {
  it('vfio bind --dry-run prints each write and changes nothing', async () => {
    const root = tree(amdDualGpuHost());
    const before = snapshotTree(root);
    const { out } = await cli(registerVfio, ['vfio', 'bind', '0000:2f:00.0', '0000:2f:00.1', '--root', root, '--dry-run']);
    expect(out).toContain('echo "vfio-pci" > /sys/bus/pci/devices/0000:2f:00.0/driver_override');
    expect(out).toContain('echo "0000:2f:00.1" > /sys/bus/pci/devices/0000:2f:00.1/driver/unbind    # release it from snd_hda_intel');
    expect(out).toContain(`# journal: ${path.join(root, 'run/glasspane/vfio-journal.json')}`);
    expect(snapshotTree(root)).toEqual(before);
  });

  it('vfio bind --dry-run previews even when blocked: the writes, then every blocker with its fix (IOMMU off first), exit 1', async () => {
    const spec = amdDualGpuHost({ noVfio: true });
    spec.devices.forEach((d) => (d.group = null));
    const root = tree(spec);
    const before = snapshotTree(root);
    const { out, code } = await cli(registerVfio, ['vfio', 'bind', '0000:2f:00.0', '0000:2f:00.1', '--root', root, '--dry-run']);
    expect(code).toBe(1);
    expect(out).toContain('echo "vfio-pci" > /sys/bus/pci/devices/0000:2f:00.0/driver_override');
    const blocked = out.split('\n').filter((l) => l.startsWith('# blocked: '));
    expect(blocked).toEqual([
      '# blocked: 0000:2f:00.0 has no IOMMU group: the IOMMU is off',
      '# blocked: 0000:2f:00.1 has no IOMMU group: the IOMMU is off',
      '# blocked: the vfio-pci driver is not loaded',
    ]);
    expect(out).toMatch(/# blocked: the vfio-pci driver is not loaded\n# {3}fix: run `modprobe vfio-pci`/);
    expect(snapshotTree(root)).toEqual(before);
    // The real bind refuses with the most fundamental blocker, not the driver.
    const err = await cli(registerVfio, ['vfio', 'bind', '0000:2f:00.0', '0000:2f:00.1', '--root', root]).catch((e) => e);
    expect(err.code).toBe('ERR_NO_IOMMU_GROUP');
    // vm up --dry-run shows the same blockers after its sysfs writes.
    const vm = await cli(registerVm, ['vm', 'up', 'examples/vm-amd-dual-gpu.toml', '--dry-run', '--root', root, '--state-dir', path.join(root, 'state')]);
    expect(vm.code).toBe(1);
    expect(vm.out).toContain('# blocked: 0000:2f:00.0 has no IOMMU group: the IOMMU is off');
    expect(vm.out).toContain('# blocked: the vfio-pci driver is not loaded');
  });

  it('vfio bind for real on a plain tree: nothing binds after drivers_probe, so it rolls back and says so', async () => {
    // A plain file tree has no kernel behind it: the writes land in files and vfio-pci never
    // appears as the driver, which is exactly "a driver that does not bind after drivers_probe".
    const root = tree(amdDualGpuHost());
    const err = await cli(registerVfio, ['vfio', 'bind', '0000:2f:00.0', '--root', root, '--timeout', '60']).catch((e) => e);
    expect(err.code).toBe('ERR_VFIO_NOT_BOUND');
    expect(err.message).toMatch(/bound to amdgpu after drivers_probe.*host restored/);
    expect(readFileSync(path.join(root, 'sys/bus/pci/drivers_probe'), 'utf8')).toBe('0000:2f:00.0');
    expect(readFileSync(path.join(root, 'sys/bus/pci/devices/0000:2f:00.0/driver_override'), 'utf8')).toBe('\n');
    expect(existsSync(path.join(root, 'run/glasspane/vfio-journal.json'))).toBe(false);
  });

  it('vfio restore with no journal says there is nothing to do; a corrupt journal is named', async () => {
    const root = tree(amdDualGpuHost());
    expect((await cli(registerVfio, ['vfio', 'restore', '--root', root])).out).toMatch(/nothing to restore/);
    const j = path.join(root, 'j.json');
    writeFileSync(j, '{not json');
    const err = await cli(registerVfio, ['vfio', 'restore', '--root', root, '--journal', j]).catch((e) => e);
    expect(err.code).toBe('ERR_JOURNAL_CORRUPT');
  });

  it('vfio remove-bridge --dry-run shows remove + rescan, and refuses a non-bridge', async () => {
    const root = tree(amdDualGpuHost());
    const { out } = await cli(registerVfio, ['vfio', 'remove-bridge', '0000:00:01.0', '--root', root, '--dry-run']);
    expect(out.split('\n').slice(0, 2)).toEqual(['echo "1" > /sys/bus/pci/devices/0000:00:01.0/remove    # remove the bridge and the devices below it', 'echo "1" > /sys/bus/pci/rescan    # rediscover them']);
    const err = await cli(registerVfio, ['vfio', 'remove-bridge', '0000:2f:00.0', '--root', root, '--dry-run']).catch((e) => e);
    expect(err.code).toBe('ERR_NOT_A_BRIDGE');
  });

  it('vm up --dry-run with --root plans the real drivers of the captured host', async () => {
    const root = tree(amdDualGpuHost());
    const before = snapshotTree(root);
    const { out } = await cli(registerVm, ['vm', 'up', 'examples/vm-amd-dual-gpu.toml', '--dry-run', '--root', root, '--state-dir', path.join(root, 'state')]);
    expect(out.split('\n')[0]).toBe('qemu-system-x86_64 \\');
    expect(out).toContain('  -device vfio-pci,host=0000:2f:00.0,bus=rp1,addr=0x0.0,multifunction=on \\');
    expect(out).toContain('# release it from amdgpu');
    expect(out).toContain('echo "0000:23:00.0" > /sys/bus/pci/devices/0000:23:00.0/driver/unbind    # release it from nvme');
    expect(out).not.toContain('HOST-DRIVER');
    expect(snapshotTree(root)).toEqual(before);
  });

  it('vm up --dry-run works on a machine without the devices, and vm status/down of a VM that never ran is ERR_VM_UNKNOWN', async () => {
    const root = tree({ devices: [] });
    const { out } = await cli(registerVm, ['vm', 'up', 'examples/vm-nvidia-raw-qemu.toml', '--dry-run', '--root', root, '--state-dir', path.join(root, 'state')]);
    expect(out).toContain('-object input-linux,id=kbd,evdev=/dev/input/by-id/usb-04d9_USB-HID_Keyboard-event-kbd,grab_all=on,repeat=on');
    expect(out).toMatch(/not all of 0000:01:00.0, 0000:01:00.1 exist/);
    // Not "stopped": nothing says a VM of that name ever existed (a typo, or another --state-dir).
    const status = await cli(registerVm, ['vm', 'status', 'nope', '--json', '--state-dir', path.join(root, 'state')]).catch((e) => e);
    expect(status.code).toBe('ERR_VM_UNKNOWN');
    const err = await cli(registerVm, ['vm', 'down', 'nope', '--state-dir', path.join(root, 'state')]).catch((e) => e);
    expect(err.code).toBe('ERR_VM_UNKNOWN');
  });
});

describe('the capture recipe in docs/vm.md', () => {
  it('a tree captured from this host gives doctor --root the same verdicts as the live host for what it captures', async () => {
    const recipe = /## `--root DIR`[\s\S]*?```sh\n([\s\S]*?)```/.exec(readFileSync('docs/vm.md', 'utf8'))![1]!;
    const work = makeTempDir('glasspane-capture-');
    roots.push(work);
    spawnSync('bash', ['-c', recipe], { cwd: work, stdio: 'ignore' }); // a recipe: a missing optional part is not an error
    expect(existsSync(path.join(work, 'cap/proc/cpuinfo'))).toBe(true);
    const doctor = (args: string[]) => {
      const r = spawnSync(process.execPath, [path.resolve('dist/src/cli/main.js'), 'doctor', '--json', ...args], { encoding: 'utf8' });
      return byId(JSON.parse(r.stdout).checks as Check[]);
    };
    const live = doctor([]);
    const captured = doctor(['--root', path.join(work, 'cap')]);
    for (const id of ['firmware-iommu', 'iommu-active', 'vfio-device', 'cmdline-intel-iommu', 'cmdline-iommu-pt', 'cmdline-amd-iommu', 'acs-override', 'interrupt-remapping', 'vfio-modules', 'hugepages']) {
      expect(captured[id]?.status, `${id}: ${captured[id]?.message} vs live ${live[id]?.message}`).toBe(live[id]?.status);
    }
    // /dev/kvm: present in the capture exactly when present here (its placeholder is not a device).
    expect(captured['kvm-device']!.status === 'ok').toBe(existsSync('/dev/kvm'));
  }, 60_000);
});
