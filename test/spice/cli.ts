/**
 * Test helper: runs `glasspane send ...` as a child process and returns its exit status and
 * output. Uses the built CLI (dist/src/cli/main.js, built by `npm test`'s pretest) when it has
 * the send command, else test/spice/send-cli.ts through vite-node.
 */
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..', '..');
const dist = join(root, 'dist', 'src', 'cli', 'main.js');
const distSend = join(root, 'dist', 'src', 'cli', 'commands', 'send.js');

/** Newest mtime of the sources the send command is built from. */
function newestSource(): number {
  let newest = 0;
  for (const dir of ['src/spice', 'src/input', 'src/cli/commands']) {
    for (const f of readdirSync(join(root, dir))) if (f.endsWith('.ts')) newest = Math.max(newest, statSync(join(root, dir, f)).mtimeMs);
  }
  return newest;
}

// A dist older than the sources would test stale code: use it only when it is fresh.
const useDist = existsSync(dist) && existsSync(distSend) && statSync(distSend).mtimeMs >= newestSource();

export const cliKind = useDist ? 'dist/src/cli/main.js' : 'vite-node test/spice/send-cli.ts';

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function runCli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  const fullEnv: NodeJS.ProcessEnv = { ...process.env, GLASSPANE_SPICE_PASSWORD: undefined, ...env };
  const [cmd, argv] = useDist
    ? [process.execPath, [dist, ...args]]
    : [join(root, 'node_modules', '.bin', 'vite-node'), [join(root, 'test', 'spice', 'send-cli.ts')]];
  if (!useDist) fullEnv.GLASSPANE_TEST_ARGV = JSON.stringify(args);
  for (const k of Object.keys(fullEnv)) if (fullEnv[k] === undefined) delete fullEnv[k];
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, argv, { cwd: root, env: fullEnv, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => p.kill('SIGKILL'), 30_000);
    p.on('error', reject);
    p.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}
