/**
 * A private Xvfb display for the window trials (present, render, window): a display number
 * nobody uses, started with -terminate so the server exits by itself when its last client goes
 * (a process that opened an SDL window can then exit without first pulling the display out from
 * under SDL, which would exit(1)). Returns why not as a string when Xvfb is missing or fails.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

export interface BenchXvfb {
  display: string;
  pid: number;
  stop: () => Promise<void>;
}

/**
 * A private Xvfb of `width` x `height`; `terminate` false keeps it up between clients (the window
 * trial opens one window after another and stops the server itself).
 */
export async function startXvfb(width = 1920, height = 1080, { terminate = true } = {}): Promise<BenchXvfb | string> {
  if (spawnSync('Xvfb', ['-help'], { stdio: 'ignore' }).error) return 'Xvfb is not installed';
  let n = 200 + (process.pid % 500);
  while (existsSync(`/tmp/.X11-unix/X${n}`) || existsSync(`/tmp/.X${n}-lock`)) n++;
  const display = `:${n}`;
  const proc: ChildProcess = spawn('Xvfb', [display, '-screen', '0', `${width}x${height}x24`, '-nolisten', 'tcp', ...(terminate ? ['-terminate'] : [])], { stdio: 'ignore' });
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  const deadline = Date.now() + 10_000;
  while (!existsSync(`/tmp/.X11-unix/X${n}`)) {
    if (Date.now() > deadline || proc.exitCode !== null) return 'Xvfb did not start';
    await sleep(50);
  }
  return {
    display,
    pid: proc.pid!,
    stop: async () => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
      await exited;
    },
  };
}
