/**
 * The conventions of docs/cli.md through the built CLI: one exit-status scheme in every
 * command's --help, usage errors exit 2, "nothing there" exits 3, output paths are checked
 * before any waiting, and help shows defaults as the user writes them.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { type CliRun, killAll, removeShm, runCli, shmPath, startCli, waitFor } from '../support/helpers.js';

const SCHEME = /Exit status: 0 ok; 1 [^;]+; 2 usage or bad input; 3 [^;]+; 4 the host, device or VM refused; 5 unexpected error \(a bug\) \(docs\/cli\.md\)\./;
const dir = mkdtempSync(join(tmpdir(), 'glasspane-conv-'));
const procs: CliRun[] = [];
afterAll(async () => {
  await killAll(procs);
  rmSync(dir, { recursive: true, force: true });
  removeShm();
});

/** Subcommand names listed under "Commands:" in a --help text (commander's layout). */
function listedCommands(help: string): string[] {
  const section = help.split(/\nCommands:\n/)[1]?.split(/\n\n/)[0] ?? '';
  return section
    .split('\n')
    .map((l) => /^ {2}([a-z][\w-]*)/.exec(l)?.[1])
    .filter((c): c is string => Boolean(c) && c !== 'help');
}

describe('exit statuses and output (docs/cli.md)', () => {
  it('every command and subcommand ends its --help with the one exit-status scheme', async () => {
    const queue: string[][] = [[]];
    const seen: string[] = [];
    while (queue.length) {
      const path = queue.shift()!;
      const r = await runCli([...path, '--help']);
      expect(r.code, path.join(' ')).toBe(0);
      if (path.length) {
        seen.push(path.join(' '));
        expect(r.stdout, `glasspane ${path.join(' ')} --help`).toMatch(SCHEME);
      }
      for (const c of listedCommands(r.stdout)) queue.push([...path, c]);
    }
    // The walk reached the nested commands too.
    expect(seen).toEqual(expect.arrayContaining(['view', 'stub', 'demo', 'doctor', 'iommu', 'vm up', 'vm status', 'vm down', 'vfio remove-bridge', 'send key', 'completion']));
  }, 120_000);

  it('usage errors exit 2, in commands and subcommands alike', async () => {
    const unknown = await runCli(['view', '--shm', '/dev/shm/x', '--bogus']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/unknown option '--bogus'/);
    const value = await runCli(['vm', 'down', 'x', '--timeout', 'soon']);
    expect(value.code).toBe(2);
    const missing = await runCli(['vm', 'status']);
    expect(missing.code).toBe(2);
  });

  it('usage errors read like every other error: "glasspane: WHAT", then the fix on a line of its own', async () => {
    const unknown = await runCli(['view', '--shm', '/dev/shm/x', '--bogus']);
    expect(unknown.stderr).toBe("glasspane: unknown option '--bogus'\n  fix: see `glasspane view --help` for the arguments and options\n");
    const value = await runCli(['vm', 'down', 'x', '--timeout', 'soon']);
    expect(value.stderr).toMatch(/^glasspane: .*--timeout.*"soon"\n {2}fix: see `glasspane vm down --help` for the arguments and options\n$/);
    const command = await runCli(['bogus']);
    expect(command.code).toBe(2);
    expect(command.stderr).toMatch(/^glasspane: unknown command 'bogus'\n {2}fix: see `glasspane --help`/);
  });

  it('demo --size out of the stub\'s range is a usage error naming --size (exit 2), not a bug', async () => {
    for (const size of ['0x0', '20000x100']) {
      const r = await runCli(['demo', '--size', size, '--headless', '--seconds', '1']);
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toContain(`--size must be from 8x2 to 16384x16384, got "${size}"`);
      expect(r.stderr).not.toMatch(/--width|guest-stub exited|report/);
    }
  });

  it('vm status of a name that never ran exits 3 naming the state dir; vm down of a stopped VM is done (0)', async () => {
    const stateDir = join(dir, 'state');
    const status = await runCli(['vm', 'status', 'nosuchvm', '--state-dir', stateDir]);
    expect(status.code).toBe(3);
    expect(status.stdout).toBe('');
    expect(status.stderr).toContain(`no VM named nosuchvm has run from ${stateDir}`);
    const down = await runCli(['vm', 'down', 'nosuchvm', '--state-dir', stateDir]);
    expect(down.code).toBe(3);
    // A VM that ran and was stopped leaves its QEMU log: stopping it again has nothing to do.
    rmSync(stateDir, { recursive: true, force: true });
    mkdirSync(stateDir, { recursive: true });
    writeFileSync(join(stateDir, 'old.log'), 'qemu output\n');
    const again = await runCli(['vm', 'down', 'old', '--state-dir', stateDir]);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toBe('old is already stopped; nothing to do\n');
    const st = await runCli(['vm', 'status', 'old', '--json', '--state-dir', stateDir]);
    expect(st.code).toBe(0);
    expect(JSON.parse(st.stdout)).toEqual({ name: 'old', status: 'stopped', pid: null, qmpSocket: null });
  });

  it('--screenshot into a folder that does not exist exits 2, naming the folder (no raw ENOENT)', async () => {
    const shm = shmPath('shotdir');
    const stub = startCli(['stub', '--shm', shm, '--size', '8', '--width', '320', '--height', '200', '--fps', '30', '--quiet']);
    procs.push(stub);
    const r = await runCli(['view', '--shm', shm, '--screenshot', join(dir, 'no', 'such', 'g.png')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`the folder ${join(dir, 'no', 'such')} does not exist`);
    expect(r.stderr).not.toMatch(/ENOENT/);
    const dirFlag = await runCli(['view', '--shm', shm, '--screenshot-dir', join(dir, 'nope')]);
    expect(dirFlag.code).toBe(2);
    expect(dirFlag.stderr).toMatch(/--screenshot-dir .*nope: the folder .* does not exist/);
  });

  it('vfio unbind/restore/remove-bridge and vm status/down show examples; remove-bridge refuses the --journal it never used', async () => {
    for (const cmd of [['vfio', 'unbind'], ['vfio', 'restore'], ['vfio', 'remove-bridge'], ['vm', 'status'], ['vm', 'down']]) {
      const r = await runCli([...cmd, '--help']);
      expect(r.stdout, cmd.join(' ')).toMatch(new RegExp(`Examples:\\n(\\s+.*\\n)*?\\s+(sudo )?glasspane ${cmd.join(' ')} `));
    }
    const j = await runCli(['vfio', 'remove-bridge', '0000:00:01.0', '--journal', join(dir, 'j.json'), '--dry-run', '--root', dir]);
    expect(j.code).toBe(2);
    expect(j.stderr).toMatch(/unknown option '--journal'/);
  });

  it('help shows defaults as they are written on the command line', async () => {
    const demo = await runCli(['demo', '--help']);
    expect(demo.stdout).toMatch(/frame size \(default: 1920x1080\)/);
    expect(demo.stdout).not.toMatch(/"width"/);
    const send = await runCli(['send', '--help']);
    expect(send.stdout).toMatch(/\(default: 10000\)/);
    expect(send.stdout).not.toMatch(/"10000"|"30"/);
  });

  it('stub --input-port prints its address on stdout (data), nothing else there without --input-log', async () => {
    const shm = shmPath('inport');
    const stub = startCli(['stub', '--shm', shm, '--size', '8', '--width', '320', '--height', '200', '--scene', 'input', '--input-port', '0', '--quiet']);
    procs.push(stub);
    await waitFor(() => stub.stdout().includes('\n'), 15_000, 'the input address');
    expect(stub.stdout()).toMatch(/^ws:\/\/127\.0\.0\.1:\d+\n$/);
    expect(stub.stderr()).not.toMatch(/ws:\/\//);
  });
});
