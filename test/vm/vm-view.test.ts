/**
 * `vm up FILE --view` with the built CLI, real QEMU (TCG, examples/vm-smoke.toml with a SPICE
 * password) and the real viewer under Xvfb: the window it opens carries the VM's name, and the
 * viewer links to the VM's SPICE server with the password file, so keyboard and mouse can reach
 * the guest (QEMU lists its main and inputs channels as connected). Everything started is
 * stopped in afterAll.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectQmp } from '../../src/vm/qmp.js';
import { readState } from '../../src/vm/vm-state.js';
import { viewArgsFor } from '../../src/cli/commands/vm.js';
import { loadVmConfig } from '../../src/vm/config.js';
import { CLI, runCli } from '../support/helpers.js';
import { startXvfb, xdotool, type Xvfb } from '../support/xvfb.js';
import { makeTempDir } from './fake-sysfs.js';
import { needs, WINDOW_PARTS } from '../support/system.js';

const dir = makeTempDir('glasspane-vmview-');
const stateDir = path.join(dir, 'state');
let x: Xvfb;
let up: ChildProcess | null = null;
beforeAll(async () => {
  x = await startXvfb();
});
afterAll(async () => {
  if (up?.pid) {
    try {
      process.kill(-up.pid, 'SIGKILL'); // vm up and the viewer it started
    } catch {
      /* gone */
    }
  }
  await runCli(['vm', 'down', 'smoke', '--timeout', '1', '--state-dir', stateDir]);
  await x?.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function smokeConfig(): Promise<string> {
  const toml = path.join(dir, 'smoke.toml');
  const pw = path.join(dir, 'spice-password');
  writeFileSync(pw, 'open-sesame\n', { mode: 0o600 }); // as `echo open-sesame > FILE` writes it
  const text = readFileSync('examples/vm-smoke.toml', 'utf8')
    .replace('path = "/dev/shm/glasspane-smoke"', `path = "${path.join(dir, 'region')}"`)
    .replace('socket = true', `socket = true\npassword_file = "${pw}"`);
  writeFileSync(toml, text);
  return toml;
}

describe.skipIf(needs(...WINDOW_PARTS, 'qemu'))('vm up --view (built CLI, real QEMU, Xvfb)', () => {
  it('the viewer it starts is given the VM\'s SPICE socket, password file and name', async () => {
    const toml = await smokeConfig();
    const { config } = await loadVmConfig(toml);
    expect(viewArgsFor(config, { spiceSocket: path.join(stateDir, 'smoke.spice') })).toEqual([
      'view', '--shm', path.join(dir, 'region'), '--title', 'smoke',
      '--spice', `unix:${path.join(stateDir, 'smoke.spice')}`, '--spice-password-file', path.join(dir, 'spice-password'),
    ]);
    const tcp = { ...config, spice: { ...config.spice!, socket: undefined, port: 5930, addr: '0.0.0.0' } };
    expect(viewArgsFor(tcp, { spiceSocket: null })).toContain('127.0.0.1:5930');

    up = spawn(process.execPath, [CLI, 'vm', 'up', toml, '--view', '--state-dir', stateDir], { env: x.env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    up.stdout!.on('data', (d) => (out += d));
    up.stderr!.on('data', (d) => (err += d));
    for (let i = 0; i < 600 && !/running \(pid/.test(out) && up.exitCode === null; i++) await sleep(100);
    expect(out, err).toMatch(/^smoke running \(pid \d+\)/);

    // The window carries the VM's name.
    let found = '';
    for (let i = 0; i < 300 && !found; i++) {
      try {
        found = xdotool(x, 'search', '--name', '^glasspane - smoke$');
      } catch {
        await sleep(100);
      }
    }
    expect(found, `no viewer window; vm up said: ${err}`).not.toBe('');

    // QEMU lists the viewer's channels once it linked with the password: input can reach the guest.
    const state = (await readState(stateDir, 'smoke'))!;
    const qmp = await connectQmp(state.qmpSocket);
    try {
      let types: number[] = [];
      for (let i = 0; i < 300; i++) {
        const spice = await qmp.execute<{ channels?: Array<{ 'channel-type': number }> }>('query-spice');
        types = (spice.channels ?? []).map((c) => c['channel-type']);
        if (types.includes(3)) break;
        await sleep(100);
      }
      expect(types, `viewer output: ${err}`).toEqual(expect.arrayContaining([1, 3])); // main, inputs
    } finally {
      qmp.close();
    }
  }, 120_000);
});
