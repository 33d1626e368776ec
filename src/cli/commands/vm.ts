/** `glasspane vm up|status|down`: run a VM described in a TOML file, watch it, stop it. */
import { spawn } from 'node:child_process';
import path from 'node:path';
import type { Command } from 'commander';
import { GlasspaneError } from '../../errors.js';
import { loadVmConfig } from '../../vm/config.js';
import { HostRoot } from '../../vm/host-root.js';
import { defaultStateDir, planUp, superviseVm, vmDown, vmStatus, vmUp, type LifecycleContext } from '../../vm/lifecycle.js';
import { ChildProcessWriter } from '../../vm/sysfs-writer.js';
import { numberOption } from '../options.js';
import { formatWrites } from './vfio.js';

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

/** argv that re-enters this CLI (node + main.js), for the detached supervisor and --view. */
function selfCommand(...args: string[]): string[] {
  return [process.execPath, process.argv[1], ...args];
}

export function registerVm(program: Command): void {
  const vm = program.command('vm').description('run a passthrough VM from a TOML file: up, status, down');
  const stateDirOption = ['--state-dir <dir>', 'where VM state, journals, logs and sockets live', defaultStateDir()] as const;

  vm.command('up')
    .description('check the host, bind devices, create the region, start QEMU and wait until QMP says running')
    .argument('<file>', 'the VM TOML file (see examples/)')
    .option('--dry-run', 'print the QEMU command (one flag per line) and the planned sysfs writes; change nothing')
    .option('--root <dir>', 'read the host tree under this directory (for --dry-run on another machine\'s capture)', '/')
    .option('--foreground', 'stay attached until the VM ends (Ctrl-C runs `vm down`)')
    .option('--view', 'open the viewer on the VM\'s region once it runs')
    .option('--timeout <seconds>', 'sysfs write timeout', numberOption('--timeout', 0.1, 600), 10)
    .option(...stateDirOption)
    .addHelpText('after', '\nExamples:\n  glasspane vm up examples/vm-amd-dual-gpu.toml --dry-run\n  sudo glasspane vm up /etc/glasspane/win11.toml --view')
    .action(async (file: string, o: VmCommonOptions & { dryRun?: boolean; foreground?: boolean; view?: boolean }) => {
      const { config } = await loadVmConfig(file);
      const ctx = context(o);
      if (o.dryRun) {
        const r = await planUp(ctx, config);
        process.stdout.write(`${r.command}\n\n# sysfs writes\n${formatWrites(r.writes)}\n\n# also\n${r.notes.map((n) => `# ${n}`).join('\n')}\n`);
        return;
      }
      if (!o.root || path.resolve(o.root) !== '/') {
        throw new GlasspaneError('ERR_USAGE', '--root works with --dry-run only for `vm up`', 'drop --root to start the VM on this host');
      }
      const up = await vmUp(ctx, config, { supervise: o.foreground ? 'inline' : 'detached', superviseCommand: selfCommand('vm', 'supervise'), foreground: o.foreground });
      process.stdout.write(`${config.name} running (pid ${up.state.pid}), QMP ${up.state.qmpSocket}${up.state.spiceSocket ? `, SPICE ${up.state.spiceSocket}` : config.spice ? `, SPICE ${config.spice.addr}:${config.spice.port}` : ''}\n`);
      if (o.view && config.region) {
        const [cmd, ...args] = selfCommand('view', '--shm', config.region.path);
        const viewer = spawn(cmd, args, { stdio: 'inherit' });
        viewer.on('exit', (code) => code && process.stderr.write(`glasspane: the viewer exited with status ${code}\n`));
      }
      if (o.foreground) {
        const stop = () => void vmDown(ctx, config.name).catch((e) => process.stderr.write(`glasspane: ${(e as Error).message}\n`));
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
        const outcome = await up.supervision;
        process.stdout.write(`${config.name}: ${outcome === 'handled-by-down' ? 'stopped' : outcome}\n`);
      }
    });

  vm.command('status')
    .description('running, paused, stopped or crashed')
    .argument('<name>', 'the VM name from its TOML file')
    .option('--json', 'print {"name", "status", "pid", "qmpSocket"}')
    .option(...stateDirOption)
    .action(async (name: string, o: { json?: boolean; stateDir: string }) => {
      const s = await vmStatus({ stateDir: path.resolve(o.stateDir) }, name);
      process.stdout.write(o.json ? `${JSON.stringify(s)}\n` : `${s.name}: ${s.status}${s.pid ? ` (pid ${s.pid}, QMP ${s.qmpSocket})` : ''}\n`);
    });

  vm.command('down')
    .description('power the VM off (system_powerdown, then quit, SIGTERM, SIGKILL) and give the host its devices back')
    .argument('<name>', 'the VM name')
    .option('--timeout <seconds>', 'how long the guest gets to power off (default: lifecycle.shutdown_timeout_s)', numberOption('--timeout', 0, 3600))
    .option(...stateDirOption)
    .action(async (name: string, o: { timeout?: number; stateDir: string }) => {
      const ctx = context({ stateDir: o.stateDir, root: '/', timeout: 10 });
      const how = await vmDown(ctx, name, { timeoutS: o.timeout });
      process.stdout.write(`${name} stopped (${how}); host restored\n`);
    });

  vm.command('supervise', { hidden: true })
    .description('watch a started VM and restore the host when it ends (started by `vm up`)')
    .argument('<name>')
    .option(...stateDirOption)
    .action(async (name: string, o: { stateDir: string }) => {
      await superviseVm(context({ stateDir: o.stateDir, root: '/', timeout: 10 }), name);
    });
}
