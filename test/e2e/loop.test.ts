/**
 * The whole loop through a real VM (loop.ts): guest-stub inside a QEMU TCG guest writes the
 * input-echo scene into the ivshmem BAR; the host reads and checks every frame from /dev/shm and
 * types keys and moves the mouse over SPICE; every input must come back in a frame. Short run
 * (`npm run e2e` is the long one with the latency figures). No timing assertions: the echo
 * timeouts are generous, and only counts are checked.
 * Needs qemu-system-x86, linux-image-amd64 and busybox-static (tools/setup installs them) and dist/ built
 * (npm test builds it); skipped when they are missing (the run says why at its top).
 */
import { describe, expect, it } from 'vitest';
import { runLoop } from './loop.js';
import { e2eUnavailable } from './guest.js';
import { GUEST_PARTS, needs } from '../support/system.js';
import { progressLog } from '../support/progress.js';

describe.skipIf(needs(...GUEST_PARTS))('e2e: producer in a QEMU guest on the ivshmem BAR, input over SPICE, echo in the frames', () => {
  it('every key and mouse move sent over SPICE comes back in a verified guest frame', async () => {
    expect(e2eUnavailable()).toBe('');
    // runLoop always stops QEMU and removes the region and temp dir before it returns.
    const r = await runLoop({ keys: 6, mouseMoves: 3, width: 640, height: 360, fps: 30, bootTimeoutMs: 240_000, echoTimeoutMs: 60_000, log: progressLog('e2e loop') });
    const why = JSON.stringify({ ...r, serialTail: undefined }) + (r.serialTail ? `\nguest serial:\n${r.serialTail}` : '');
    // A guest starved of CPU (TCG on a loaded machine) stalls its heartbeat or a frame for over a
    // second; the relay reports it and carries on. Anything else is an error of the loop.
    const slowGuest = /^relay: (the producer stopped \(no heartbeat|the LGMP heartbeat is not moving|frame \d+: the producer stopped writing)/;
    expect(r.errors.filter((e) => !slowGuest.test(e)), why).toEqual([]);
    expect(r.framesFromGuest, why).toBeGreaterThan(0);
    expect(r.verifyFailures, why).toBe(0);
    expect(r.keysSent).toBe(6);
    expect(r.keysEchoed, why).toBe(r.keysSent);
    expect(r.mouseEchoed, why).toBe(r.mouseSent);
    expect(r.samples).toBe(2 * r.keysSent);
  }, 420_000);
});
