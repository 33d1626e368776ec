/**
 * README's headless example is what the command really prints: the same keys, and without
 * --verify (a producer's frames carry no post time) the latency of glasspane's own part, from a
 * real run against guest-stub.
 */
import { existsSync, readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { removeShm, runCli, shmPath, startCli, waitFor } from '../support/helpers.js';

afterAll(removeShm);

describe('README example', () => {
  it('view --headless --json prints what README shows', async () => {
    const readme = readFileSync('README.md', 'utf8');
    const block = /\$ glasspane view --shm \S+ --headless --seconds 10 --json\n(\{.*\})\n/.exec(readme);
    expect(block, 'the headless example in README.md').not.toBeNull();
    const shown = JSON.parse(block![1]!);

    const shm = shmPath('readme');
    const stub = startCli(['stub', '--shm', shm, '--size', '8', '--width', '320', '--height', '200', '--fps', '30', '--quiet']);
    try {
      await waitFor(() => existsSync(shm), 10_000, 'the stub to create its region');
      const r = await runCli(['view', '--shm', shm, '--headless', '--seconds', '2', '--json']);
      expect(r.code, r.stderr).toBe(0);
      const real = JSON.parse(r.stdout);
      const shape = (o: Record<string, unknown>): unknown => Object.fromEntries(Object.entries(o).map(([k, v]) => [k, v && typeof v === 'object' && !Array.isArray(v) ? shape(v as Record<string, unknown>) : typeof v]));
      expect(shape(shown)).toEqual(shape(real));
      expect(real.latencyFrom).toBe('seen');
      expect(shown.latencyFrom).toBe('seen');
      expect(real.latencyMs.p50).toBeGreaterThan(0);
      expect(real.latencyMs.p99).toBeGreaterThanOrEqual(real.latencyMs.p50);
    } finally {
      stub.child.kill('SIGTERM');
      await stub.exited;
    }
  }, 60_000);
});
