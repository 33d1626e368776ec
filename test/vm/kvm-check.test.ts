/**
 * KVM is decided from /dev/kvm, the way QEMU finds out: open it read-write and ask
 * KVM_GET_API_VERSION (native kvmApiVersion). Real device nodes made with mknod in a temp tree
 * give the kernel's real answers (no KVM module behind the node here: ENODEV); a regular file
 * answers the ioctl with ENOTTY. On a host with a working /dev/kvm the real device is asked too.
 * A stand-in probe is used only for the answers this machine cannot give (KVM working in a
 * nested VM whose cpuinfo hides vmx/svm, and EACCES, which root never gets).
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { native } from '../../src/native.js';
import { kvmChecks, KVM_API_VERSION } from '../../src/vm/kvm-check.js';
import { requireHostReady, runDoctor } from '../../src/vm/doctor.js';
import { HostRoot } from '../../src/vm/host-root.js';
import { parseVmConfig } from '../../src/vm/config.js';
import { makeTempDir } from './fake-sysfs.js';
import { hostLacks, needs } from '../support/system.js';

const dir = makeTempDir('glasspane-kvm-');
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const realKvm = existsSync('/dev/kvm');
/** A host tree whose /dev/kvm is a real character device node 10:232 (the kvm misc device). */
function treeWithKvmNode(cpuFlags: string): string {
  const root = path.join(dir, `root-${Math.random().toString(36).slice(2)}`);
  mkdirSync(path.join(root, 'dev'), { recursive: true });
  mkdirSync(path.join(root, 'proc'), { recursive: true });
  writeFileSync(path.join(root, 'proc/cpuinfo'), `vendor_id\t: GenuineIntel\nflags\t\t: ${cpuFlags}\n`);
  execFileSync('mknod', ['-m', '0660', path.join(root, 'dev/kvm'), 'c', '10', '232']);
  return root;
}
const errorOf = (f: () => unknown) => {
  try {
    f();
    return null;
  } catch (e) {
    return e as NodeJS.ErrnoException;
  }
};
const kvmConfig = parseVmConfig({ name: 'k', cpu: { cores: 2 }, memory: { size: '1G' } }, '/x/k.toml');

describe('kvmApiVersion (native)', () => {
  it.skipIf(hostLacks('mknod'))('reports why a path is not a working KVM device, with code, syscall and path', () => {
    const missing = errorOf(() => native.kvmApiVersion(path.join(dir, 'nothing')));
    expect(missing).toMatchObject({ code: 'ENOENT', syscall: 'open', path: path.join(dir, 'nothing') });
    const file = path.join(dir, 'plain');
    writeFileSync(file, '');
    expect(errorOf(() => native.kvmApiVersion(file))).toMatchObject({ code: 'ENOTTY', syscall: 'ioctl' });
    const node = path.join(treeWithKvmNode('fpu'), 'dev/kvm');
    if (realKvm) expect(native.kvmApiVersion(node)).toBe(KVM_API_VERSION);
    else expect(['ENODEV', 'ENXIO']).toContain(errorOf(() => native.kvmApiVersion(node))?.code);
  });

  it.skipIf(hostLacks('kvm'))('the real /dev/kvm answers 12, and doctor says KVM works whatever cpuinfo shows', async () => {
    expect(native.kvmApiVersion('/dev/kvm')).toBe(KVM_API_VERSION);
    const c = await runDoctor(new HostRoot('/'));
    expect(c.find((x) => x.id === 'kvm-device')).toMatchObject({ status: 'ok' });
    expect(c.find((x) => x.id === 'cpu-virtualization')?.status).toBe('ok');
  });
});

