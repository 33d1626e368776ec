/**
 * The SPICE password file is read with bounds: a real FIFO, /dev/zero and an oversized file are
 * refused at once with ERR_SPICE_PASSWORD (exit status 2 from the CLI), never read without end or
 * waited on; a normal file loses exactly one trailing newline.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { MAX_PASSWORD_FILE_BYTES, readSpicePassword } from '../../src/spice/password.js';
import { runCli } from '../support/helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'glasspane-pw-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const fifo = join(dir, 'fifo');
execFileSync('mkfifo', [fifo]);

const code = (f: () => unknown) => {
  try {
    f();
    return null;
  } catch (e) {
    return e as { code: string; message: string };
  }
};

describe('readSpicePassword', () => {
  it('reads a password line, dropping one trailing newline', () => {
    writeFileSync(join(dir, 'pw'), 'correct horse\n\n');
    expect(readSpicePassword(join(dir, 'pw'))).toBe('correct horse\n');
    expect(readSpicePassword(undefined, { GLASSPANE_SPICE_PASSWORD: 'env' })).toBe('env');
  });

  it('refuses a FIFO without waiting for a writer, and a device without reading it', () => {
    const t0 = Date.now();
    const f = code(() => readSpicePassword(fifo));
    expect(f?.code).toBe('ERR_SPICE_PASSWORD');
    expect(f?.message).toBe(`the SPICE password file ${fifo} is a FIFO`);
    const z = code(() => readSpicePassword('/dev/zero'));
    expect(z).toMatchObject({ code: 'ERR_SPICE_PASSWORD', message: 'the SPICE password file /dev/zero is a device' });
    expect(code(() => readSpicePassword(dir))).toMatchObject({ code: 'ERR_SPICE_PASSWORD', message: expect.stringMatching(/is a folder/) });
    expect(Date.now() - t0).toBeLessThan(2000);
  });

  it(`refuses a file over ${MAX_PASSWORD_FILE_BYTES} bytes, and reads one of exactly that many`, () => {
    writeFileSync(join(dir, 'big'), Buffer.alloc(64 << 10, 0x61));
    expect(code(() => readSpicePassword(join(dir, 'big')))).toMatchObject({ code: 'ERR_SPICE_PASSWORD', message: expect.stringMatching(/is over 4096 bytes; a password is one short line/) });
    writeFileSync(join(dir, 'edge'), Buffer.alloc(MAX_PASSWORD_FILE_BYTES, 0x62));
    expect(readSpicePassword(join(dir, 'edge'))).toHaveLength(MAX_PASSWORD_FILE_BYTES);
  });

  it('the CLI exits 2 at once for a FIFO or /dev/zero (send and view)', async () => {
    // Port 1 has no server: a refusal here comes from reading the password, before connecting.
    const send = await runCli(['send', '--spice', '127.0.0.1:1', '--spice-password-file', fifo, 'key', 'KeyA']);
    expect(send.code).toBe(2);
    expect(send.stderr).toMatch(/is a FIFO\n\s+fix: give --spice-password-file a small regular file/);
    const view = await runCli(['view', '--shm', '/dev/shm/glasspane-no-such', '--spice', '127.0.0.1:1', '--spice-password-file', '/dev/zero']);
    expect(view.code).toBe(2);
    expect(view.stderr).toMatch(/\/dev\/zero is a device/);
  }, 30_000);
});
