/**
 * Real QEMU 7.2 under TCG with examples/vm-smoke.toml: up, status, SPICE link, down, and a
 * kill -9 detected as a crash with the host restored. Every QEMU started here is killed in
 * afterAll, whatever happened.
 */
import { existsSync, rmSync, statSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadVmConfig, type VmConfig } from '../../src/vm/config.js';
import { HostRoot } from '../../src/vm/host-root.js';
import { isVmProcess, readState, vmDown, vmStatus, vmUp, type LifecycleContext } from '../../src/vm/lifecycle.js';
import { connectQmp } from '../../src/vm/qmp.js';
import { MainChannel } from '../../src/spice/main-channel.js';
import { parseSpiceAddress } from '../../src/spice/address.js';
import { MiB } from '../../src/vm/region-size.js';
import { ChildProcessWriter, type SysfsWriter } from '../../src/vm/sysfs-writer.js';
import { bindDevices } from '../../src/vm/vfio.js';
import { AMD_MATCHES, amdDualGpuHost, FakeKernel, makeFakeHost, makeTempDir, snapshotTree } from './fake-sysfs.js';
import { needs } from '../support/system.js';
import { waitFor } from '../support/helpers.js';

const pids: number[] = [];
const dirs: string[] = [];
const disposers: (() => void)[] = [];
let base: VmConfig;

beforeAll(async () => {
  base = (await loadVmConfig('examples/vm-smoke.toml')).config;
});

afterAll(() => {
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
  for (const d of disposers) d();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** The smoke example with its region moved into a fresh temp dir, and a fresh state dir. */
function fixture(host = new HostRoot('/'), writer: SysfsWriter = new ChildProcessWriter(host)) {
  const dir = makeTempDir('glasspane-smoke-');
  dirs.push(dir);
  const config: VmConfig = { ...base, region: { ...base.region!, path: path.join(dir, 'region') } };
  const ctx: LifecycleContext = { host, writer, stateDir: path.join(dir, 'state') };
  return { config, ctx };
}

/** Sends a SPICE link request for the main channel; resolves with the first 4 bytes of the answer. */
function spiceLinkMagic(socketPath: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.createConnection(socketPath);
    const msg = Buffer.alloc(16 + 18);
    msg.write('REDQ', 0, 'latin1');
    msg.writeUInt32LE(2, 4); // major
    msg.writeUInt32LE(2, 8); // minor
    msg.writeUInt32LE(18, 12); // size of SpiceLinkMess
    msg.writeUInt32LE(0, 16); // connection id
    msg.writeUInt8(1, 20); // channel type: main
    msg.writeUInt8(0, 21); // channel id
    msg.writeUInt32LE(0, 22); // common caps
    msg.writeUInt32LE(0, 26); // channel caps
    msg.writeUInt32LE(18, 30); // caps offset
    let got = Buffer.alloc(0);
    s.on('connect', () => s.write(msg));
    s.on('data', (d) => {
      got = Buffer.concat([got, d]);
      if (got.length >= 4) {
        s.destroy();
        resolve(got.subarray(0, 4).toString('latin1'));
      }
    });
    s.on('error', reject);
  });
}

