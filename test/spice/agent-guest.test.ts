/**
 * Clipboard through real QEMU (virtio-serial + spicevmc chardev) and real spice-server, with a
 * minimal agent (fixtures/fake-vdagent.c, compiled static here) inside the test guest in place
 * of spice-vdagent, which would need a desktop session. Host text reaches the guest agent, guest
 * text reaches the host. Needs gcc (build-essential), linux-image-amd64, busybox-static.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseSpiceAddress } from '../../src/spice/address.js';
import { SpiceClient } from '../../src/spice/client.js';
import { findGuestParts, startAgentGuest } from './guest.js';
import { sleep, type QemuHandle } from './qemu.js';
import { GUEST_PARTS, needs } from '../support/system.js';

const parts = findGuestParts();

describe.skipIf(needs(...GUEST_PARTS, 'gcc'))('clipboard with an agent in a real guest', () => {
  let q: QemuHandle | undefined;
  let dir: string | undefined;
  let client: SpiceClient | undefined;
  afterAll(async () => {
    await client?.close();
    await q?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('host text goes to the guest agent and guest text comes back', async () => {
    if (typeof parts === 'string') throw new Error(parts);
    dir = mkdtempSync(join(tmpdir(), 'glasspane-agent-'));
    const guest = await startAgentGuest(parts, dir);
    q = guest.qemu;
    const log = guest.serial;

    const hostText = 'from host\nline 2 ✓';
    let guestGrabbed!: (types: number[]) => void;
    const grabbed = new Promise<number[]>((r) => (guestGrabbed = r));
    let agentUp!: () => void;
    const up = new Promise<void>((r) => (agentUp = r));
    client = new SpiceClient({
      address: parseSpiceAddress(q.address),
      clipboard: { hostText: () => hostText, guestGrab: (t) => guestGrabbed(t), agentState: (c) => c && agentUp() },
    });
    await client.connect();
    await up;
    const boot = Date.now() + 240_000;
    while (!/AGENT-UP/.test(log()) && Date.now() < boot) await sleep(200);
    expect(log()).toMatch(/AGENT-UP/);

    client.clipboardGrabText();
    const want = `CLIP-FROM-HOST ${Buffer.from(hostText).toString('hex')}`;
    const end = Date.now() + 30_000;
    while (!log().includes(want) && Date.now() < end) await sleep(100);
    expect(log()).toContain(want);

    expect(await grabbed).toEqual([1]);
    expect(await client.clipboardRequestText()).toBe('from guest ✓ 2');
  }, 300_000);
});
