/**
 * ivshmem device discovery against fake sysfs trees (the shape Linux gives
 * /sys/bus/pci/devices/<addr>/{vendor,device,resource,resource2,enable}), and the CLI path:
 * `stub --device auto --sys-root DIR` writes frames into the fake BAR file that a consumer reads.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { barSize, findIvshmemDevice } from '../../guest-stub/ivshmem-device.js';
import { GlasspaneError } from '../../src/errors.js';
import { runCli, startCli } from '../support/helpers.js';

const roots: string[] = [];
afterAll(() => roots.forEach((r) => rmSync(r, { recursive: true, force: true })));

interface FakeDev {
  addr: string;
  vendor: number;
  device: number;
  /** BAR 2 size in bytes (0 = unassigned). */
  bar2?: number;
  enable?: string;
  /** The PCI command register in `config` (bit 1: memory decoding); absent = no config file. */
  command?: number;
}

function fakeTree(devs: FakeDev[]): string {
  const root = mkdtempSync(path.join(tmpdir(), 'glasspane-sysfs-'));
  roots.push(root);
  mkdirSync(path.join(root, 'sys/bus/pci/devices'), { recursive: true });
  for (const d of devs) {
    const dir = path.join(root, 'sys/bus/pci/devices', d.addr);
    mkdirSync(dir);
    writeFileSync(path.join(dir, 'vendor'), `0x${d.vendor.toString(16).padStart(4, '0')}\n`);
    writeFileSync(path.join(dir, 'device'), `0x${d.device.toString(16).padStart(4, '0')}\n`);
    const line = (start: bigint, size: bigint, flags: string) => (size ? `0x${start.toString(16).padStart(16, '0')} 0x${(start + size - 1n).toString(16).padStart(16, '0')} ${flags}` : `0x${'0'.repeat(16)} 0x${'0'.repeat(16)} 0x${'0'.repeat(16)}`);
    const bar2 = BigInt(d.bar2 ?? 0);
    writeFileSync(path.join(dir, 'resource'), [line(0xfebf1000n, 0x100n, '0x0000000000040200'), line(0n, 0n, ''), line(0xfd000000n, bar2, '0x000000000014220c')].join('\n') + '\n');
    if (d.bar2) writeFileSync(path.join(dir, 'resource2'), Buffer.alloc(0));
    if (d.enable !== undefined) writeFileSync(path.join(dir, 'enable'), `${d.enable}\n`);
    if (d.command !== undefined) {
      const config = Buffer.alloc(64);
      config.writeUInt16LE(d.vendor, 0);
      config.writeUInt16LE(d.device, 2);
      config.writeUInt16LE(d.command, 4);
      writeFileSync(path.join(dir, 'config'), config);
    }
  }
  return root;
}

const code = (fn: () => unknown): { code: string; message: string; fix?: string } => {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(GlasspaneError);
    const e = err as GlasspaneError;
    return { code: e.code, message: e.message, fix: e.fix };
  }
  throw new Error('expected an error');
};

