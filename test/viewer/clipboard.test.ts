/**
 * Clipboard text both ways with every real part: the viewer window under Xvfb (SDL's X11
 * clipboard), real QEMU 7.2 with spice-server and virtio-serial, and the minimal agent inside a
 * busybox guest (test/spice/fixtures/fake-vdagent.c). xclip plays the other desktop application.
 *
 * Script: xclip owns the host clipboard before the viewer starts; when the agent comes up the
 * viewer offers that text, the agent takes it (printed on the guest's serial port), then copies
 * its own text, which the viewer puts on the host clipboard for xclip to read back.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startXvfb, type Xvfb } from '../support/xvfb.js';
import { removeShm, shmPath, startCli, waitFor, type CliRun } from '../support/helpers.js';
import { findGuestParts, startAgentGuest } from '../spice/guest.js';
import type { QemuHandle } from '../spice/qemu.js';
import { GUEST_PARTS, needs, WINDOW_PARTS } from '../support/system.js';

const parts = findGuestParts();

describe.skipIf(needs(...WINDOW_PARTS, ...GUEST_PARTS, 'gcc', 'xclip'))('viewer clipboard ↔ SPICE agent', () => {
  let x: Xvfb | undefined;
  let q: QemuHandle | undefined;
  let view: CliRun | undefined;
  let dir: string | undefined;
  afterAll(async () => {
    view?.child.kill('SIGKILL');
    await view?.exited;
    await q?.stop();
    await x?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
    removeShm();
  });

  it('host text reaches the guest agent, and the guest copy lands on the host clipboard', async () => {
    if (typeof parts === 'string') throw new Error(parts);
    dir = mkdtempSync(join(tmpdir(), 'glasspane-clip-'));
    const guest = await startAgentGuest(parts, dir);
    q = guest.qemu;
    const guestLog = guest.serial;

    x = await startXvfb();
    const hostText = 'copied on the host ✓';
    // xclip stays in the background owning the selection until someone else takes it.
    const set = spawnSync('xclip', ['-selection', 'clipboard', '-i'], { input: hostText, env: x.env, stdio: ['pipe', 'ignore', 'ignore'] });
    expect(set.status).toBe(0);

    view = startCli(['view', '--shm', shmPath('clip'), '--size', '320x200', '--spice', q.address, '--title', 'cliptest'], x.env);
    const want = `CLIP-FROM-HOST ${Buffer.from(hostText).toString('hex')}`;
    await waitFor(() => guestLog().includes(want), 240_000, 'the host text in the guest').catch((e: Error) => {
      throw new Error(`${e.message}; guest said: ${guestLog()}; viewer said: ${view!.stderr()}`);
    });

    const read = () => spawnSync('xclip', ['-selection', 'clipboard', '-o'], { env: x!.env, encoding: 'utf8', timeout: 5000 }).stdout;
    await waitFor(() => read() === 'from guest ✓ 2', 30_000, 'the guest text on the host clipboard').catch((e: Error) => {
      throw new Error(`${e.message}; host clipboard: ${JSON.stringify(read())}; viewer said: ${view!.stderr()}`);
    });
    expect(view.stderr()).not.toMatch(/clipboard:/);
  }, 300_000);
});
