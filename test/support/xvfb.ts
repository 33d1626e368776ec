/** A private Xvfb display for window tests, and xdotool helpers. */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import type { Readable } from 'node:stream';

export interface Xvfb {
  display: string;
  env: NodeJS.ProcessEnv;
  stop(): Promise<void>;
}

/**
 * Starts Xvfb on a display number it picks itself (-displayfd: free at that moment, so parallel
 * test runs never race for one) and resolves once it accepts clients. stop() ends it.
 */
export function startXvfb(width = 1280, height = 800): Promise<Xvfb> {
  return startXServer('Xvfb', ['-screen', '0', `${width}x${height}x24`, '-nolisten', 'tcp'], process.env, 'xvfb');
}

/**
 * Starts the X server `command` with `args` plus `-displayfd 3` in environment `env` (Xephyr, say,
 * with DISPLAY naming its host) and resolves once it accepts clients, with stop(). Rejects naming
 * the server and the end of its stderr when it exits or is not up within 60 s; `pkg` is the
 * package to install when it is missing.
 */
export async function startXServer(command: string, args: string[], env: NodeJS.ProcessEnv, pkg: string): Promise<Xvfb> {
  const proc: ChildProcess = spawn(command, ['-displayfd', '3', ...args], { env, stdio: ['ignore', 'ignore', 'pipe', 'pipe'] });
  let err = '';
  proc.stderr!.on('data', (d) => (err += d));
  const display = await new Promise<string>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => fail(new Error(`${command} did not start within 60 s: ${err.trim().slice(-500)}`)), 60_000);
    const fail = (e: Error) => {
      clearTimeout(timer);
      proc.kill('SIGKILL');
      reject(e);
    };
    proc.once('error', (e) => fail(new Error(`cannot run ${command} (${e.message}): install ${pkg}`)));
    proc.once('exit', (code) => fail(new Error(`${command} exited (status ${code}): ${err.trim().slice(-500)}`)));
    (proc.stdio[3] as Readable).on('data', (d) => {
      out += d;
      if (!out.includes('\n')) return;
      clearTimeout(timer);
      proc.removeAllListeners('exit');
      resolve(`:${out.trim()}`);
    });
  });
  return {
    display,
    env: { ...process.env, DISPLAY: display },
    stop: () =>
      new Promise<void>((resolve) => {
        if (proc.exitCode !== null || proc.signalCode !== null) return resolve();
        proc.once('exit', () => resolve());
        proc.kill('SIGTERM');
      }),
  };
}

export function xdotool(x: Xvfb, ...args: string[]): string {
  return execFileSync('xdotool', args, { env: x.env, encoding: 'utf8' }).trim();
}

/** The first window whose title matches `name`, with its geometry. */
export function findWindow(x: Xvfb, name: string): { id: string; x: number; y: number; width: number; height: number } {
  const id = xdotool(x, 'search', '--name', name).split('\n')[0]!;
  const g = Object.fromEntries(
    xdotool(x, 'getwindowgeometry', '--shell', id)
      .split('\n')
      .map((l) => l.split('=') as [string, string]),
  );
  return { id, x: Number(g.X), y: Number(g.Y), width: Number(g.WIDTH), height: Number(g.HEIGHT) };
}
