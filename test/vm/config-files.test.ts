/**
 * Every file a VM config names is checked before anything starts, through the built CLI: `vm up`
 * and `vm up --dry-run` refuse with ERR_VM_FILE (exit 4) naming each key and path, and make
 * nothing (not even the state folder); `doctor CONFIG` reports them in its config-files check
 * (exit 1, a check failed). None of this needs QEMU to run: the check comes first.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../support/helpers.js';
import { makeTempDir } from './fake-sysfs.js';

const dir = makeTempDir('glasspane-files-');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A smoke VM (TCG, no passthrough) with `extra` TOML appended, its region in the temp folder. */
function config(name: string, extra: string): string {
  const file = path.join(dir, `${name}.toml`);
  // The binary is any executable that exists (node): QEMU never starts here, and the checks must not depend on it.
  writeFileSync(file, `name = "${name}"\nqemu = { accel = "tcg", binary = "${process.execPath}" }\ncpu = { cores = 1 }\nmemory = { size = "128M" }\nnetwork = { mode = "none" }\nregion = { path = "${path.join(dir, `${name}.region`)}", width = 640, height = 480 }\n${extra}`);
  return file;
}

describe('files a VM config names', () => {
  it('vm up: a missing firmware template and disk are ERR_VM_FILE (exit 4) naming key and path; nothing is made', async () => {
    const file = config('nofiles', `[firmware]\ncode = "/usr/share/OVMF/OVMF_CODE_4M.fd"\nvars_template = "no-such-VARS.fd"\nvars = "vm_VARS.fd"\n\n[[disk]]\nfile = "missing.qcow2"\n`);
    const stateDir = path.join(dir, 'state-up');
    const r = await runCli(['vm', 'up', file, '--state-dir', stateDir], { timeoutMs: 60_000 });
    expect(r.code, r.stderr).toBe(4);
    expect(r.stderr).toContain(`firmware.vars_template = ${path.join(dir, 'no-such-VARS.fd')}: does not exist`);
    expect(r.stderr).toContain(`disk.0.file = ${path.join(dir, 'missing.qcow2')}: does not exist`);
    expect(r.stderr).toMatch(/\n {2}fix: fix the path at the key named/);
    expect(r.stderr).not.toMatch(/ENOENT|copyfile|report/);
    expect(existsSync(stateDir)).toBe(false);
    expect(existsSync(path.join(dir, 'vm_VARS.fd'))).toBe(false);
    expect(existsSync(path.join(dir, 'nofiles.region'))).toBe(false);
  });

  it('vm up --dry-run refuses the same way (exit 4) instead of printing a command that cannot run', async () => {
    const file = config('dry', '[[disk]]\nfile = "gone.img"\nformat = "raw"\n');
    const r = await runCli(['vm', 'up', file, '--dry-run', '--state-dir', path.join(dir, 'state-dry')]);
    expect(r.code, r.stderr).toBe(4);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain(`disk.0.file = ${path.join(dir, 'gone.img')}: does not exist`);
  });

  it('doctor CONFIG fails its config-files check (exit 1) for a missing disk and a region folder that does not exist', async () => {
    const file = config('doc', '[[disk]]\nfile = "gone.img"\nformat = "raw"\n');
    writeFileSync(file, readFileSync(file, 'utf8').replace(path.join(dir, 'doc.region'), path.join(dir, 'no', 'such', 'region')));
    const r = await runCli(['doctor', file, '--json']);
    expect(r.code, r.stderr).toBe(1);
    const check = (JSON.parse(r.stdout).checks as { id: string; status: string; message: string }[]).find((c) => c.id === 'config-files');
    expect(check?.status).toBe('fail');
    expect(check?.message).toContain(`disk.0.file = ${path.join(dir, 'gone.img')}: does not exist`);
    expect(check?.message).toContain(`region.path = ${path.join(dir, 'no', 'such')}: is not an existing folder`);
    // With every file there, the check passes.
    mkdirSync(path.join(dir, 'no', 'such'), { recursive: true });
    writeFileSync(path.join(dir, 'gone.img'), Buffer.alloc(4096));
    const ok = await runCli(['doctor', file, '--json']);
    expect((JSON.parse(ok.stdout).checks as { id: string; status: string }[]).find((c) => c.id === 'config-files')?.status).toBe('ok');
  });
});
