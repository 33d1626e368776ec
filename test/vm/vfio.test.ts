import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { HostRoot } from '../../src/vm/host-root.js';
import { readJournal, writeJournal } from '../../src/vm/journal.js';
import { ChildProcessWriter, SysfsWriteError } from '../../src/vm/sysfs-writer.js';
import { bindDevices, planBind, planRestore, planWrites, restoreFromJournal, unbindDevices, type VfioContext } from '../../src/vm/vfio.js';
import { AMD_MATCHES, amdDualGpuHost, FakeKernel, makeFakeHost, makeTempDir, snapshotTree, type Fault } from './fake-sysfs.js';

const GPU = '0000:2f:00.0';
const AUDIO = '0000:2f:00.1';
const cleanups: (() => void)[] = [];
afterEach(() => {
  while (cleanups.length) cleanups.pop()!();
});

function setup(faults: Fault[] = [], spec = amdDualGpuHost()) {
  const root = makeFakeHost(spec);
  const state = makeTempDir('glasspane-state-');
  const kernel = new FakeKernel(root, AMD_MATCHES, faults);
  cleanups.push(() => {
    kernel.dispose();
    rmSync(root, { recursive: true, force: true });
    rmSync(state, { recursive: true, force: true });
  });
  const journalPath = path.join(state, 'vfio-journal.json');
  const ctx: VfioContext = { host: new HostRoot(root), writer: kernel, journalPath };
  return { root, ctx, kernel, journalPath, before: snapshotTree(root) };
}

const driverOf = (root: string, addr: string) => {
  try {
    return path.basename(require_readlink(path.join(root, `/sys/bus/pci/devices/${addr}/driver`)));
  } catch {
    return null;
  }
};
function require_readlink(p: string): string {
  return execFileSync('readlink', [p], { encoding: 'utf8' }).trim();
}

