/**
 * A viewer window in a process of its own, as the window and idle trials run it (`glasspane view
 * --stats`, or bench/view-host.js), with the figures lines it prints, and the CPU time of any
 * process from /proc.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';

/** The viewer's --stats line (src/viewer/viewer-stats.ts ViewerFigures and more). */
export interface Figures {
  frames: number;
  ups: number;
  latencyMs: number | null;
  latencyP99Ms: number | null;
  presentMs: number | null;
}

const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout?.trim()) || 100;

/** CPU seconds (user + system, all threads) a process has used so far. */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // from field 3 (state) on
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK; // fields 14 utime, 15 stime
}

/** A window process (the CLI's `view --stats`, or bench/view-host.js) and its figures lines. */
export function startViewer(argv: string[], env: NodeJS.ProcessEnv) {
  const child: ChildProcess = spawn(process.execPath, argv, { stdio: ['ignore', 'pipe', 'pipe'], env });
  const lines: Figures[] = [];
  let err = '';
  let partial = '';
  child.stdout!.on('data', (d: Buffer) => {
    const parts = (partial + d.toString()).split('\n');
    partial = parts.pop()!;
    for (const l of parts) if (l.startsWith('{')) lines.push(JSON.parse(l) as Figures);
  });
  child.stderr!.on('data', (d) => (err += d));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    const t = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(t);
  };
  return { child, lines, stderr: () => err, stop, exited };
}

