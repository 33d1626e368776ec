/** `glasspane vm up|status|down`: run a VM described in a TOML file, watch it, stop it. */
import path from 'node:path';
import type { Command } from 'commander';
import { GlasspaneError } from '../../errors.js';
import { loadVmConfig } from '../../vm/config.js';
import { HostRoot } from '../../vm/host-root.js';
import { defaultStateDir, planUp, readState, superviseVm, vmDown, vmStatus, vmUp, type LifecycleContext, type VmState } from '../../vm/lifecycle.js';
import type { VmConfig } from '../../vm/config.js';
import { formatSpiceAddress, type SpiceAddress } from '../../spice/address.js';
import { ChildProcessWriter } from '../../vm/sysfs-writer.js';
import { numberOption } from '../options.js';
import { exitStatusHelp } from '../exit-codes.js';
import { formatWrites } from './vfio.js';
import { formatBlockers } from '../../vm/vfio.js';
import { onStopSignals } from '../stop-signals.js';
import { startVmViewer, type VmViewer } from '../vm-viewer.js';

interface VmCommonOptions {
  stateDir: string;
  root: string;
  timeout: number;
}

function context(o: VmCommonOptions): LifecycleContext {
  const host = new HostRoot(o.root ?? '/');
  return {
    host,
    writer: new ChildProcessWriter(host, (o.timeout ?? 10) * 1000),
    stateDir: path.resolve(o.stateDir),
    log: (l) => process.stderr.write(`glasspane: ${l}\n`),
  };
}

/**
 * `view` arguments for `vm up --view`: the VM's region, its SPICE endpoint (the socket `vm up`
 * made, else addr:port) and password file, so keyboard and mouse reach the guest, and its name
 * as the window title.
 */
export function viewArgsFor(config: VmConfig, state: Pick<VmState, 'spiceSocket'>): string[] {
  const args = ['view', '--shm', config.region!.path, '--title', config.name];
  if (config.spice) {
    // A server listening on every address is reached on loopback.
    const host = config.spice.addr === '0.0.0.0' ? '127.0.0.1' : config.spice.addr === '::' ? '::1' : config.spice.addr;
    const tcp: SpiceAddress = { kind: 'tcp', host, port: config.spice.port ?? 5900 };
    args.push('--spice', formatSpiceAddress(state.spiceSocket ? { kind: 'unix', path: state.spiceSocket } : tcp));
    if (config.spice.password_file) args.push('--spice-password-file', config.spice.password_file);
  }
  return args;
}

/** The error `vm up --foreground` / `--view` ends with when the VM crashed (exit 4). */
function vmCrashed(name: string, logPath: string, how: string): GlasspaneError {
  return new GlasspaneError('ERR_VM_CRASHED', `${name} crashed: ${how}; the host is given back`, `see the QEMU log ${logPath}; \`glasspane vm up\` starts it again`);
}

/** argv that re-enters this CLI (node + main.js), for the detached supervisor and --view. */
function selfCommand(...args: string[]): string[] {
  return [process.execPath, process.argv[1], ...args];
}

/**
 * Adds `glasspane vm up|status|down|supervise` to `program` (see ./program.ts: registered only when
 * the user names it). Its action writes to stdout/stderr, sets process.exitCode for the outcomes
 * that are not errors, and throws GlasspaneErrors that main() turns into a message and an exit
 * status (exit-codes.ts). `vm status`/`vm down` of a name that never ran exit 3.
 */
