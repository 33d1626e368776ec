/**
 * `view --spice` towards a SPICE server that accepts and then says nothing (a hung QEMU, a wrong
 * port held by something else), under Xvfb: the link in flight must not keep the viewer alive.
 * It ends at --seconds and on SIGINT at once, not when the 10 s link timeout runs out (issue 21).
 */
import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { needs, WINDOW_PARTS } from '../support/system.js';
import { useWindowHarness } from '../support/window-harness.js';
import { waitFor } from '../support/helpers.js';

const h = useWindowHarness();

/** A TCP server that accepts connections and never writes; counts them and closes them with itself. */
async function silentServer(): Promise<{ address: string; connections: () => number; dropAll(): void; close(): Promise<void> }> {
  const socks = new Set<net.Socket>();
  let n = 0;
  const server = net.createServer((s) => {
    n++;
    socks.add(s);
    s.on('error', () => {});
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    address: `127.0.0.1:${(server.address() as net.AddressInfo).port}`,
    connections: () => n,
    dropAll() {
      for (const s of socks) s.destroy();
      socks.clear();
    },
    async close() {
      for (const s of socks) s.destroy();
      await new Promise((r) => server.close(r));
    },
  };
}

/** Resolves with the exit status, or 'still running' after `ms`. */
function exitWithin(run: ReturnType<typeof h.start>, ms: number): Promise<{ code: number | null; signal: NodeJS.Signals | null } | 'still running'> {
  return Promise.race([run.exited, new Promise<'still running'>((r) => setTimeout(() => r('still running'), ms))]);
}

describe.skipIf(needs(...WINDOW_PARTS))('view --spice with a server that never answers', () => {
  it('ends on SIGINT at once while its link waits, not when the link times out', async () => {
    const s = await silentServer();
    try {
      const view = h.start(['view', '--shm', `/dev/shm/glasspane-silent-${process.pid}`, '--size', '320x200', '--spice', s.address, '--stats']);
      // The window runs; then a fresh link is in flight (the first one is dropped, so the one
      // SIGINT meets has just started: its 10 s timeout is far away).
      await waitFor(() => view.stdout().includes('"frames"') && s.connections() > 0, 60_000, 'the window and a first link');
      const seen = s.connections();
      s.dropAll();
      await waitFor(() => s.connections() > seen, 10_000, 'the viewer to link again');
      view.child.kill('SIGINT');
      // The link timeout is 10 s; the window closes in well under 3 s.
      const exit = await exitWithin(view, 3000);
      expect(exit, `the viewer waited for its link after SIGINT: ${view.stderr()}`).not.toBe('still running');
      expect(exit).toMatchObject({ code: 0 });
    } finally {
      await s.close();
    }
  }, 90_000);
});
