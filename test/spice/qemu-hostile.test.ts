/**
 * The failures of issue 21 that real QEMU 7.2 can show: a QEMU that stops answering (SIGSTOP: a
 * hung or paused-for-debugging QEMU) must not make `send` wait forever for a MOTION_ACK nor keep
 * a closed client's link alive, and a QEMU that serves the main channel over TLS only answers
 * NEED_SECURED, which the client reports once and does not retry. (The scripted-server side of
 * all twelve is in hostile-server.test.ts.)
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseSpiceAddress } from '../../src/spice/address.js';
import { SpiceClient } from '../../src/spice/client.js';
import { startCli, waitFor } from '../support/helpers.js';
import { needs } from '../support/system.js';
import { closeAfterEach } from './cleanup.js';
import { freePort, sleep, startQemu, type QemuHandle } from './qemu.js';

const track = closeAfterEach();

/** A QEMU that is continued before it is killed (a stopped process still dies, but its trace may not be flushed). */
async function qemu(opts: Parameters<typeof startQemu>[0] = {}): Promise<QemuHandle> {
  const q = await startQemu(opts);
  track({ close: async () => (q.proc.kill('SIGCONT'), await q.stop()) });
  return q;
}

/** Socket and timer handles of this process, by kind (what a closed client must not leave behind). */
function handles(): number {
  return process.getActiveResourcesInfo().filter((r) => /^(PipeWrap|TCPSocketWrap|ConnectWrap|Timeout)$/.test(r)).length;
}

describe.skipIf(needs('qemu'))('real QEMU that stops answering', () => {
  it('send gives up with a timeout when a stopped QEMU never acknowledges the motion', async () => {
    const q = await qemu({ transport: 'unix' });
    const moves = Array.from({ length: 40 }, () => ['move', '1', '1']).flat();
    const send = startCli(['send', '--spice', q.address, '--timeout', '2000', '--delay-ms', '100', 'mouse', ...moves]);
    // QEMU applied the first motion: the link is up. Stopped now, it acknowledges nothing more.
    await q.waitTrace((t) => t.some((l) => l.startsWith('input_event_rel')), 30_000);
    q.proc.kill('SIGSTOP');
    let exit: { code: number | null } | undefined;
    void send.exited.then((e) => (exit = e));
    await waitFor(() => exit !== undefined, 30_000, 'send to give up (it would wait forever for the MOTION_ACK)').finally(() => q.proc.kill('SIGCONT'));
    expect(exit!.code).toBe(4);
    expect(send.stderr()).toMatch(/no MOUSE_MOTION_ACK for 2000 ms.*the rest of the sequence did not reach the VM/);
  }, 60_000);

  it('close() with a link in flight to a stopped QEMU leaves no socket or timer behind', async () => {
    const q = await qemu({ transport: 'unix' });
    q.proc.kill('SIGSTOP'); // the kernel still accepts the connection; nobody answers the link
    await waitFor(() => !process.getActiveResourcesInfo().includes('ConnectWrap'), 5000, 'startQemu\'s probe connection to settle');
    const before = handles();
    const c = new SpiceClient({ address: parseSpiceAddress(q.address), timeoutMs: 30_000 });
    c.start();
    await waitFor(() => handles() > before, 30_000, 'the link to start');
    // Into the link (its message written, the reply awaited): no event says so; the test holds
    // however far the link got, as close() must end it at any point.
    await sleep(200);
    await c.close();
    await waitFor(() => handles() <= before, 2000, 'the link socket and its 30 s timer to be gone');
    expect(c.state.state).toBe('closed');
  });
});

describe.skipIf(needs('qemu', 'openssl'))('real QEMU with a TLS-only main channel', () => {
  it('NEED_SECURED: one attempt, state failed with ERR_SPICE_LINK 5, no retry', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'glasspane-tls-'));
    track({ close: async () => rmSync(dir, { recursive: true, force: true }) });
    const run = (...a: string[]) => execFileSync('openssl', a, { cwd: dir, stdio: 'ignore' });
    run('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca-key.pem', '-out', 'ca-cert.pem', '-days', '2', '-subj', '/CN=glasspane-test-ca');
    run('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'server-key.pem', '-out', 'server.csr', '-subj', '/CN=localhost');
    run('x509', '-req', '-in', 'server.csr', '-CA', 'ca-cert.pem', '-CAkey', 'ca-key.pem', '-CAcreateserial', '-out', 'server-cert.pem', '-days', '2');
    const tlsPort = await freePort();
    // A second -spice merges with the first: the plain port stays, the main channel wants TLS.
    const q = await qemu({ transport: 'tcp', dir, extraArgs: ['-spice', `tls-port=${tlsPort},x509-dir=${dir},tls-channel=main`] });
    const maxDelayMs = 100;
    const c = track(new SpiceClient({ address: parseSpiceAddress(q.address), initialDelayMs: 50, maxDelayMs }));
    c.start();
    await waitFor(() => c.state.state === 'failed', 30_000, 'the client to give up');
    await sleep(5 * maxDelayMs); // a retry would have come within maxDelayMs: nothing shows one that does not come
    expect(c.state.error?.code).toBe('ERR_SPICE_LINK');
    expect(c.state.error?.linkError).toBe(5);
    expect(q.stderr().match(/should be encrypted/g)).toHaveLength(1);
  });
});