describe('ivshmem device discovery', () => {
  const NIC = { addr: '0000:00:03.0', vendor: 0x8086, device: 0x100e };
  const IVSHMEM = { addr: '0000:00:05.0', vendor: 0x1af4, device: 0x1110, bar2: 32 << 20 };

  it('auto finds the only 1af4:1110 device and its BAR 2 size', () => {
    const root = fakeTree([NIC, IVSHMEM]);
    const d = findIvshmemDevice('auto', { sysRoot: root });
    expect(d).toEqual({ address: '0000:00:05.0', resourcePath: path.join(root, 'sys/bus/pci/devices/0000:00:05.0/resource2'), bytes: 32 << 20 });
  });

  it('none: names every device it saw and the QEMU option to add', () => {
    const e = code(() => findIvshmemDevice('auto', { sysRoot: fakeTree([NIC]) }));
    expect(e.code).toBe('ERR_IVSHMEM_DEVICE');
    expect(e.message).toMatch(/no ivshmem device \(1af4:1110\) among the 1 PCI devices .*: 0000:00:03\.0 8086:100e/);
    expect(e.fix).toMatch(/-device ivshmem-plain,memdev=/);
  });

  it('several: lists them and says how to pick one', () => {
    const e = code(() => findIvshmemDevice('auto', { sysRoot: fakeTree([IVSHMEM, { ...IVSHMEM, addr: '0000:00:06.0' }]) }));
    expect(e.code).toBe('ERR_IVSHMEM_DEVICE');
    expect(e.message).toBe('2 ivshmem devices (1af4:1110): 0000:00:05.0, 0000:00:06.0');
    expect(e.fix).toBe('pick one with --device 0000:00:05.0');
  });

  it('an explicit address (domain optional) must exist and be ivshmem', () => {
    const root = fakeTree([NIC, IVSHMEM]);
    expect(findIvshmemDevice('00:05.0', { sysRoot: root }).address).toBe('0000:00:05.0');
    expect(code(() => findIvshmemDevice('0000:00:03.0', { sysRoot: root }))).toMatchObject({ code: 'ERR_IVSHMEM_DEVICE', message: 'PCI device 0000:00:03.0 is 8086:100e, not an ivshmem device (1af4:1110)' });
    expect(code(() => findIvshmemDevice('0000:00:09.0', { sysRoot: root }))).toMatchObject({ code: 'ERR_IVSHMEM_DEVICE', message: expect.stringMatching(/^no PCI device 0000:00:09\.0 in /) });
    expect(code(() => findIvshmemDevice('five', { sysRoot: root })).code).toBe('ERR_USAGE');
  });

  it('a device without BAR 2 is refused; no sysfs at all says so', () => {
    expect(code(() => findIvshmemDevice('auto', { sysRoot: fakeTree([{ ...IVSHMEM, bar2: 0 }]) }))).toMatchObject({ code: 'ERR_IVSHMEM_DEVICE', message: expect.stringMatching(/has no BAR 2/) });
    expect(code(() => findIvshmemDevice('auto', { sysRoot: '/nonexistent-root' }))).toMatchObject({ code: 'ERR_IVSHMEM_DEVICE', message: expect.stringMatching(/cannot list PCI devices in \/nonexistent-root\/sys\/bus\/pci\/devices/) });
  });

  it('a disabled device is enabled (writes 1 to enable); an enabled one is left alone', () => {
    const root = fakeTree([{ ...IVSHMEM, enable: '0' }]);
    findIvshmemDevice('auto', { sysRoot: root });
    expect(readFileSync(path.join(root, 'sys/bus/pci/devices/0000:00:05.0/enable'), 'utf8')).toBe('1');
    const root2 = fakeTree([{ ...IVSHMEM, enable: '2' }]);
    findIvshmemDevice('auto', { sysRoot: root2 });
    expect(readFileSync(path.join(root2, 'sys/bus/pci/devices/0000:00:05.0/enable'), 'utf8')).toBe('2\n');
  });

  it('a device whose memory decoding is on (command register bit 1) is used as it is: no root needed to enable it', () => {
    const on = fakeTree([{ ...IVSHMEM, enable: '0', command: 0x0002 }]);
    findIvshmemDevice('auto', { sysRoot: on });
    expect(readFileSync(path.join(on, 'sys/bus/pci/devices/0000:00:05.0/enable'), 'utf8')).toBe('0\n');
    const off = fakeTree([{ ...IVSHMEM, enable: '0', command: 0x0000 }]);
    findIvshmemDevice('auto', { sysRoot: off });
    expect(readFileSync(path.join(off, 'sys/bus/pci/devices/0000:00:05.0/enable'), 'utf8')).toBe('1');
  });

  it('barSize reads 64-bit BARs', () => {
    const root = fakeTree([{ ...IVSHMEM, bar2: 2 ** 33 }]);
    expect(barSize(path.join(root, 'sys/bus/pci/devices/0000:00:05.0'), 2)).toBe(2 ** 33);
  });
});

describe('glasspane stub --device', () => {
  it('writes the scene into the BAR file of the device it found, which a consumer verifies', async () => {
    const root = fakeTree([{ addr: '0000:00:05.0', vendor: 0x1af4, device: 0x1110, bar2: 8 << 20 }]);
    const bar = path.join(root, 'sys/bus/pci/devices/0000:00:05.0/resource2');
    const stub = startCli(['stub', '--device', 'auto', '--sys-root', root, '--size', '8', '--width', '320', '--height', '200', '--fps', '30', '--quiet']);
    let view;
    try {
      view = await runCli(['view', '--shm', bar, '--headless', '--verify', '--json', '--frames', '5', '--seconds', '30']);
    } finally {
      stub.child.kill('SIGTERM');
      await stub.exited;
    }
    expect(stub.stderr()).toContain('glasspane stub: ivshmem device 0000:00:05.0, BAR 2 8 MiB');
    expect(view.code, view.stderr).toBe(0);
    const r = JSON.parse(view.stdout) as { frames: number; verifyFailures: number };
    expect(r.frames).toBeGreaterThanOrEqual(5);
    expect(r.verifyFailures).toBe(0);
  }, 120_000);

  it('refuses --shm with --device, and neither', async () => {
    const both = await runCli(['stub', '--shm', '/dev/shm/x', '--device', 'auto']);
    expect(both.code).toBe(2);
    expect(both.stderr).toMatch(/either --shm or --device, not both/);
    const none = await runCli(['stub']);
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/no region given/);
  });

  it('says what it found when there is no ivshmem device', async () => {
    const r = await runCli(['stub', '--device', 'auto', '--sys-root', fakeTree([{ addr: '0000:00:03.0', vendor: 0x8086, device: 0x100e }])]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/no ivshmem device \(1af4:1110\).*0000:00:03\.0 8086:100e/);
  });
});
