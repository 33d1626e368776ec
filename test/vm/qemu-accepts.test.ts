/**
 * The two passthrough examples' command lines, checked by QEMU 7.2 itself. This machine has no
 * KVM, no GPU and none of the files, so host-only parts get stand-ins (TCG, temp files, no vfio
 * devices, no evdev) and QEMU must start with everything else exactly as generated. What was left
 * out is checked by name over QMP: vfio-pci and input-linux properties and the hv-* CPU flags.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadVmConfig, type VmConfig } from '../../src/vm/config.js';
import { buildQemuArgs, buildQemuFlags, runtimePaths } from '../../src/vm/qemu-args.js';
import { connectQmp } from '../../src/vm/qmp.js';
import { makeTempDir } from './fake-sysfs.js';
import { needs } from '../support/system.js';

const dir = makeTempDir('glasspane-accepts-');
const children: ChildProcess[] = [];
afterAll(() => {
  for (const c of children) c.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

/** The example with host-only parts replaced by stand-ins this machine has. */
async function standIn(c: VmConfig, tag: string): Promise<VmConfig> {
  const file = (name: string, bytes = 1024 * 1024) => {
    const p = path.join(dir, `${tag}-${name}`);
    writeFileSync(p, Buffer.alloc(bytes));
    return p;
  };
  const vars = path.join(dir, `${tag}-vars.fd`);
  copyFileSync(c.firmware!.vars_template, vars);
  return {
    ...c,
    qemu: { ...c.qemu, accel: 'tcg' },
    cpu: { ...c.cpu, model: 'max', hyperv: false },
    memory: { ...c.memory, size: '256M' },
    firmware: { ...c.firmware!, vars },
    disk: c.disk.filter((d) => d.file).map((d, i) => ({ ...d, file: file(`disk${i}`), format: 'raw' as const })),
    gpu: undefined,
    usb: undefined,
    input: { ...c.input, keyboard: undefined, mouse: undefined, extra: [] }, // evdev devices are the host's; virtio input stays
    region: c.region && { ...c.region, path: file('region', 0) },
    spice: c.spice && { ...c.spice, port: await freePort() },
  };
}

async function startAndInspect(example: string, tag: string) {
  const { config } = await loadVmConfig(example);
  const paths = runtimePaths(config, path.join(dir, tag));
  const test = await standIn(config, tag);
  const args = buildQemuArgs(test, { ...paths, qmpSocket: path.join(dir, `${tag}.qmp`), watchSocket: path.join(dir, `${tag}.watch`) });
  let stderr = '';
  const q = spawn('qemu-system-x86_64', [...args, '-S'], { stdio: ['ignore', 'ignore', 'pipe'] });
  children.push(q);
  q.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  let exited = false;
  q.on('exit', () => (exited = true));
  const qmp = await connectQmp(path.join(dir, `${tag}.qmp`), { timeoutMs: 30_000, stillStarting: () => !exited }).catch((e) => {
    throw new Error(`QEMU rejected the command line: ${stderr || e.message}`);
  });
  const status = await qmp.execute<{ status: string }>('query-status');
  const props = async (typename: string, cmd = 'device-list-properties') => (await qmp.execute<{ name: string }[]>(cmd, { typename })).map((p) => p.name);
  const inspected = {
    status: status.status,
    vfio: await props('vfio-pci'),
    rootPort: await props('pcie-root-port'),
    inputLinux: await props('input-linux', 'qom-list-properties'),
    cpu: await props('max-x86_64-cpu'),
    peripherals: (await qmp.execute<{ name: string }[]>('qom-list', { path: '/machine/peripheral' })).map((p) => p.name),
    mice: await qmp.execute<{ name: string; absolute: boolean }[]>('query-mice'),
  };
  await qmp.execute('quit');
  return { flags: buildQemuFlags(config, paths), ...inspected };
}

/** "opt=v,flag" → option names, for comparing against QEMU's property lists; `id` and `bus` are
 * generic -device/-object options, not properties. */
const optionNames = (value: string) => value.split(',').slice(1).map((kv) => kv.split('=')[0]).filter((n) => n !== 'id' && n !== 'bus');

describe.skipIf(needs('qemu', 'ovmf'))('QEMU 7.2 accepts the example command lines', () => {
  it('SPICE with a password from a file (secret object + password-secret) and a localtime RTC', async () => {
    const { config } = await loadVmConfig('examples/vm-smoke.toml');
    const pw = path.join(dir, 'spice.pw');
    writeFileSync(pw, 'hunter2');
    const c: VmConfig = { ...config, region: undefined, clock: { localtime: true }, spice: { ...config.spice!, socket: undefined, port: await freePort(), password_file: pw } };
    const args = buildQemuArgs(c, { qmpSocket: path.join(dir, 'pw.qmp'), watchSocket: path.join(dir, 'pw.watch'), spiceSocket: null });
    expect(args.join(' ')).not.toContain('hunter2');
    const q = spawn('qemu-system-x86_64', [...args, '-S'], { stdio: ['ignore', 'ignore', 'pipe'] });
    children.push(q);
    let stderr = '';
    q.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const qmp = await connectQmp(path.join(dir, 'pw.qmp'), { timeoutMs: 30_000, stillStarting: () => q.exitCode === null }).catch((e) => {
      throw new Error(`QEMU rejected the command line: ${stderr || e.message}`);
    });
    const spice = await qmp.execute<{ enabled: boolean; auth: string }>('query-spice');
    expect(spice.enabled).toBe(true);
    expect(spice.auth).toBe('spice');
    await qmp.execute('quit');
  });

  for (const [example, tag] of [['examples/vm-amd-dual-gpu.toml', 'amd'], ['examples/vm-nvidia-raw-qemu.toml', 'nvidia']] as const) {
    it(`${example}`, async () => {
      const r = await startAndInspect(example, tag);
      expect(r.status).toBe('prelaunch');
      const values = (flag: string) => r.flags.filter(([f]) => f === flag).map(([, v]) => v!);
      for (const dev of values('-device').filter((d) => d.startsWith('vfio-pci,'))) {
        for (const opt of optionNames(dev)) expect(r.vfio, `vfio-pci has no property ${opt}`).toContain(opt);
      }
      for (const dev of values('-device').filter((d) => d.startsWith('pcie-root-port,'))) {
        for (const opt of optionNames(dev)) expect(r.rootPort, `pcie-root-port has no property ${opt}`).toContain(opt);
      }
      for (const obj of values('-object').filter((o) => o.startsWith('input-linux,'))) {
        for (const opt of optionNames(obj)) expect(r.inputLinux, `input-linux has no property ${opt}`).toContain(opt);
      }
      // The virtio keyboard, mouse and tablet (on by default) are made, and QEMU routes pointers to them.
      expect(r.peripherals).toEqual(expect.arrayContaining(['glasspane-keyboard', 'glasspane-mouse', 'glasspane-tablet']));
      expect(r.mice).toEqual(expect.arrayContaining([expect.objectContaining({ name: 'QEMU Virtio Mouse', absolute: false }), expect.objectContaining({ name: 'QEMU Virtio Tablet', absolute: true })]));
      const cpuFlags = values('-cpu')[0].split(',').slice(1).map((f) => f.split('=')[0]);
      expect(cpuFlags.length).toBeGreaterThan(5);
      for (const f of cpuFlags) expect(r.cpu, `the CPU has no property ${f}`).toContain(f);
    });
  }
});
