/**
 * The viewer `vm up --view` starts: a child process running `glasspane view` on the VM's region,
 * whose life is tied to the VM's. When the VM ends (a `vm down` from another terminal, QEMU
 * exiting, Ctrl-C on `vm up`), `vm up` closes it, so the window never stays behind on "waiting
 * for the guest…" and `vm up` can end with the VM's status.
 */
import { spawn } from 'node:child_process';

/** How long a viewer asked to close (SIGTERM: it closes its window and SPICE) gets before SIGKILL. */
const CLOSE_GRACE_MS = 10_000;

/** A started viewer: its exit (status, null when killed by a signal) and a way to close it. */
export interface VmViewer {
  readonly exited: Promise<number | null>;
  /** Asks the viewer to close (SIGTERM, SIGKILL after a grace period) and resolves once it is gone; safe to call twice. */
  close(): Promise<void>;
}

/** Starts `argv` (node, main.js, 'view', ...) with the terminal's stdio; a failed viewer is reported, the VM is left running. */
export function startVmViewer(argv: readonly string[]): VmViewer {
  const [cmd, ...args] = argv;
  const child = spawn(cmd!, args, { stdio: 'inherit' });
  let gone = false;
  const exited = new Promise<number | null>((resolve) => {
    child.once('error', (err) => {
      gone = true;
      process.stderr.write(`glasspane: the viewer could not start: ${err.message}\n`);
      resolve(null);
    });
    child.once('exit', (code) => {
      gone = true;
      if (code) process.stderr.write(`glasspane: the viewer exited with status ${code}; the VM keeps running\n`);
      resolve(code);
    });
  });
  return {
    exited,
    close: async () => {
      if (gone) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), CLOSE_GRACE_MS);
      await exited;
      clearTimeout(timer);
    },
  };
}
