/** A private Xvfb display for window tests, and xdotool helpers. */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';

export interface Xvfb {
  display: string;
  env: NodeJS.ProcessEnv;
  stop(): Promise<void>;
}

export async function startXvfb(width = 1280, height = 800): Promise<Xvfb> {
  // A display number unlikely to clash with other test runs on the machine.
  let n = 90 + (process.pid % 400);
  while (existsSync(`/tmp/.X11-unix/X${n}`) || existsSync(`/tmp/.X${n}-lock`)) n++;
  const display = `:${n}`;
  const proc: ChildProcess = spawn('Xvfb', [display, '-screen', '0', `${width}x${height}x24`, '-nolisten', 'tcp'], { stdio: 'ignore' });
  const deadline = Date.now() + 10_000;
  while (!existsSync(`/tmp/.X11-unix/X${n}`)) {
    if (Date.now() > deadline) throw new Error('Xvfb did not start');
    await new Promise((r) => setTimeout(r, 50));
  }
  const env = { ...process.env, DISPLAY: display };
  return {
    display,
    env,
    stop: () =>
      new Promise<void>((resolve) => {
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