describe.skipIf(needs('qemu'))('vm lifecycle with real QEMU (TCG)', () => {
  it('up: region sized and 0660, QMP running, SPICE links, status --json; down stops it and cleans up', async () => {
    const { config, ctx } = fixture();
    const lines: string[] = [];
    ctx.log = (l) => lines.push(l);
    const up = await vmUp(ctx, config, { supervise: 'inline' });
    pids.push(up.state.pid);

    const st = statSync(config.region!.path);
    expect(st.size).toBe(32 * MiB);
    expect(st.mode & 0o777).toBe(0o660);
    expect(lines.some((l) => /running/.test(l))).toBe(true);

    expect(await vmStatus(ctx, 'smoke')).toEqual({ name: 'smoke', status: 'running', pid: up.state.pid, qmpSocket: path.join(ctx.stateDir, 'smoke.qmp') });
    expect(await spiceLinkMagic(up.state.spiceSocket!)).toBe('REDQ');
    // audio = true in the example: the SPICE server offers playback (5) and record (6) channels.
    const main = await MainChannel.open({ address: parseSpiceAddress(`unix:${up.state.spiceSocket}`) });
    expect(main.channels.map((ch) => ch.type).sort()).toEqual(expect.arrayContaining([5, 6]));
    await main.close();

    // paused is reported as such
    const qmp = await connectQmp(up.state.qmpSocket);
    await qmp.execute('stop');
    qmp.close();
    expect((await vmStatus(ctx, 'smoke')).status).toBe('paused');
    const qmp2 = await connectQmp(up.state.qmpSocket);
    await qmp2.execute('cont');
    qmp2.close();

    const second = await vmUp(ctx, config, { supervise: 'none' }).catch((e) => e);
    expect(second.code).toBe('ERR_VM_RUNNING');

    // nothing in the guest answers the power button: powerdown times out, quit ends it cleanly
    const how = await vmDown(ctx, 'smoke', { timeoutS: 1 });
    expect(how).toBe('quit');
    expect(isVmProcess(up.state.pid, up.state.qmpSocket)).toBe(false);
    // Gone from /proc is not yet reaped by Node: on a loaded machine the exit event comes a little later.
    await waitFor(() => up.child.exitCode !== null || up.child.signalCode !== null, 10_000, "QEMU's exit reaching Node");
    expect(up.child.exitCode).toBe(0);
    expect(await up.supervision).toBe('handled-by-down');
    expect(await vmStatus(ctx, 'smoke')).toEqual({ name: 'smoke', status: 'stopped', pid: null, qmpSocket: null });
    expect(existsSync(config.region!.path)).toBe(false);
    expect(existsSync(up.state.qmpSocket)).toBe(false);
  });

  it('kill -9 of QEMU is detected as a crash and the devices go back to the host', async () => {
    const root = makeFakeHost(amdDualGpuHost());
    dirs.push(root);
    const kernel = new FakeKernel(root, AMD_MATCHES);
    disposers.push(() => kernel.dispose());
    const before = snapshotTree(root);
    const { config, ctx } = fixture(new HostRoot(root), kernel);
    const up = await vmUp(ctx, config, { supervise: 'inline' });
    pids.push(up.state.pid);
    // lend a (fake) GPU under this VM's journal, as vm up does for a passthrough config
    await bindDevices({ host: ctx.host, writer: kernel, journalPath: up.state.journalPath }, ['0000:2f:00.0', '0000:2f:00.1'], { owner: 'vm:smoke' });
    expect(snapshotTree(root)).not.toEqual(before);

    process.kill(up.state.pid, 'SIGKILL');
    expect(await up.supervision).toBe('crashed');
    expect((await vmStatus(ctx, 'smoke')).status).toBe('crashed');
    expect(snapshotTree(root)).toEqual(before);
    expect(existsSync(up.state.journalPath)).toBe(false);
    expect(existsSync(config.region!.path)).toBe(false);

    // vm down on a crashed VM only tidies up; afterwards it is "stopped"
    expect(await vmDown(ctx, 'smoke')).toBe('crashed');
    expect((await vmStatus(ctx, 'smoke')).status).toBe('stopped');
  });

  it('down escalates to SIGTERM when QMP is unavailable (another client holds the monitor)', async () => {
    const { config, ctx } = fixture();
    const up = await vmUp(ctx, config, { supervise: 'none' });
    pids.push(up.state.pid);
    const holder = await connectQmp(up.state.qmpSocket);
    try {
      expect(await vmDown(ctx, 'smoke', { timeoutS: 1 })).toBe('SIGTERM');
    } finally {
      holder.close();
    }
    expect(isVmProcess(up.state.pid, up.state.qmpSocket)).toBe(false);
    // Gone from /proc (or a zombie) before Node has delivered the child's exit: wait for that.
    if (up.child.signalCode === null && up.child.exitCode === null) await waitFor(() => up.child.signalCode !== null || up.child.exitCode !== null, 10_000, "QEMU's exit reaching Node");
    expect(up.child.signalCode ?? up.child.exitCode).not.toBeNull();
  });

  it('down escalates to SIGKILL when QEMU does not answer QMP or SIGTERM (a stopped process)', async () => {
    const { config, ctx } = fixture();
    const up = await vmUp(ctx, config, { supervise: 'none' });
    pids.push(up.state.pid);
    // SIGSTOP: QMP accepts the connection but never greets, and SIGTERM stays pending, as with
    // a QEMU hung in a device reset that can still be killed.
    process.kill(up.state.pid, 'SIGSTOP');
    const lines: string[] = [];
    expect(await vmDown({ ...ctx, log: (l) => lines.push(l) }, 'smoke', { timeoutS: 1 })).toBe('SIGKILL');
    expect(lines.join('\n')).toMatch(/QMP unavailable[\s\S]*sending SIGTERM[\s\S]*sending SIGKILL[\s\S]*restoring the host/);
    expect(isVmProcess(up.state.pid, up.state.qmpSocket)).toBe(false);
    expect(await readState(ctx.stateDir, 'smoke')).toBeNull();
  }, 120_000);

  it('down after a vm up killed between bind and QEMU start gives the devices back', async () => {
    const root = makeFakeHost(amdDualGpuHost());
    dirs.push(root);
    const kernel = new FakeKernel(root, AMD_MATCHES);
    disposers.push(() => kernel.dispose());
    const before = snapshotTree(root);
    const { ctx } = fixture(new HostRoot(root), kernel);
    await bindDevices({ host: ctx.host, writer: kernel, journalPath: path.join(ctx.stateDir, 'smoke.journal.json') }, ['0000:2f:00.0'], { owner: 'vm:smoke' });
    expect(await vmDown(ctx, 'smoke')).toBe('never started');
    expect(snapshotTree(root)).toEqual(before);
  });

  it('a QEMU that refuses its arguments gives an error with its own message, and nothing is left behind', async () => {
    const { config, ctx } = fixture();
    const bad = { ...config, qemu: { ...config.qemu, extra_args: ['-no-such-flag'] } };
    const err = await vmUp(ctx, bad, { supervise: 'none' }).catch((e) => e);
    expect(err.code).toBe('ERR_QEMU_EXITED');
    expect(err.message).toMatch(/no-such-flag/);
    expect(existsSync(config.region!.path)).toBe(false);
    expect(await readState(ctx.stateDir, 'smoke')).toBeNull();
  });
});