describe('vfio bind', () => {
  it('moves GPU and audio to vfio-pci by driver_override, journals the originals, and restore puts the tree back', async () => {
    const { root, ctx, journalPath, before, kernel } = setup();
    const journalAtWrite: boolean[] = [];
    const write = kernel.write.bind(kernel);
    ctx.writer = { write: (p, v) => (journalAtWrite.push(existsSync(journalPath)), write(p, v)) };
    await bindDevices(ctx, [GPU, '2F:00.1']);
    expect(journalAtWrite.length).toBe(6);
    expect(journalAtWrite.every(Boolean)).toBe(true); // the journal was on disk before the first write
    expect(driverOf(root, GPU)).toBe('vfio-pci');
    expect(driverOf(root, AUDIO)).toBe('vfio-pci');
    expect(readFileSync(path.join(root, `/sys/bus/pci/devices/${GPU}/driver_override`), 'utf8').trim()).toBe('vfio-pci');
    // the other card with identical audio ids is untouched (no new_id)
    expect(driverOf(root, '0000:32:00.1')).toBe('snd_hda_intel');
    expect(kernel.log.some((w) => w.path.endsWith('new_id'))).toBe(false);
    const journal = await readJournal(journalPath);
    expect(journal?.devices).toEqual([
      { address: GPU, driver: 'amdgpu', driverOverride: null },
      { address: AUDIO, driver: 'snd_hda_intel', driverOverride: null },
    ]);
    expect(await restoreFromJournal(ctx)).toBe(true);
    expect(snapshotTree(root)).toEqual(before);
    expect(existsSync(journalPath)).toBe(false);
  });

  it('plans the libvirt order of writes for --dry-run without writing', async () => {
    const { ctx, kernel, before, root } = setup();
    const plan = await planBind(ctx.host, [GPU]);
    expect(planWrites(plan).map((w) => [w.path, w.value])).toEqual([
      [`/sys/bus/pci/devices/${GPU}/driver_override`, 'vfio-pci'],
      [`/sys/bus/pci/devices/${GPU}/driver/unbind`, GPU],
      ['/sys/bus/pci/drivers_probe', GPU],
    ]);
    expect(kernel.log).toEqual([]);
    expect(snapshotTree(root)).toEqual(before);
  });

  const failures: [string, Fault, string][] = [
    ['EBUSY on drivers_probe of the second function', { pathEndsWith: 'drivers_probe', value: AUDIO, effect: 'EBUSY', times: 1 }, 'ERR_SYSFS_WRITE'],
    ['ENODEV on unbind of the GPU', { pathEndsWith: `${GPU}/driver/unbind`, effect: 'ENODEV', times: 1 }, 'ERR_SYSFS_WRITE'],
    ['an unbind write that never returns', { pathEndsWith: `${AUDIO}/driver/unbind`, effect: 'hang' }, 'ERR_SYSFS_STUCK'],
    ['vfio-pci not binding after drivers_probe', { pathEndsWith: 'drivers_probe', value: AUDIO, effect: 'noop', times: 1 }, 'ERR_VFIO_NOT_BOUND'],
    ['EBUSY on driver_override', { pathEndsWith: `${AUDIO}/driver_override`, value: 'vfio-pci', effect: 'EBUSY', times: 1 }, 'ERR_SYSFS_WRITE'],
  ];
  for (const [name, fault, code] of failures) {
    it(`rolls back to the original tree on ${name}`, async () => {
      const { root, ctx, journalPath, before } = setup([fault]);
      const err = await bindDevices(ctx, [GPU, AUDIO]).catch((e) => e);
      expect(err.code).toBe(code);
      expect(err.message).toMatch(/host restored/);
      expect(err.fix).toBeTruthy();
      expect(snapshotTree(root)).toEqual(before);
      expect(existsSync(journalPath)).toBe(false);
    });
  }

  it('keeps the journal when the rollback fails too, and restore finishes the job later', async () => {
    // drivers_probe of the audio fails both while binding and while rolling back
    const { root, ctx, journalPath, before } = setup([{ pathEndsWith: 'drivers_probe', value: AUDIO, effect: 'EBUSY', times: 2 }, { pathEndsWith: 'snd_hda_intel/bind', effect: 'ENODEV', times: 1 }]);
    const err = await bindDevices(ctx, [GPU, AUDIO]).catch((e) => e);
    expect(err.code).toBe('ERR_ROLLBACK_FAILED');
    expect(err.fix).toMatch(/vfio restore/);
    expect(existsSync(journalPath)).toBe(true);
    expect(snapshotTree(root)).not.toEqual(before);
    expect(await restoreFromJournal(ctx)).toBe(true);
    expect(snapshotTree(root)).toEqual(before);
  });

  it('restore falls back to an explicit bind when drivers_probe binds nothing', async () => {
    const { root, ctx, before } = setup([{ pathEndsWith: 'drivers_probe', value: GPU, effect: 'noop', times: 0 }]);
    await bindDevices(ctx, [GPU]);
    (ctx.writer as FakeKernel).faults.push({ pathEndsWith: 'drivers_probe', value: GPU, effect: 'noop' });
    await restoreFromJournal(ctx);
    expect(snapshotTree(root)).toEqual(before);
    expect((ctx.writer as FakeKernel).log.at(-1)).toEqual({ path: '/sys/bus/pci/drivers/amdgpu/bind', value: GPU });
  });

  it('restore reports a driver that will not come back and keeps the journal', async () => {
    const { ctx, journalPath } = setup();
    await bindDevices(ctx, [GPU]);
    (ctx.writer as FakeKernel).faults.push({ pathEndsWith: 'drivers_probe', effect: 'noop' }, { pathEndsWith: 'amdgpu/bind', effect: 'ENODEV' });
    const err = await restoreFromJournal(ctx).catch((e) => e);
    expect(err.code).toBe('ERR_RESTORE_FAILED');
    expect(existsSync(journalPath)).toBe(true);
  });

  it('replays a journal left by a run killed half way', async () => {
    const { root, ctx, journalPath, before, kernel } = setup();
    const plan = await planBind(ctx.host, [GPU, AUDIO]);
    await writeJournal(journalPath, plan.journal);
    // the killed run got through the GPU and the audio's override only
    for (const w of plan.deviceWrites[0]) await kernel.write(w.path, w.value);
    await kernel.write(plan.deviceWrites[1][0].path, plan.deviceWrites[1][0].value);
    expect(snapshotTree(root)).not.toEqual(before);
    const dry = await planRestore(ctx.host, plan.journal);
    expect(dry.map((w) => w.path)).toContain('/sys/bus/pci/drivers/vfio-pci/unbind');
    expect(await restoreFromJournal(ctx)).toBe(true);
    expect(snapshotTree(root)).toEqual(before);
    expect(await restoreFromJournal(ctx)).toBe(false);
  });

  it('refuses the boot GPU without writing anything, and allows it with forceBootGpu', async () => {
    const { root, ctx, journalPath, before, kernel } = setup();
    const err = await bindDevices(ctx, ['0000:32:00.0']).catch((e) => e);
    expect(err.code).toBe('ERR_BOOT_GPU');
    expect(err.fix).toMatch(/--force-boot-gpu/);
    expect(kernel.log).toEqual([]);
    expect(existsSync(journalPath)).toBe(false);
    expect(snapshotTree(root)).toEqual(before);
    await bindDevices(ctx, ['0000:32:00.0'], { forceBootGpu: true });
    expect(driverOf(root, '0000:32:00.0')).toBe('vfio-pci');
  });

  it('refuses the device that scans out the firmware framebuffer (/proc/iomem)', async () => {
    const iomem = ['e0000000-efffffff : PCI Bus 0000:2f', '  e0000000-efffffff : 0000:2f:00.0', '    e0000000-e07fffff : BOOTFB', ''].join('\n');
    const { ctx } = setup([], amdDualGpuHost({ files: { '/proc/iomem': iomem } }));
    const err = await bindDevices(ctx, [GPU, AUDIO]).catch((e) => e);
    expect(err.code).toBe('ERR_BOOT_GPU');
    expect(err.message).toMatch(/framebuffer/);
  });

  it('refuses a group that would not be viable and names the other member', async () => {
    const { ctx, kernel } = setup();
    const err = await bindDevices(ctx, ['0000:31:00.0']).catch((e) => e);
    expect(err.code).toBe('ERR_GROUP_NOT_VIABLE');
    expect(err.message).toContain('0000:30:00.0 (r8169)');
    expect(err.fix).toContain('0000:30:00.0');
    expect(kernel.log).toEqual([]);
  });

  it('accepts a group whose other member is a bridge', async () => {
    const spec = amdDualGpuHost();
    spec.devices.find((d) => d.address === '0000:00:01.0')!.group = 28;
    const { root, ctx } = setup([], spec);
    await bindDevices(ctx, [GPU]);
    expect(driverOf(root, GPU)).toBe('vfio-pci');
    expect(driverOf(root, '0000:00:01.0')).toBe('pcieport');
  });

  it('names the problem for bad input', async () => {
    const { ctx } = setup();
    expect((await bindDevices(ctx, ['2f:00']).catch((e) => e)).code).toBe('ERR_PCI_ADDRESS');
    expect((await bindDevices(ctx, ['0000:99:00.0']).catch((e) => e)).code).toBe('ERR_PCI_NOT_FOUND');
    expect((await bindDevices(ctx, [GPU, '2f:00.0']).catch((e) => e)).code).toBe('ERR_USAGE');
    expect((await bindDevices(ctx, []).catch((e) => e)).code).toBe('ERR_USAGE');
  });

  it('needs an IOMMU group and a loaded vfio-pci', async () => {
    const noGroup = amdDualGpuHost();
    noGroup.devices.forEach((d) => (d.group = null));
    expect((await bindDevices(setup([], noGroup).ctx, [GPU]).catch((e) => e)).code).toBe('ERR_NO_IOMMU_GROUP');
    const err = await bindDevices(setup([], amdDualGpuHost({ noVfio: true })).ctx, [GPU]).catch((e) => e);
    expect(err.code).toBe('ERR_VFIO_DRIVER_MISSING');
    expect(err.fix).toMatch(/modprobe vfio-pci/);
  });

  it('refuses to start over a journal left behind', async () => {
    const { ctx } = setup();
    await bindDevices(ctx, [GPU]);
    const err = await bindDevices(ctx, [AUDIO]).catch((e) => e);
    expect(err.code).toBe('ERR_JOURNAL_EXISTS');
    expect(err.fix).toMatch(/vfio restore/);
  });

  it('unbinds framebuffer and vtconsole on request and restores them', async () => {
    const spec = amdDualGpuHost({
      files: {
        '/sys/class/vtconsole/vtcon0/bind': '0\n',
        '/sys/class/vtconsole/vtcon0/name': '(S) dummy device\n',
        '/sys/class/vtconsole/vtcon1/bind': '1\n',
        '/sys/class/vtconsole/vtcon1/name': '(M) frame buffer device\n',
        '/sys/bus/platform/drivers/efi-framebuffer/bind': '',
        '/sys/bus/platform/drivers/efi-framebuffer/unbind': '',
        '/sys/bus/platform/drivers/efi-framebuffer/efi-framebuffer.0/uevent': '',
      },
    });
    const { root, ctx, before } = setup([], spec);
    const plan = await bindDevices(ctx, [GPU], { unbindConsole: true });
    expect(plan.consoleWrites.map((w) => [w.path, w.value])).toEqual([
      ['/sys/class/vtconsole/vtcon1/bind', '0'],
      ['/sys/bus/platform/drivers/efi-framebuffer/unbind', 'efi-framebuffer.0'],
    ]);
    expect(existsSync(path.join(root, '/sys/bus/platform/drivers/efi-framebuffer/efi-framebuffer.0'))).toBe(false);
    await restoreFromJournal(ctx);
    const after = snapshotTree(root);
    // the platform device dir comes back (its uevent file is not recreated by the fake kernel)
    expect(existsSync(path.join(root, '/sys/bus/platform/drivers/efi-framebuffer/efi-framebuffer.0'))).toBe(true);
    expect(after['sys/class/vtconsole/vtcon1/bind']).toBe('1\n');
    for (const k of Object.keys(before).filter((k) => k.startsWith('sys/bus/pci'))) expect(after[k]).toBe(before[k]);
  });
});

