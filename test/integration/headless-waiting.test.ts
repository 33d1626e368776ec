/**
 * `view --headless` started before its region exists, without --seconds: it says once what it is
 * waiting for and where (no line of zeros every second), picks the stub up when it starts, and
 * stops on Ctrl-C with the frames counted. Real processes and a real /dev/shm region.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { type CliRun, killAll, removeShm, shmPath, startCli, waitFor } from '../support/helpers.js';
import { REPORT_INTERVAL_MS } from '../../src/relay/headless.js';

const procs: CliRun[] = [];
afterAll(async () => {
  await killAll(procs);
  removeShm();
});

describe('view --headless waiting for a region', () => {
  it('says once what it waits for and the path, then counts frames when the producer comes', async () => {
    const shm = shmPath('later');
    const view = startCli(['view', '--shm', shm, '--headless']);
    procs.push(view);
    await waitFor(() => /waiting for the first guest frame/.test(view.stderr()), 20_000, 'the waiting line');
    // What must NOT happen (the line again, a line of zeros each report) has no event to wait on:
    // three and a half report intervals, so three once-a-second reports had their chance.
    await new Promise((r) => setTimeout(r, 3.5 * REPORT_INTERVAL_MS));
    const err = view.stderr();
    expect(err.match(/waiting for the first guest frame/g)).toHaveLength(1);
    expect(err).toContain(`waiting for the first guest frame in ${shm}; Ctrl-C stops (--seconds N gives up after N s)`);
    expect(err.match(/does not exist/g)).toHaveLength(1);
    expect(err).not.toMatch(/^frames 0 /m);

    const stub = startCli(['stub', '--shm', shm, '--size', '8', '--width', '320', '--height', '200', '--fps', '30', '--quiet']);
    procs.push(stub);
    await waitFor(() => /^frames [1-9]\d* /m.test(view.stderr()), 30_000, 'frames counted');
    view.child.kill('SIGINT');
    const { code } = await view.exited;
    expect(code).toBe(0);
    expect(view.stderr()).toMatch(/glasspane: \d+ frames \(/);
  }, 90_000);
});
