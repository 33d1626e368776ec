/**
 * Getting the `glasspane` command as the README says (`npm install -g --install-links=false .`,
 * here into a temp prefix), while a glasspane process runs from the checkout: the install step
 * keeps the built native addon, the SDL binding and dist/ as they are (it used to rebuild the
 * addon, deleting it under every running glasspane), and the installed command works. Offline:
 * npm links the checkout and fetches nothing. `--install-links=false` is what npm 11 does anyway;
 * npm 9.2 (Debian 13's) defaults to copying the checkout, resolving its dependencies afresh
 * and running their install scripts, which fails offline (ENOTCACHED) and, online, downloads
 * @kmamal/sdl's binding from GitHub.
 */
import { execFile } from 'node:child_process';
import { existsSync, lstatSync, mkdtempSync, realpathSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { removeShm, ROOT, shmPath, startCli, type CliRun } from '../support/helpers.js';
import { needs } from '../support/system.js';

const run = promisify(execFile);
const prefix = mkdtempSync(join(tmpdir(), 'glasspane-prefix-'));
const running: CliRun[] = [];
afterAll(async () => {
  for (const c of running) {
    c.child.kill('SIGKILL');
    await c.exited;
  }
  rmSync(prefix, { recursive: true, force: true });
  removeShm();
});

/** The npm to install with: the one on PATH, or GLASSPANE_TEST_NPM (e.g. to try npm 9 on a newer system). */
const NPM = process.env.GLASSPANE_TEST_NPM ?? 'npm';
const BUILT = ['build/Release/glasspane.node', 'node_modules/@kmamal/sdl/dist/sdl.node', 'dist/src/cli/main.js', 'dist/src/native.js'].map((f) => join(ROOT, f));
/** Inode and modification time: a rebuild or a rewrite changes one of them. */
const identity = (f: string) => (existsSync(f) ? `${statSync(f).ino}:${statSync(f).mtimeMs}` : 'missing');

describe.skipIf(needs('npm'))('the glasspane command', () => {
  it('npm install -g --install-links=false . installs it without rebuilding anything a running glasspane uses', async () => {
    const before = BUILT.map(identity);
    const shm = shmPath('install');
    const stub = startCli(['stub', '--shm', shm, '--size', '8', '--width', '320', '--height', '200', '--fps', '30', '--quiet']);
    running.push(stub);
    // Install scripts allowed (npm 11 skips them for global installs unless told): the worst case.
    const npm = await run(NPM, ['install', '-g', '--install-links=false', '.', '--prefix', prefix, '--offline', '--no-audit', '--no-fund', '--allow-scripts=glasspane', '--foreground-scripts'], {
      cwd: ROOT,
      timeout: 240_000,
    });
    const log = npm.stdout + npm.stderr;
    expect(log).not.toMatch(/gyp info spawn|build-native: building/);
    if (log.includes('> glasspane@0.1.0 install')) expect(log).toMatch(/build-native: .* is current; not rebuilding/);
    expect(BUILT.map(identity)).toEqual(before);

    // Linked, not copied: a `git pull` and `npm run build` update the command (docs/install.md).
    const installed = join(prefix, 'lib', 'node_modules', 'glasspane');
    expect(lstatSync(installed).isSymbolicLink()).toBe(true);
    expect(realpathSync(installed)).toBe(realpathSync(ROOT));

    const glasspane = join(prefix, 'bin', 'glasspane');
    expect((await run(glasspane, ['--version'])).stdout).toBe('0.1.0\n');
    // The installed command reads the running stub's frames and verifies them.
    const view = await run(glasspane, ['view', '--shm', shm, '--headless', '--verify', '--json', '--frames', '5', '--seconds', '120'], { timeout: 150_000 });
    const r = JSON.parse(view.stdout) as { frames: number; verifyFailures: number; errors: string[] };
    expect(r.frames).toBeGreaterThanOrEqual(5);
    expect(r.verifyFailures).toBe(0);
    expect(stub.child.exitCode).toBeNull(); // the stub ran through the whole install
  }, 300_000);

  it('the install step keeps a current native addon, and says so', async () => {
    const before = identity(BUILT[0]!);
    const r = await run(process.execPath, [join(ROOT, 'tools/build-native.mjs')], { cwd: ROOT, timeout: 60_000 });
    expect(r.stdout).toMatch(/build-native: .*build\/Release\/glasspane\.node is current; not rebuilding/);
    expect(identity(BUILT[0]!)).toBe(before);
  }, 90_000);
});
