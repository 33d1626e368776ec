/**
 * The built CLI end to end (npm test builds dist/ first): `vm up` returns with QEMU and the
 * supervisor detached, `vm status --json` sees it, a kill -9 is noticed by the detached supervisor,
 * `vm down` tidies up. Every QEMU started here is killed in afterAll.
 */
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { makeTempDir } from './fake-sysfs.js';
import { needs } from '../support/system.js';
import { CLI, runCli, startCli } from '../support/helpers.js';

const dir = makeTempDir('glasspane-cli-');
const stateDir = path.join(dir, 'state');
const pids: number[] = [];

afterAll(() => {
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
  rmSync(dir, { recursive: true, force: true });
});

/** `glasspane ARGS --state-dir` (the built CLI), with its exit status and output. */
async function glasspane(...args: string[]): Promise<{ stdout: string; stderr: string; code: number | null }> {
  return runCli([...args, '--state-dir', stateDir]);
}

async function status(): Promise<{ name: string; status: string; pid: number | null; qmpSocket: string | null }> {
  return JSON.parse((await glasspane('vm', 'status', 'smoke', '--json')).stdout);
}

describe.skipIf(needs('qemu'))('glasspane vm (built CLI, real QEMU)', () => {
  it('up → status → kill -9 → crashed (detached supervisor) → down; then up → down by quit', async () => {
    expect(existsSync(CLI), 'dist/src/cli/main.js is missing: run `npm run build` (npm test does)').toBe(true);
    const toml = path.join(dir, 'smoke.toml');
    const region = path.join(dir, 'region');
    writeFileSync(toml, readFileSync('examples/vm-smoke.toml', 'utf8').replace('path = "/dev/shm/glasspane-smoke"', `path = "${region}"`));

    const up = await glasspane('vm', 'up', toml);
    expect(up.code, up.stderr).toBe(0);
    expect(up.stdout).toMatch(/^smoke running \(pid \d+\), QMP /);
    expect(up.stderr).toMatch(/region .*: 32M, mode 0660/);
    expect(Object.keys(JSON.parse((await glasspane('vm', 'status', 'smoke', '--json')).stdout))).toEqual(['name', 'status', 'pid', 'qmpSocket']);
    const s1 = await status();
    pids.push(s1.pid!);
    expect(s1).toEqual({ name: 'smoke', status: 'running', pid: s1.pid, qmpSocket: path.join(stateDir, 'smoke.qmp') });

    process.kill(s1.pid!, 'SIGKILL');
    let s2 = await status();
    for (let i = 0; i < 600 && (s2.status !== 'crashed' || existsSync(region)); i++) {
      await sleep(100);
      s2 = await status();
    }
    expect(s2.status).toBe('crashed');
    expect(existsSync(region)).toBe(false); // the supervisor cleaned up after the crash

    const down1 = await glasspane('vm', 'down', 'smoke');
    expect(down1.stdout).toBe('smoke stopped (crashed); host restored\n');
    expect((await status()).status).toBe('stopped');

    const up2 = await glasspane('vm', 'up', toml);
    expect(up2.code, up2.stderr).toBe(0);
    pids.push((await status()).pid!);
    const down2 = await glasspane('vm', 'down', 'smoke', '--timeout', '1');
    expect(down2.code, down2.stderr).toBe(0);
    expect(down2.stdout).toBe('smoke stopped (quit); host restored\n');
    expect(await status()).toEqual({ name: 'smoke', status: 'stopped', pid: null, qmpSocket: null });
  });

  it('up --foreground stays attached; Ctrl-C (SIGINT) runs vm down and it exits', async () => {
    const toml = path.join(dir, 'fg.toml');
    writeFileSync(toml, readFileSync('examples/vm-smoke.toml', 'utf8').replace('path = "/dev/shm/glasspane-smoke"', `path = "${path.join(dir, 'fg-region')}"`));
    const fg = startCli(['vm', 'up', toml, '--foreground', '--state-dir', stateDir]);
    try {
      for (let i = 0; i < 900 && !/running \(pid/.test(fg.stdout()) && fg.child.exitCode === null; i++) await sleep(100);
      expect(fg.stdout(), fg.stderr()).toMatch(/^smoke running \(pid \d+\)/);
      const s = await status();
      pids.push(s.pid!);
      expect(s.status).toBe('running');
      fg.child.kill('SIGINT');
      expect((await fg.exited).code).toBe(0);
      expect(fg.stdout()).toMatch(/smoke: stopped\n$/);
      expect(fg.stderr()).toMatch(/asking the guest to power off/);
      expect((await status()).status).toBe('stopped');
    } finally {
      fg.child.kill('SIGKILL');
    }
  });

  it('bad input: a config error names the key, exit status 2', async () => {
    const toml = path.join(dir, 'bad.toml');
    writeFileSync(toml, 'name = "x"\n[cpu]\ncores = "two"\n[memory]\nsize = "1G"\n');
    const r = await glasspane('vm', 'up', toml);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/cpu\.cores: "two" is not a number/);
    expect(r.stderr).toMatch(/fix: fix the keys named above/);
  });
});
