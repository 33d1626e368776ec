/**
 * `view --spice` towards a port where nothing listens, under Xvfb: the viewer keeps showing
 * frames and retrying in the background, and says on stderr, once (not at every retry), what is
 * wrong and how to fix it.
 */
import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CliRun, killAll, removeShm, shmPath, startCli, waitFor } from '../support/helpers.js';
import { startXvfb, type Xvfb } from '../support/xvfb.js';
import { needs, WINDOW_PARTS } from '../support/system.js';

let x: Xvfb;
const procs: CliRun[] = [];
beforeAll(async () => {
  x = await startXvfb();
});
afterAll(async () => {
  await killAll(procs);
  await x?.stop();
  removeShm();
});

/** A TCP port that was free a moment ago (nothing listens on it). */
async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

describe.skipIf(needs(...WINDOW_PARTS))('view --spice with no SPICE server', () => {
  it('says once on stderr that it cannot connect, with the fix, while it retries', async () => {
    const shm = shmPath('nospice');
    const stub = startCli(['stub', '--shm', shm, '--size', '8', '--width', '320', '--height', '200', '--fps', '10', '--quiet'], x.env);
    procs.push(stub);
    const port = await closedPort();
    const view = startCli(['view', '--shm', shm, '--size', '320x200', '--spice', `127.0.0.1:${port}`, '--stats'], x.env);
    procs.push(view);
    await waitFor(() => /SPICE: /.test(view.stderr()), 20_000, 'a SPICE line on stderr');
    // Several retries later (the --stats line counts the failed attempts), still one line about it.
    const spice = () => (JSON.parse(view.stdout().trim().split('\n').at(-1) || '{}') as { spice?: { attempt: number; error?: string } }).spice;
    await waitFor(() => (spice()?.attempt ?? 0) >= 4, 60_000, 'four failed SPICE attempts in the --stats line');
    expect(spice()?.error).toBe('ERR_SPICE_CONNECT');
    const lines = view.stderr().split('\n').filter((l) => l.startsWith('glasspane: SPICE: '));
    expect(lines, view.stderr()).toHaveLength(1);
    expect(lines[0]).toContain(`127.0.0.1:${port}`);
    expect(lines[0]).toMatch(/; retrying in the background$/);
    expect(view.stderr()).toMatch(/retrying in the background\n\s+fix: /);
    // Frames still flow meanwhile; --stats figures are rounded (at most 3 decimals).
    const stats = view.stdout().trim().split('\n');
    expect(JSON.parse(stats.at(-1)!).frames).toBeGreaterThan(10);
    expect(stats.join('\n')).not.toMatch(/\d\.\d{4,}/);
  }, 60_000);
});