describe('doctor decides KVM from /dev/kvm', () => {
  it.skipIf(hostLacks('noKvm', 'mknod'))('a device node with no KVM module behind it fails kvm-device, whatever the CPU flags say', async () => {
    const root = treeWithKvmNode('fpu vmx sse2');
    const [cpu, kvm] = await kvmChecks(new HostRoot(root), 'flags : fpu vmx sse2', true);
    expect(cpu).toMatchObject({ id: 'cpu-virtualization', status: 'ok' });
    expect(kvm).toMatchObject({ id: 'kvm-device', status: 'fail' });
    expect(kvm!.message).toBe('/dev/kvm exists but no KVM module answers behind it');
    expect(kvm!.fix).toMatch(/modprobe kvm_intel/);
    const err = await requireHostReady(new HostRoot(root), kvmConfig).catch((e) => e);
    expect(err.code).toBe('ERR_HOST_NOT_READY');
  });

  it.skipIf(hostLacks('mknod'))('nested virtualisation: no vmx/svm in cpuinfo, /dev/kvm answers: vm up may go on, the flags are information', async () => {
    const root = treeWithKvmNode('fpu sse2 hypervisor');
    const probe = (p: string) => {
      expect(p).toBe(path.join(root, 'dev/kvm'));
      return KVM_API_VERSION;
    };
    const checks = await requireHostReady(new HostRoot(root), kvmConfig, { probeKvm: probe });
    const byId = Object.fromEntries(checks.map((c) => [c.id, c]));
    expect(byId['kvm-device']).toMatchObject({ status: 'ok', message: '/dev/kvm answers KVM_GET_API_VERSION with 12: KVM works' });
    expect(byId['cpu-virtualization']!.status).toBe('ok');
    expect(byId['cpu-virtualization']!.message).toMatch(/neither vmx nor svm .*nested virtualisation.*\/dev\/kvm works/);
  });

  it.skipIf(hostLacks('mknod'))('a /dev/kvm this user may not open names the mode and the group fix', async () => {
    const root = treeWithKvmNode('fpu vmx');
    const denied = () => {
      throw Object.assign(new Error('open: permission denied'), { code: 'EACCES', syscall: 'open' });
    };
    const [, kvm] = await kvmChecks(new HostRoot(root), 'flags : fpu vmx', true, denied);
    expect(kvm!.status).toBe('fail');
    expect(kvm!.message).toMatch(/^\/dev\/kvm is not readable and writable by \S+ \(mode 0660, uid 0, gid 0\)$/);
    expect(kvm!.fix).toMatch(/usermod -aG kvm/);
  });
});

describe('permission fixes point at contrib/', () => {
  it('a /dev/shm region its group cannot write gets the tmpfiles.d entry as the fix, and the file exists', async () => {
    const root = path.join(dir, 'shmroot');
    mkdirSync(path.join(root, 'dev/shm'), { recursive: true });
    writeFileSync(path.join(root, 'dev/shm/lg'), Buffer.alloc(64 << 20), { mode: 0o600 });
    const config = parseVmConfig({ name: 'r', qemu: { accel: 'tcg' }, cpu: { cores: 2 }, memory: { size: '1G' }, region: { path: '/dev/shm/lg', width: 1920, height: 1080 } }, '/x/r.toml');
    const shm = (await runDoctor(new HostRoot(root), config)).find((c) => c.id === 'shared-memory')!;
    expect(shm.status).toBe('warn');
    expect(shm.message).toMatch(/mode 0600/);
    const conf = /install (\S+glasspane\.conf)/.exec(shm.fix!)?.[1];
    expect(conf && existsSync(conf), shm.fix!).toBe(true);
    expect(shm.fix).toMatch(/systemd-tmpfiles --create/);
  });
});

describe('contrib/tmpfiles.d/glasspane.conf', () => {
  it.skipIf(needs('tmpfiles'))('systemd-tmpfiles creates the region file 0660, group kvm', () => {
    const root = path.join(dir, 'tmpfiles-root');
    mkdirSync(path.join(root, 'etc'), { recursive: true });
    mkdirSync(path.join(root, 'dev/shm'), { recursive: true });
    for (const f of ['passwd', 'group']) copyFileSync(`/etc/${f}`, path.join(root, 'etc', f));
    execFileSync('systemd-tmpfiles', ['--create', `--root=${root}`, path.resolve('contrib/tmpfiles.d/glasspane.conf')]);
    const st = statSync(path.join(root, 'dev/shm/looking-glass'));
    expect(st.mode & 0o777).toBe(0o660);
    const kvmGid = Number(/^kvm:[^:]*:(\d+):/m.exec(readFileSync('/etc/group', 'utf8'))![1]);
    expect(st.gid).toBe(kvmGid);
  });
});
