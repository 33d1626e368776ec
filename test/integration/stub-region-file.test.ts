/**
 * What `glasspane stub --shm PATH` does to the file at PATH, with real files in /dev/shm and the
 * real stub process: a file that is not a region is refused untouched (unless --force), a region
 * the stub creates is mode 0660 whatever the umask and names its group, and a stub that fails to
 * start removes the file it created. A region a live producer is writing (its heartbeat moves) is
 * refused (exit 4) unless --force, and a folder is never a region (exit 2).
 */
import { mkdirSync, readFileSync, statSync, writeFileSync, existsSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { removeShm, runCli, shmPath, startCli, stubFramesPosted, waitFor } from '../support/helpers.js';
import { native } from '../../src/native.js';
import { LGMP } from '../../src/lgmp/layout.js';
import { exitStatusOf } from '../support/errors.js';

afterAll(removeShm);

describe('stub --shm and the file that is there', () => {
  it('refuses a file that is not an LGMP region, leaving it as it was; --force overwrites it', async () => {
    const shm = shmPath('text');
    const text = 'my notes\n'.repeat(455); // ~4 KiB of something that matters to someone
    writeFileSync(shm, text);
    const r = await runCli(['stub', '--shm', shm, '--seconds', '1', '--quiet']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${shm} is a ${text.length}-byte file that is not an LGMP region`);
    expect(r.stderr).toMatch(/fix: .*--force/);
    expect(readFileSync(shm, 'utf8')).toBe(text);
    expect(statSync(shm).size).toBe(text.length);

    const forced = await runCli(['stub', '--shm', shm, '--size', '8', '--width', '320', '--height', '200', '--frames', '2', '--seconds', '1', '--quiet', '--force']);
    expect(forced.code, forced.stderr).toBe(0);
    const region = new native.Region(shm);
    expect(region.load32(0)).toBe(LGMP.MAGIC);
    region.close();
  });

  it('reuses an existing region and an all-zero file (as QEMU creates one) without --force', async () => {
    const zeros = shmPath('zeros');
    writeFileSync(zeros, Buffer.alloc(8 << 20));
    const a = await runCli(['stub', '--shm', zeros, '--size', '8', '--width', '320', '--height', '200', '--frames', '2', '--seconds', '0.5', '--quiet']);
    expect(a.code, a.stderr).toBe(0);
    // Now it is a region: a second stub takes it over.
    const b = await runCli(['stub', '--shm', zeros, '--size', '8', '--width', '320', '--height', '200', '--frames', '2', '--seconds', '0.5', '--quiet']);
    expect(b.code, b.stderr).toBe(0);
  });

  it('creates its region with mode 0660 under a umask of 022 and says which group owns it', async () => {
    const shm = shmPath('mode');
    expect(process.umask() & 0o020).toBe(0o020); // the default umask would take the group's write bit
    const stub = startCli(['stub', '--shm', shm, '--size', '8', '--width', '320', '--height', '200', '--fps', '10']);
    try {
      await waitFor(() => /region /.test(stub.stderr()), 15_000, 'the stub to report its region');
      expect(statSync(shm).mode & 0o777).toBe(0o660);
      const gid = statSync(shm).gid;
      const group = readFileSync('/etc/group', 'utf8').split('\n').find((l) => l.split(':')[2] === String(gid))?.split(':')[0] ?? String(gid);
      expect(stub.stderr()).toContain(`region ${shm} (created, mode 0660, owner `);
      expect(stub.stderr()).toContain(`group ${group})`);
    } finally {
      stub.child.kill('SIGTERM');
      await stub.exited;
    }
  });

  it('a stub that cannot start in the region it created (--size 1) leaves no file behind', async () => {
    const shm = shmPath('small');
    const r = await runCli(['stub', '--shm', shm, '--size', '1', '--width', '1920', '--height', '1080', '--seconds', '1']);
    expect(r.code).toBe(exitStatusOf('ERR_REGION_TOO_SMALL'));
    expect(r.stderr).toMatch(/region has no room/);
    expect(existsSync(shm)).toBe(false);
  });

  it('refuses a region whose producer is alive (exit 4), leaving that producer undisturbed; --force takes it over', async () => {
    const shm = shmPath('live');
    const first = startCli(['stub', '--shm', shm, '--size', '8', '--width', '320', '--height', '200', '--fps', '30']);
    try {
      await waitFor(() => /region /.test(first.stderr()), 15_000, 'the first stub to claim its region');
      const second = await runCli(['stub', '--shm', shm, '--size', '8', '--width', '320', '--height', '200', '--seconds', '1', '--quiet']);
      expect(second.code, second.stderr).toBe(4);
      expect(second.stderr).toContain(`glasspane: ${shm} has a live producer (its LGMP heartbeat is moving)`);
      expect(second.stderr).toMatch(/\n {2}fix: .*--force/);
      // The first one's session is intact: a consumer still gets its frames.
      const view = await runCli(['view', '--shm', shm, '--headless', '--frames', '3', '--seconds', '20', '--json']);
      expect(view.code, view.stderr).toBe(0);
      expect(JSON.parse(view.stdout)).toMatchObject({ frames: 3, sessions: 1 });
      expect(first.child.exitCode).toBe(null);
      const forced = await runCli(['stub', '--shm', shm, '--size', '8', '--width', '320', '--height', '200', '--frames', '1', '--seconds', '0.5', '--quiet', '--force']);
      expect(forced.code, forced.stderr).toBe(0);
      // The first stub says its count once a second: the frames the viewer took were its own.
      await waitFor(() => stubFramesPosted(first) >= 3, 15_000, "the first stub's count of the frames it posted");
    } finally {
      first.child.kill('SIGTERM');
      await first.exited;
    }
  });

  it('a folder is never a region: usage error (exit 2) at once, naming it', async () => {
    const dir = shmPath('folder');
    mkdirSync(dir);
    const r = await runCli(['stub', '--shm', dir, '--seconds', '1', '--quiet']);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toContain(`glasspane: --shm ${dir} is a folder: a region is a file`);
  });
});