describe('vfio unbind', () => {
  it('gives journaled devices back to their original drivers and removes the journal', async () => {
    const { root, ctx, journalPath, before } = setup();
    await bindDevices(ctx, [GPU, AUDIO]);
    const lines = await unbindDevices(ctx, [AUDIO]);
    expect(lines).toEqual([`${AUDIO}: snd_hda_intel`]);
    expect((await readJournal(journalPath))?.devices.map((d) => d.address)).toEqual([GPU]);
    await unbindDevices(ctx, [GPU]);
    expect(existsSync(journalPath)).toBe(false);
    expect(snapshotTree(root)).toEqual(before);
  });

  it('re-probes a device bound to vfio-pci outside glasspane (vfio-pci.ids) and reports the driver', async () => {
    const spec = amdDualGpuHost();
    spec.devices.find((d) => d.address === GPU)!.driver = 'vfio-pci';
    const { root, ctx } = setup([], spec);
    expect(await unbindDevices(ctx, [GPU])).toEqual([`${GPU}: amdgpu`]);
    expect(driverOf(root, GPU)).toBe('amdgpu');
  });

  it('says so for a device not on vfio-pci and writes nothing', async () => {
    const { ctx, kernel } = setup();
    const lines: string[] = [];
    ctx.log = (l) => lines.push(l);
    expect(await unbindDevices(ctx, [GPU])).toEqual([]);
    expect(lines[0]).toMatch(/not on vfio-pci/);
    expect(kernel.log).toEqual([]);
  });

  it('reports a stuck unbind from vfio-pci (QEMU still holds the device) and keeps the journal', async () => {
    const { ctx, journalPath } = setup();
    await bindDevices(ctx, [GPU]);
    (ctx.writer as FakeKernel).faults.push({ pathEndsWith: 'vfio-pci/unbind', effect: 'hang' });
    const err = await unbindDevices(ctx, [GPU]).catch((e) => e);
    expect(err.code).toBe('ERR_UNBIND_FAILED');
    expect(err.message).toMatch(/did not return/);
    expect(existsSync(journalPath)).toBe(true);
  });
});

