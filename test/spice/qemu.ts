/**
 * Test helper: a real QEMU 7.2 (TCG, no guest disk) with SPICE and QEMU's input trace, so tests
 * assert what QEMU's input layer received. Always call stop() (afterAll/finally): it kills QEMU
 * and removes the temp dir.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const QEMU = process.env.GLASSPANE_QEMU ?? 'qemu-system-x86_64';

/** True when QEMU can be run here (tests skip with a visible reason otherwise). */
export function haveQemu(): boolean {
  const r = spawnSync(QEMU, ['--version'], { encoding: 'utf8' });
  return r.status === 0;
}

export interface QemuOptions {
  transport?: 'unix' | 'tcp';
  password?: string;
  extraArgs?: string[];
  /** Reuse this dir/socket path (to restart QEMU on the same address). */
  dir?: string;
}

export interface QemuHandle {
  /** glasspane address: unix:/path or 127.0.0.1:PORT */
  address: string;
  dir: string;
  tracePath: string;
  proc: ChildProcess;
  stderr(): string;
  /** input_event_* trace lines so far, without the pid/timestamp prefix. */
  trace(): string[];
  /** Waits until `pred(trace())` is true (bounded; returns the last trace either way). */
  waitTrace(pred: (lines: string[]) => boolean, timeoutMs?: number): Promise<string[]>;
  /** Runs a QMP command and returns its `return` value (throws on a QMP error). */
  qmp(execute: string, args?: Record<string, unknown>): Promise<unknown>;
  /** Runs an HMP command through QMP's human-monitor-command. */
  hmp(commandLine: string): Promise<string>;
  /** Kills QEMU (and removes the temp dir unless keepDir). */
  stop(keepDir?: boolean): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

export async function startQemu(opts: QemuOptions = {}): Promise<QemuHandle> {
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'glasspane-spice-'));
  const tracePath = join(dir, `trace-${Date.now()}-${Math.random().toString(36).slice(2)}.log`);
  const transport = opts.transport ?? 'unix';
  let address: string;
  let spice: string;
  const auth = opts.password !== undefined ? 'password-secret=pw' : 'disable-ticketing=on';
  if (transport === 'unix') {
    const sock = join(dir, 'spice.sock');
    address = `unix:${sock}`;
    spice = `unix=on,addr=${sock},${auth}`;
  } else {
    const port = await freePort();
    address = `127.0.0.1:${port}`;
    spice = `port=${port},addr=127.0.0.1,${auth}`;
  }
  const args = [
    '-machine', 'pc,accel=tcg', '-m', '64', '-nodefaults', '-vga', 'std', '-display', 'none',
    // Not -S: QEMU drops input events while the VM is stopped. With no disk, SeaBIOS idles.
    ...(opts.password !== undefined ? ['-object', `secret,id=pw,data=${opts.password}`] : []),
    '-spice', spice,
    '-trace', 'input_event_*', '-D', tracePath,
    '-qmp', `unix:${join(dir, `qmp-${process.pid}-${Date.now()}.sock`)},server=on,wait=off`,
    ...(opts.extraArgs ?? []),
  ];
  const qmpPath = args[args.indexOf('-qmp') + 1]!.replace(/^unix:/, '').replace(/,.*$/, '');
  const proc = spawn(QEMU, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  proc.stderr!.on('data', (d) => (err += d));
  let exited = false;
  proc.on('exit', () => (exited = true));
  const readTrace = (): string[] => {
    if (!existsSync(tracePath)) return [];
    return readFileSync(tracePath, 'utf8')
      .split('\n')
      .map((l) => l.replace(/^\d+@[\d.]+:/, '').trim())
      .filter((l) => l.startsWith('input_event_'));
  };
  const handle: QemuHandle = {
    address,
    dir,
    tracePath,
    proc,
    stderr: () => err,
    trace: readTrace,
    async waitTrace(pred, timeoutMs = 30_000) {
      const end = Date.now() + timeoutMs;
      for (;;) {
        const t = readTrace();
        if (pred(t) || Date.now() > end) return t;
        await sleep(50);
      }
    },
    qmp: (execute, a) => qmpCall(qmpPath, execute, a),
    hmp: async (cmd) => String(await qmpCall(qmpPath, 'human-monitor-command', { 'command-line': cmd })),
    async stop(keepDir = false) {
      if (!exited) {
        const done = new Promise((r) => proc.once('exit', r));
        proc.kill('SIGKILL');
        await done;
      }
      if (!keepDir && !opts.dir) rmSync(dir, { recursive: true, force: true });
    },
  };
  // Wait until the SPICE socket accepts connections.
  const end = Date.now() + 20_000;
  for (;;) {
    if (exited) throw new Error(`QEMU exited early: ${err}`);
    if (await canConnect(address)) break;
    if (Date.now() > end) {
      await handle.stop();
      throw new Error(`QEMU SPICE did not come up at ${address}: ${err}`);
    }
    await sleep(50);
  }
  return handle;
}

/** One QMP session per call: greeting, qmp_capabilities, the command, its answer. */
function qmpCall(path: string, execute: string, args?: Record<string, unknown>): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ path });
    let buf = '';
    let step = 0;
    s.on('error', reject);
    s.on('data', (d) => {
      buf += d;
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (!line.trim()) continue;
        const msg = JSON.parse(line) as { QMP?: unknown; return?: unknown; error?: { desc: string }; event?: string };
        if (msg.event) continue;
        if (msg.error) {
          s.destroy();
          return reject(new Error(`QMP ${execute}: ${msg.error.desc}`));
        }
        if (step === 0) s.write(JSON.stringify({ execute: 'qmp_capabilities' }) + '\n');
        else if (step === 1) s.write(JSON.stringify({ execute, arguments: args }) + '\n');
        else {
          s.destroy();
          return resolve(msg.return);
        }
        step++;
      }
    });
  });
}

function canConnect(address: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = address.startsWith('unix:')
      ? net.connect({ path: address.slice(5) })
      : net.connect({ host: '127.0.0.1', port: Number(address.split(':')[1]) });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
