/**
 * Where VM state, journals, logs and sockets live. Its own module, free of the VM config's
 * schema (zod), so that `glasspane vfio ...` loads only what it uses: under TCG in the test guest
 * every module costs seconds.
 */
import os from 'node:os';
import path from 'node:path';

/** $GLASSPANE_STATE_DIR, else /run/glasspane for root, else $XDG_RUNTIME_DIR/glasspane. */
export function defaultStateDir(): string {
  if (process.env.GLASSPANE_STATE_DIR) return process.env.GLASSPANE_STATE_DIR;
  if (process.getuid?.() === 0) return '/run/glasspane';
  return path.join(process.env.XDG_RUNTIME_DIR ?? path.join(os.tmpdir(), `glasspane-${process.getuid?.() ?? 'user'}`), 'glasspane');
}
