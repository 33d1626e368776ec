/** Shared test helpers: unique /dev/shm regions, the built CLI, child processes, polling. */
import { spawn, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
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

export function startCli(args: string[], env?: NodeJS.ProcessEnv): CliRun {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: env ?? process.env });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (err += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  return { child, stdout: () => out, stderr: () => err, exited };
}

export async function runCli(args: string[]): Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }> {
  const r = startCli(args);
  const e = await r.exited;
  return { ...e, stdout: r.stdout(), stderr: r.stderr() };
}

export async function waitFor(pred: () => boolean, timeoutMs = 10_000, what = 'condition'): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** SIGKILLs every process started for a test and waits for each to be gone; empties the list. */
export async function killAll(procs: CliRun[]): Promise<void> {
  for (const p of procs.splice(0)) {
    p.child.kill('SIGKILL');
    await p.exited;
  }
}
