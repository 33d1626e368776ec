/** Shared test helpers: unique /dev/shm regions, the built CLI (runCli, startCli), polling. */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
/** The built CLI (npm test builds first). */
export const CLI = join(ROOT, 'dist', 'src', 'cli', 'main.js');

let counter = 0;
const made: string[] = [];

/** A fresh /dev/shm path, removed after the test file. */
export function shmPath(tag: string): string {
  const p = `/dev/shm/glasspane-test-${process.pid}-${tag}-${counter++}`;
  made.push(p);
  return p;
}

export function removeShm(): void {
  for (const p of made.splice(0)) rmSync(p, { force: true, recursive: true });
}

export interface CliRun {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/**
 * The environment for a CLI child: this process's, with `env` laid over it (a key set to
 * undefined is removed). A SPICE password from the developer's shell never leaks into a test.
 */
function cliEnv(env: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const merged: NodeJS.ProcessEnv = { ...process.env, GLASSPANE_SPICE_PASSWORD: undefined, ...env };
  for (const k of Object.keys(merged)) if (merged[k] === undefined) delete merged[k];
  return merged;
}

let sharedRoot: string | undefined;

/**
 * A package folder another user can read: ROOT itself when `as` can read the CLI there, else a
 * copy of what the built CLI needs (package.json, binding.gyp, dist, build, node_modules) under
 * /tmp, made once per test process and removed at its exit. A checkout in root's home (mode 0700:
 * where CI and tools/check-distro clone it) cannot be read by nobody. The copy is hard links
 * where the file system allows them (fast, no space), else a real copy.
 */
export function rootReadableBy(as: { uid: number; gid: number }): string {
  if (spawnSync(process.execPath, ['-e', `require('fs').accessSync(${JSON.stringify(CLI)})`], { stdio: 'ignore', ...as }).status === 0) return ROOT;
  if (sharedRoot) return sharedRoot;
  const dir = mkdtempSync('/tmp/glasspane-shared-');
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  const parts = ['package.json', 'binding.gyp', 'dist', 'build', 'node_modules'].map((p) => join(ROOT, p));
  const linked = spawnSync('cp', ['-al', ...parts, dir], { stdio: 'ignore' }).status === 0;
  if (!linked && spawnSync('cp', ['-a', ...parts, dir], { stdio: 'ignore' }).status !== 0) throw new Error(`could not copy the built CLI to ${dir} for uid ${as.uid}`);
  chmodSync(dir, 0o755);
  return (sharedRoot = dir);
}

/**
 * Starts `glasspane ARGS` (the built CLI, exactly as a user runs it) and collects its output;
 * `as` runs it as another user (a root test run seeing what an ordinary user sees).
 */
export function startCli(args: string[], env?: NodeJS.ProcessEnv, as?: { uid: number; gid: number }): CliRun {
  const cli = as ? join(rootReadableBy(as), 'dist', 'src', 'cli', 'main.js') : CLI;
  const child = spawn(process.execPath, [cli, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: cliEnv(env), ...(as ? { ...as, cwd: '/' } : {}) });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (err += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  return { child, stdout: () => out, stderr: () => err, exited };
}

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/**
 * The one way tests run a CLI command to its end: `glasspane ARGS` as a child process, with its
 * exit status, signal and output. A command still running after `timeoutMs` is killed
 * (signal SIGKILL in the result), so a hang fails the test instead of stalling the run.
 */
export async function runCli(args: string[], options: { env?: NodeJS.ProcessEnv; timeoutMs?: number; as?: { uid: number; gid: number } } = {}): Promise<CliResult> {
  const r = startCli(args, options.env, options.as);
  const timer = setTimeout(() => r.child.kill('SIGKILL'), options.timeoutMs ?? 120_000);
  const e = await r.exited.finally(() => clearTimeout(timer));
  return { ...e, stdout: r.stdout(), stderr: r.stderr() };
}

/**
 * Frames a `glasspane stub` (run without --quiet) has posted so far, from its once-a-second line.
 * The stub posts only while a consumer is subscribed, so a rise means a consumer is taking frames.
 */
export function stubFramesPosted(stub: CliRun): number {
  return Math.max(0, ...[...stub.stderr().matchAll(/(\d+) frames posted/g)].map((m) => Number(m[1])));
}

/**
 * Polls `pred` every `intervalMs` until it holds; the limit is generous by default (a loaded
 * machine is slow, a passing test does not wait for it). A predicate that starts a process (xdotool,
 * xwd) polls less often (100 ms): a 2-core machine has better things to do.
 */
export async function waitFor(pred: () => boolean, timeoutMs = 30_000, what = 'condition', intervalMs = 10): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`timed out after ${Math.round(timeoutMs / 1000)} s waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/**
 * Retries `check` until it passes, for conditions that need async work or that are best said as
 * assertions: it passes when it returns anything but `false` without throwing (that value is
 * returned). On the deadline it throws "timed out after N s waiting for WHAT", with the last
 * assertion's message, so a failure says both what was awaited and what was last seen.
 */
export async function eventually<T>(check: () => T | Promise<T>, timeoutMs = 30_000, what = 'condition', intervalMs = 100): Promise<Exclude<T, false>> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    let last = 'the check returned false';
    try {
      const v = await check();
      if (v !== false) return v as Exclude<T, false>;
    } catch (e) {
      last = e instanceof Error ? e.message : String(e);
    }
    if (Date.now() > end) throw new Error(`timed out after ${Math.round(timeoutMs / 1000)} s waiting for ${what}; last: ${last}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** SIGKILLs every process started for a test and waits for each to be gone; empties the list. */
export async function killAll(procs: CliRun[]): Promise<void> {
  for (const p of procs.splice(0)) {
    p.child.kill('SIGKILL');
    await p.exited;
  }
}
