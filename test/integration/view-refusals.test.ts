/**
 * The exit statuses docs/cli.md promises for regions and addresses that can never work, through
 * the built CLI: a region this user may not open is refused at once (4), without "waiting for it
 * to appear"; a folder as --shm is a usage error (2); a malformed --spice is a usage error also
 * with --headless; the demo's stub ending early is ERR_DEMO_STUB_EXITED (4), not "a bug" (5).
 */
import { chmodSync, chownSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { type CliRun, killAll, removeShm, runCli, shmPath, startCli, waitFor } from '../support/helpers.js';
import { exitStatusOf } from '../support/errors.js';

const procs: CliRun[] = [];
afterAll(async () => {
  await killAll(procs);
  removeShm();
});

/** Root may open anything: the refusal is seen by an ordinary user, so as root run the CLI as nobody. */
const asUser = process.getuid?.() === 0 ? { uid: 65534, gid: 65534 } : null;

/** The pid of a process whose parent is `ppid` (from /proc), or undefined. */
function childOf(ppid: number): number | undefined {
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === ppid) return Number(d);
    } catch {
      /* gone meanwhile */
    }
  }
  return undefined;
}

describe('view and demo: refusals with the documented exit status', () => {
  it('a region this user may not open exits 4 at once, naming the owner and mode, without waiting for it', async () => {
    const shm = shmPath('noaccess');
    writeFileSync(shm, Buffer.alloc(1 << 20));
    chmodSync(shm, 0o600);
    if (asUser) chownSync(shm, 0, 0);
    const r = await runCli(['view', '--shm', shm, '--headless', '--seconds', '30'], { timeoutMs: 60_000, as: asUser ?? undefined });
    expect(r.code, r.stderr).toBe(4);
    expect(r.stderr).toMatch(new RegExp(`^glasspane: ${shm} is not readable and writable by .*mode 0600\\)\\n {2}fix: `));
    expect(r.stderr).not.toMatch(/waiting for/);
  });

  it('a folder as --shm is a usage error (exit 2) in view, headless or not', async () => {
    const dir = shmPath('folder');
    mkdirSync(dir);
    for (const extra of [['--headless'], ['--screenshot', `${dir}.png`]]) {
      const r = await runCli(['view', '--shm', dir, '--seconds', '30', ...extra], { timeoutMs: 60_000 });
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toContain(`glasspane: --shm ${dir} is a folder: a region is a file`);
    }
  });

  it('a malformed --spice is a usage error (exit 2) with --headless too', async () => {
    for (const spice of ['nonsense', '127.0.0.1:99999']) {
      const r = await runCli(['view', '--shm', shmPath('spice'), '--headless', '--seconds', '0.2', '--spice', spice]);
      expect(r.code, `${spice}: ${r.stderr}`).toBe(2);
      expect(r.stderr).toContain(`bad SPICE address "${spice}"`);
    }
  });

  it('the demo\'s stub ending early is ERR_DEMO_STUB_EXITED (exit 4), not an internal error', async () => {
    const demo = startCli(['demo', '--headless', '--size', '320x200', '--fps', '30']);
    procs.push(demo);
    await waitFor(() => /frames \d+/.test(demo.stdout()), 30_000, 'the demo to verify frames');
    const stub = childOf(demo.child.pid!);
    expect(stub, 'the demo\'s stub process').toBeDefined();
    process.kill(stub!, 'SIGKILL');
    const { code } = await demo.exited;
    expect(code, demo.stderr()).toBe(exitStatusOf('ERR_DEMO_STUB_EXITED'));
    expect(demo.stderr()).toMatch(/glasspane: the guest-stub the demo runs exited \(status killed by a signal\) before the demo ended/);
    expect(demo.stderr()).not.toMatch(/report the output|GLASSPANE_DEBUG/);
  });
});
