/** `glasspane doctor`: every host check for GPU passthrough, with a verdict and the fix. */
import type { Command } from 'commander';
import { loadVmConfig } from '../../vm/config.js';
import { runDoctor } from '../../vm/doctor.js';
import type { Check } from '../../vm/check.js';
import { HostRoot } from '../../vm/host-root.js';
import { exitStatusHelp } from '../exit-codes.js';

/** The checks as aligned text lines (status, id, message, and an indented fix line for warn/fail). */
export function formatChecks(checks: Check[]): string {
  const width = Math.max(...checks.map((c) => c.id.length));
  return checks
    .map((c) => `${c.status.padEnd(4)}  ${c.id.padEnd(width)}  ${c.message}${c.fix ? `\n${' '.repeat(width + 8)}fix: ${c.fix}` : ''}`)
    .join('\n');
}

/**
 * Adds `glasspane doctor` to `program` (see ./program.ts: registered only when the user names it).
 * Its action writes to stdout/stderr, sets process.exitCode for the outcomes that are not errors,
 * and throws GlasspaneErrors that main() turns into a message and an exit status (exit-codes.ts).
 * Exit status 1 when a check failed.
 */
export function registerDoctor(program: Command): void {
  program
    .command('doctor')
    .description('check the host for GPU passthrough (and a VM config, if given): each check says ok, warn or fail, with the fix')
    .argument('[config]', 'a VM TOML file: also checks its vCPU topology, region size, devices and hugepages')
    .option('--root <dir>', 'read /sys, /proc and /dev under this directory (a captured tree) instead of /', '/')
    .option('--json', 'print {"checks": [{"id", "status", "message", "fix"}]}')
    .addHelpText('after', `\nExamples:\n  glasspane doctor\n  glasspane doctor examples/vm-amd-dual-gpu.toml --json\n  glasspane doctor --root ./captured-host${exitStatusHelp({ 1: 'at least one check failed' })}`)
    .action(async (configFile: string | undefined, o: { root: string; json?: boolean }) => {
      const config = configFile ? (await loadVmConfig(configFile)).config : undefined;
      const checks = await runDoctor(new HostRoot(o.root), config);
      process.stdout.write(o.json ? `${JSON.stringify({ checks })}\n` : `${formatChecks(checks)}\n`);
      if (checks.some((c) => c.status === 'fail')) process.exitCode = 1;
    });
}
