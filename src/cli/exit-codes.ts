/**
 * The one exit-status scheme of every `glasspane` command (also in docs/cli.md and at the end of
 * every command's --help). Scripts branch on these numbers, so they never change meaning:
 *
 *   0  ok: the command did what was asked
 *   1  the check failed: it ran to the end and found something wrong (doctor, verify, vm up's
 *      host checks)
 *   2  usage or bad input: an unknown option, a bad value, a config file or path that cannot be
 *      used. Nothing was changed.
 *   3  nothing to read: no frame arrived, no such VM, nothing to stop
 *   4  the host, the device or the VM refused: permissions, a region that cannot be mapped, a
 *      SPICE or QMP connection, QEMU, a sysfs write
 *   5  an unexpected error: a bug in glasspane (run again with GLASSPANE_DEBUG=1 and report it)
 */
import type { Command } from 'commander';
import { type ExitClass, GlasspaneError, errorInfo } from '../errors.js';

/** The exit statuses by name (see the module comment for what each means). */
export const ExitCode = {
  OK: 0,
  CHECK_FAILED: 1,
  USAGE: 2,
  NOTHING_TO_READ: 3,
  REFUSED: 4,
  UNEXPECTED: 5,
} as const;
/** One of the ExitCode numbers. */
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** The status of each exit class of the error catalogue (src/error-codes.ts). */
export const EXIT_STATUS_OF_CLASS: Readonly<Record<ExitClass, ExitCode>> = {
  check: ExitCode.CHECK_FAILED,
  usage: ExitCode.USAGE,
  nothing: ExitCode.NOTHING_TO_READ,
  refused: ExitCode.REFUSED,
  unexpected: ExitCode.UNEXPECTED,
};

/** The exit status for an error that ended a command: its code's exit class; 5 for anything not a GlasspaneError. */
export function exitCodeFor(err: unknown): ExitCode {
  if (!(err instanceof GlasspaneError)) return ExitCode.UNEXPECTED;
  return EXIT_STATUS_OF_CLASS[errorInfo(err.code).exit];
}

/** The exit status for commander's own errors: help and version are 0, everything else is usage. */
export function exitCodeForCommander(commanderExitCode: number): ExitCode {
  return commanderExitCode === 0 ? ExitCode.OK : ExitCode.USAGE;
}

/** The --help epilogue every command ends with; `special` says what 1 or 3 means for that command. */
export function exitStatusHelp(special: Partial<Record<1 | 3, string>> = {}): string {
  const lines = [
    '0 ok',
    `1 ${special[1] ?? 'a check failed'}`,
    '2 usage or bad input',
    `3 ${special[3] ?? 'nothing to read'}`,
    '4 the host, device or VM refused',
    '5 unexpected error (a bug)',
  ];
  return `\nExit status: ${lines.join('; ')} (docs/cli.md).`;
}

/**
 * Makes commander throw instead of exiting, on the program and every subcommand (a subcommand
 * copies the setting only when it is made after it), so usage errors reach exitCodeForCommander.
 */
export function throwInsteadOfExit(cmd: Command): void {
  cmd.exitOverride();
  for (const sub of cmd.commands) throwInsteadOfExit(sub);
}