describe('ChildProcessWriter', () => {
  it('writes the value in a child, carries errno back, and gives up on a write that never returns', async () => {
    const dir = makeTempDir();
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    mkdirSync(path.join(dir, 'sys'));
    writeFileSync(path.join(dir, 'sys/attr'), 'old');
    execFileSync('mkfifo', [path.join(dir, 'sys/fifo')]);
    // generous for real writes (a loaded CI machine starts processes slowly), short for the FIFO
    const w = new ChildProcessWriter(new HostRoot(dir), 30_000);
    const impatient = new ChildProcessWriter(new HostRoot(dir), 300);
    await w.write('/sys/attr', 'vfio-pci');
    expect(readFileSync(path.join(dir, 'sys/attr'), 'utf8')).toBe('vfio-pci');
    const missing = await w.write('/sys/nope/attr', 'x').catch((e) => e);
    expect(missing).toBeInstanceOf(SysfsWriteError);
    expect(missing.code).toBe('ERR_SYSFS_WRITE');
    expect(missing.errno).toBe('ENOENT');
    const dirErr = await w.write('/sys', 'x').catch((e) => e);
    expect(dirErr.errno).toBe('EISDIR');
    const stuck = await impatient.write('/sys/fifo', '0000:2f:00.0').catch((e) => e);
    expect(stuck.code).toBe('ERR_SYSFS_STUCK');
    expect(stuck.errno).toBe('ETIMEDOUT');
  });
});
