/**
 * Faults that used to be swallowed by a bare catch: a `system_powerdown` QEMU refuses (vm down
 * then waited out the whole shutdown timeout), a /proc that hides another user's processes (a
 * running VM looked dead), and a region path that can no longer be looked at (taken for "the file
 * did not change"). The QMP peer here is a small scripted server in its own process, standing in
 * for a QEMU that refuses: a fake for an error branch real QEMU does not take on demand.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { HostRoot } from '../../src/vm/host-root.js';
import { vmDown } from '../../src/vm/vm-down.js';
import { isVmProcess, writeState } from '../../src/vm/vm-state.js';
import { RecordingWriter } from '../../src/vm/sysfs-writer.js';
import { ROOT, removeShm, rootReadableBy, shmPath, waitFor } from '../support/helpers.js';
import { makeTempDir } from './fake-sysfs.js';

const dir = makeTempDir('glasspane-hidden-');
const children: ChildProcess[] = [];
afterAll(() => {
  for (const c of children) c.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
  removeShm();
});

/** A process whose command line names `socket` (as QEMU's does) serving QMP there: greets, refuses system_powerdown, exits on quit. */
const REFUSING_QMP = `
const net = require('node:net');
net.createServer((s) => {
  s.write('{"QMP": {"version": {"qemu": {"micro": 0, "minor": 2, "major": 7}}, "capabilities": []}}\\r\\n');
  let buf = '';
  s.on('data', (d) => {
    buf += d;
    for (let nl; (nl = buf.indexOf('\\n')) >= 0; ) {
      const cmd = JSON.parse(buf.slice(0, nl));
      buf = buf.slice(nl + 1);
      const id = cmd.id === undefined ? '' : ', "id": ' + JSON.stringify(cmd.id);
      if (cmd.execute === 'system_powerdown') s.write('{"error": {"class": "GenericError", "desc": "powerdown refused by this test"}' + id + '}\\r\\n');
      else s.write('{"return": {}' + id + '}\\r\\n');
      if (cmd.execute === 'quit') setTimeout(() => process.exit(0), 50);
    }
  });
}).listen(process.argv[1], () => console.log('listening'));
`;

describe('faults no longer hidden by a catch', () => {
  it('vm down: a refused system_powerdown is said and quit follows at once, not after the whole timeout', async () => {
    const stateDir = path.join(dir, 'state');
    mkdirSync(stateDir, { recursive: true });
    const qmpSocket = path.join(stateDir, 'fake.qmp');
    const qemu = spawn(process.execPath, ['-e', REFUSING_QMP, qmpSocket], { stdio: ['ignore', 'pipe', 'inherit'] });
    children.push(qemu);
    let out = '';
    qemu.stdout!.on('data', (d) => (out += d));
    await waitFor(() => out.includes('listening'), 20_000, 'the scripted QMP server');
    await writeState(stateDir, {
      name: 'fake', pid: qemu.pid!, qmpSocket, watchSocket: path.join(stateDir, 'fake.watch.qmp'), spiceSocket: null, regionPath: null, regionCreated: false,
      journalPath: path.join(stateDir, 'fake.journal.json'), root: '/', logPath: path.join(stateDir, 'fake.log'), startedAt: new Date().toISOString(), shutdownTimeoutS: 600,
    });
    const log: string[] = [];
    const host = new HostRoot('/');
    // 600 s of patience for the guest: only acting on the refusal ends this within the test's deadline.
    const how = await Promise.race([
      vmDown({ host, writer: new RecordingWriter(), stateDir, log: (l) => log.push(l) }, 'fake'),
      new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`vm down still waiting after 30 s: ${log.join(' | ')}`)), 30_000)),
    ]);
    expect(how).toBe('quit');
    expect(log).toContain('system_powerdown failed (QMP system_powerdown failed: GenericError: powerdown refused by this test); sending quit');
  }, 60_000);

  it('vm status: a /proc that hides the VM\'s process (hidepid) does not make a running VM look dead', () => {
    const qmpSocket = path.join(dir, 'hidden.qmp');
    writeFileSync(qmpSocket, '');
    const hidden = (code: string) => () => {
      throw Object.assign(new Error(`${code}: /proc hides it`), { code });
    };
    // This process is alive: hidepid=1 (EACCES) and hidepid=2 (ENOENT) both hide its files.
    expect(isVmProcess(process.pid, qmpSocket, hidden('EACCES'))).toBe(true);
    expect(isVmProcess(process.pid, qmpSocket, hidden('ENOENT'))).toBe(true);
    // A process that is gone is gone, readable /proc or not; and a readable one must name the socket.
    const gone = spawn(process.execPath, ['-e', '']);
    return new Promise<void>((resolve) =>
      gone.once('exit', () => {
        expect(isVmProcess(gone.pid!, qmpSocket, hidden('ENOENT'))).toBe(false);
        expect(isVmProcess(process.pid, qmpSocket)).toBe(false);
        resolve();
      }),
    );
  });

  it('a region whose path can no longer be looked at (EACCES) is reported as changed, not as unchanged', async () => {
    const folder = shmPath('regions'); // in /dev/shm: an ordinary user can reach it
    mkdirSync(folder, { mode: 0o755 });
    const file = path.join(folder, 'region');
    writeFileSync(file, Buffer.alloc(1 << 20));
    chmodSync(file, 0o666);
    // Root looks through any permission: the check runs as an ordinary user (nobody) when we are root.
    const nobody = process.getuid?.() === 0 ? { uid: 65534, gid: 65534 } : undefined;
    const asUser = nobody ?? {};
    const code = nobody ? rootReadableBy(nobody) : ROOT;
    const script = `
      const { openRegion, regionFileChanged } = await import(${JSON.stringify(path.join(code, 'dist/src/region.js'))});
      const r = openRegion(process.argv[1]);
      console.log(JSON.stringify({ before: regionFileChanged(r) }));
      process.stdin.once('data', () => { console.log(JSON.stringify({ after: regionFileChanged(r) })); r.close(); });`;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script, file], { stdio: ['pipe', 'pipe', 'inherit'], cwd: code, ...asUser });
    children.push(child);
    let out = '';
    child.stdout!.on('data', (d) => (out += d));
    await waitFor(() => out.includes('before'), 20_000, 'the region to be mapped');
    expect(JSON.parse(out.split('\n')[0]!)).toEqual({ before: null });
    chmodSync(folder, 0o000);
    child.stdin!.write('go\n');
    await waitFor(() => out.includes('after'), 20_000, 'the second look');
    chmodSync(folder, 0o755);
    expect(JSON.parse(out.trim().split('\n')[1]!).after).toBe(`${file} cannot be looked at any more (EACCES)`);
  });
});
