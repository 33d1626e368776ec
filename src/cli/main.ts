#!/usr/bin/env node
/**
 * The `glasspane` command. Each command group lives in its own module under ./commands and
 * registers itself on the program; this file only wires them together and turns errors into a
 * clear message and a non-zero exit status (never a stack trace for a user mistake).
 */
import { Command, CommanderError } from 'commander';
import { describeError } from '../errors.js';
import { exitCodeFor, exitCodeForCommander, throwInsteadOfExit } from './exit-codes.js';
import { registerStub } from './commands/stub.js';
import { registerView } from './commands/view.js';
import { registerDemo } from './commands/demo.js';
import { registerSend } from './commands/send.js';
import { registerCompletion } from './commands/completion.js';
// --- VM lifecycle commands (doctor, iommu, vfio, vm) ---
import { registerDoctor } from './commands/doctor.js';
import { registerIommu } from './commands/iommu.js';
import { registerVfio } from './commands/vfio.js';
import { registerVm } from './commands/vm.js';
// --- end VM lifecycle commands ---

export function buildProgram(): Command {
  const program = new Command();
  program
    .name('glasspane')
    .description('See and drive a GPU-passthrough VM in a window: Looking Glass B7 frame relay and VM lifecycle')
    .version('0.1.0')
    .showHelpAfterError('(run with --help for usage)');
  registerStub(program);
  registerView(program);
  registerDemo(program);
  registerSend(program);
  // --- VM lifecycle registrations ---
  registerDoctor(program);
  registerIommu(program);
  registerVfio(program);
  registerVm(program);
  // --- end VM lifecycle registrations ---
  registerCompletion(program);
  return program;
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  throwInsteadOfExit(program);
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    if (err instanceof CommanderError) return exitCodeForCommander(err.exitCode);
    process.stderr.write(`glasspane: ${describeError(err)}\n`);
    if (process.env.GLASSPANE_DEBUG && err instanceof Error) process.stderr.write(`${err.stack}\n`);
    return exitCodeFor(err);
  }
}

main(process.argv).then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    process.stderr.write(`glasspane: ${describeError(err)}\n`);
    process.exitCode = 1;
  },
);