export function registerVm(program: Command): void {
  const vm = program
    .command('vm')
    .description('run a passthrough VM from a TOML file: up, status, down')
    .addHelpText('after', `\nExamples:\n  glasspane vm up examples/vm-smoke.toml && glasspane vm status smoke && glasspane vm down smoke${exitStatusHelp()}`);
  const stateDirOption = ['--state-dir <dir>', 'where VM state, journals, logs and sockets live', defaultStateDir()] as const;

  vm.command('up')
    .description('check the host, bind devices, create the region, start QEMU and wait until QMP says running')
    .argument('<file>', 'the VM TOML file (see examples/)')
    .option('--dry-run', 'print the QEMU command (one flag per line) and the planned sysfs writes; change nothing')
    .option('--root <dir>', 'read the host tree under this directory (for --dry-run on another machine\'s capture)', '/')
    .option('--foreground', 'stay attached until the VM ends (Ctrl-C runs `vm down`); exits 0 when it stopped, 4 when it crashed')
    .option('--view', 'open the viewer on the VM\'s region once it runs; it closes when the VM ends (and `vm up` ends with the VM\'s status)')
    .option('--timeout <seconds>', 'sysfs write timeout', numberOption('--timeout', 0.1, 600), 10)
    .option(...stateDirOption)
    .addHelpText('after', `
Examples:
  glasspane vm up examples/vm-amd-dual-gpu.toml --dry-run
  sudo glasspane vm up /etc/glasspane/win11.toml --view    # the window gets the VM's SPICE input
  glasspane vm up examples/vm-smoke.toml --foreground${exitStatusHelp({ 1: "the host checks failed (see `glasspane doctor FILE`), or --dry-run found blockers" })}`)
    .action(async (file: string, o: VmCommonOptions & { dryRun?: boolean; foreground?: boolean; view?: boolean }) => {
      const { config } = await loadVmConfig(file);
      const ctx = context(o);
      if (o.dryRun) {
        const r = await planUp(ctx, config);
        process.stdout.write(`${r.command}\n\n# sysfs writes\n${formatWrites(r.writes)}\n${r.blockers.length ? `${formatBlockers(r.blockers)}\n` : ''}\n# also\n${r.notes.map((n) => `# ${n}`).join('\n')}\n`);
        if (r.blockers.length) {
          process.stderr.write(`glasspane: the bind would be refused: ${r.blockers.length} blocker(s), listed with their fixes after the sysfs writes\n`);
          process.exitCode = 1;
        }
        return;
      }
      if (!o.root || path.resolve(o.root) !== '/') {
        throw new GlasspaneError('ERR_USAGE', '--root works with --dry-run only for `vm up`', 'drop --root to start the VM on this host');
      }
      const up = await vmUp(ctx, config, { supervise: o.foreground ? 'inline' : 'detached', superviseCommand: selfCommand('vm', 'supervise'), foreground: o.foreground });
      process.stdout.write(`${config.name} running (pid ${up.state.pid}), QMP ${up.state.qmpSocket}${up.state.spiceSocket ? `, SPICE ${up.state.spiceSocket}` : config.spice ? `, SPICE ${config.spice.addr}:${config.spice.port}` : ''}\n`);
      const viewer: VmViewer | null = o.view && config.region ? startVmViewer(selfCommand(...viewArgsFor(config, up.state))) : null;
      // QEMU's end as its child sees it (the detached supervisor restores the host meanwhile).
      const qemuEnded = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => up.child.once('exit', (code, signal) => resolve({ code, signal })));
      if (o.foreground) {
        const stop = () => void vmDown(ctx, config.name).catch((e) => process.stderr.write(`glasspane: ${(e as Error).message}\n`));
        onStopSignals(stop); // left installed: the command ends when the supervision does
        const outcome = await up.supervision;
        // The VM is over, however it ended: its window goes with it.
        await viewer?.close();
        process.stdout.write(`${config.name}: ${outcome === 'handled-by-down' ? 'stopped' : outcome}\n`);
        if (outcome === 'crashed') throw vmCrashed(config.name, up.state.logPath, 'QEMU ended without a SHUTDOWN event');
      } else if (viewer) {
        // Attached while the window is open: closing it leaves the VM running; the VM ending closes it.
        const first = await Promise.race([viewer.exited.then(() => null), qemuEnded]);
        if (first) {
          await viewer.close();
          // `vm down` marks the state "stopping" (or has removed it) before it signals QEMU: its doing, not a crash.
          const now = await readState(ctx.stateDir, config.name);
          const crashed = first.code !== 0 && Boolean(now) && !now!.stopping;
          process.stdout.write(`${config.name}: ${crashed ? 'crashed' : 'stopped'}\n`);
          if (crashed) throw vmCrashed(config.name, up.state.logPath, first.signal ? `QEMU was killed by ${first.signal}` : `QEMU exited with status ${first.code}`);
        }
      }
    });

  vm.command('status')
    .description('running, paused, stopped or crashed')
    .argument('<name>', 'the VM name from its TOML file')
    .option('--json', 'print {"name", "status", "pid", "qmpSocket"}')
    .option(...stateDirOption)
    .addHelpText('after', `
Examples:
  glasspane vm status win11
  glasspane vm status smoke --json    # {"name":"smoke","status":"running","pid":4242,"qmpSocket":"…/smoke.qmp"}${exitStatusHelp({ 3: 'no VM of that name has run from the state directory' })}`)
    .action(async (name: string, o: { json?: boolean; stateDir: string }) => {
      const s = await vmStatus({ stateDir: path.resolve(o.stateDir) }, name);
      process.stdout.write(o.json ? `${JSON.stringify(s)}\n` : `${s.name}: ${s.status}${s.pid ? ` (pid ${s.pid}, QMP ${s.qmpSocket})` : ''}\n`);
    });

  vm.command('down')
    .description('power the VM off (system_powerdown, then quit, SIGTERM, SIGKILL) and give the host its devices back')
    .argument('<name>', 'the VM name')
    .option('--timeout <seconds>', 'how long the guest gets to power off (default: lifecycle.shutdown_timeout_s)', numberOption('--timeout', 0, 3600))
    .option(...stateDirOption)
    .addHelpText('after', `
Examples:
  sudo glasspane vm down win11
  glasspane vm down smoke --timeout 5    # give the guest 5 s to power off, then quit and signals${exitStatusHelp({ 3: 'no VM of that name has run from the state directory (a stopped one is 0)' })}`)
    .action(async (name: string, o: { timeout?: number; stateDir: string }) => {
      const ctx = context({ stateDir: o.stateDir, root: '/', timeout: 10 });
      const how = await vmDown(ctx, name, { timeoutS: o.timeout });
      process.stdout.write(how === 'already stopped' ? `${name} is already stopped; nothing to do\n` : `${name} stopped (${how}); host restored\n`);
    });

  vm.command('supervise', { hidden: true })
    .description('watch a started VM and restore the host when it ends (started by `vm up`)')
    .argument('<name>')
    .option(...stateDirOption)
    .action(async (name: string, o: { stateDir: string }) => {
      await superviseVm(context({ stateDir: o.stateDir, root: '/', timeout: 10 }), name);
    });
}
