/**
 * Test helper: `const track = closeAfterEach()` registers one afterEach that closes everything
 * passed to `track()` during the test, newest first (a client before the server it talks to), so
 * no socket, client or QEMU outlives its test even when an assertion fails.
 */
import { afterEach } from 'vitest';

type Closable = { close(): Promise<unknown> } | { stop(): Promise<unknown> };

export function closeAfterEach(): <T extends Closable>(thing: T) => T {
  let open: Closable[] = [];
  afterEach(async () => {
    const list = open.reverse();
    open = [];
    for (const t of list) await ('close' in t ? t.close() : t.stop());
  });
  return (thing) => {
    open.push(thing);
    return thing;
  };
}
