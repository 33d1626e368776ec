/**
 * The `glasspane` command line as a program that can be built and run without side effects
 * (the bin entry is ./main.ts). Each command group lives in its own module under ./commands and
 * registers itself; this file knows only their names and one-line summaries, so that
 * `glasspane --help` and a command that needs little (send, doctor) load only what they use —
 * not the SDL binding, the canvas library or the native addon. Errors become a clear message and
 * a non-zero exit status (never a stack trace for a user mistake).
 */
import { Command, CommanderError } from 'commander';
import { describeError, errorInfo, GlasspaneError } from '../errors.js';
import { loadAddon } from '../native.js';
import { ExitCode, exitCodeFor, exitCodeForCommander, throwInsteadOfExit } from './exit-codes.js';
import { commandPath, formatUsageError } from './usage-error.js';

type Register = (program: Command) => void;

/** Every command: its name, the line `glasspane --help` lists, and how to load its module. */
const COMMANDS: ReadonlyArray<{ name: string; summary: string; load: () => Promise<Register>; needsAddon?: true }> = [
  { name: 'stub', summary: 'produce an animated, verifiable test scene in the Looking Glass B7 format (guest-stub)', load: async () => (await import('./commands/stub.js')).registerStub, needsAddon: true },
  { name: 'view', summary: 'show the guest in a window (or consume its frames headless)', load: async () => (await import('./commands/view.js')).registerView, needsAddon: true },
  { name: 'capture', summary: 'inside a Linux guest: show its X11 desktop to glasspane or Looking Glass B7 (writes it into the region in the B7 format)', load: async () => (await import('./commands/capture.js')).registerCapture, needsAddon: true },
  { name: 'demo', summary: 'guest-stub and glasspane together: the viewer window with input on a desktop, a verifying consumer without one', load: async () => (await import('./commands/demo.js')).registerDemo, needsAddon: true },
  { name: 'send', summary: 'send keys or mouse actions to a VM over SPICE (like virsh send-key)', load: async () => (await import('./commands/send.js')).registerSend },
  // --- VM lifecycle commands ---
  { name: 'doctor', summary: 'check the host for GPU passthrough (and a VM config, if given): each check says ok, warn or fail, with the fix', load: async () => (await import('./commands/doctor.js')).registerDoctor },
  { name: 'iommu', summary: 'list IOMMU groups with their devices (address, class, ids, driver, boot VGA, reset methods)', load: async () => (await import('./commands/iommu.js')).registerIommu },
  { name: 'vfio', summary: 'lend PCI devices to vfio-pci and give them back (journal, rollback, timeouts)', load: async () => (await import('./commands/vfio.js')).registerVfio },
  { name: 'vm', summary: 'run a passthrough VM from a TOML file: up, status, down', load: async () => (await import('./commands/vm.js')).registerVm },
  // Completion describes every command, so it loads them all (see buildProgram).
  { name: 'completion', summary: 'print a shell completion script (commands, options and their choices) for bash, zsh or fish', load: async () => (await import('./commands/completion.js')).registerCompletion },
];

/** The command an argv (user arguments only) runs: its first word, or the one after `help`. */
function commandNamed(args: readonly string[]): string | undefined {
  const words = args.filter((a) => !a.startsWith('-'));
  return words[0] === 'help' ? words[1] : words[0];
}

/**
 * The program. Without `args` every command is loaded and registered in full (for tests and
 * generated docs); with the user's arguments only the command they name is, and the others are
 * listed by their summary (enough for `--help` and for "unknown command" suggestions).
 */
export async function buildProgram(args?: readonly string[]): Promise<Command> {
  const program = new Command();
  program
    .name('glasspane')
    .description('See and drive a GPU-passthrough VM in a window: Looking Glass B7 frame relay and VM lifecycle')
    .version('0.1.0')
    // Usage errors are printed by main() in glasspane's own form (usage-error.ts), not by commander.
    .configureOutput({ outputError: () => {} })
    // A command that maps shared memory fails at once, with the fix, when the addon is missing
    // (not after it started its children or its retry loop); its --help works without it.
    .hook('preAction', (_program, action) => {
      let top = action;
      while (top.parent && top.parent !== program) top = top.parent;
      if (COMMANDS.find((c) => c.name === top.name())?.needsAddon) loadAddon();
    });
  const wanted = args === undefined ? undefined : commandNamed(args);
  const loadAll = args === undefined || wanted === 'completion';
  for (const c of COMMANDS) {
    if (loadAll || wanted === c.name) (await c.load())(program);
    else program.command(c.name);
    program.commands.find((registered) => registered.name() === c.name)?.summary(c.summary);
  }
  return program;
}

/** Runs the CLI on `argv` (node, script, args...) and returns the exit status; never throws. */
export async function main(argv: string[]): Promise<number> {
  let program: Command | undefined;
  try {
    program = await buildProgram(argv.slice(2));
    throwInsteadOfExit(program);
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      const status = exitCodeForCommander(err.exitCode);
      // 'commander.help': a command group named without its subcommand; commander printed its help.
      if (status !== ExitCode.OK && err.code !== 'commander.help') process.stderr.write(formatUsageError(err.message, program ? commandPath(program, argv.slice(2)) : ''));
      return status;
    }
    const status = exitCodeFor(err);
    process.stderr.write(`glasspane: ${describeError(err)}\n`);
    // Not one of ours: a bug. Say how to report it (ERR_INTERNAL's fix) unless the stack follows.
    if (status === ExitCode.UNEXPECTED && !(err instanceof GlasspaneError) && !process.env.GLASSPANE_DEBUG) process.stderr.write(`  fix: ${errorInfo('ERR_INTERNAL').fix}\n`);
    if (process.env.GLASSPANE_DEBUG && err instanceof Error) process.stderr.write(`${err.stack}\n`);
    return status;
  }
}
