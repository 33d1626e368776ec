/**
 * Commander's own usage errors (an unknown option, a bad or missing value) in the form of every
 * other glasspane error (docs/cli.md): `glasspane: WHAT` and, on its own line, `  fix: ...`.
 * Commander writes "error: ..." and a hint line itself; program.ts silences that output and
 * prints this instead.
 */
import type { Command } from 'commander';

/** The subcommand path argv names ("vm up"), following the program's registered commands; "" for none. */
export function commandPath(program: Command, args: readonly string[]): string {
  const path: string[] = [];
  let cmd = program;
  for (const word of args) {
    if (word.startsWith('-')) continue;
    const sub = cmd.commands.find((c) => c.name() === word || c.aliases().includes(word));
    if (!sub) break;
    path.push(sub.name());
    cmd = sub;
  }
  return path.join(' ');
}

/**
 * Commander's message ("error: unknown option '--bogus'\n(Did you mean --bogus2?)") as glasspane
 * prints errors: the first line after "glasspane: ", commander's own hints kept, then the fix
 * pointing at the command's --help.
 */
export function formatUsageError(message: string, path: string): string {
  const text = message.replace(/^error: /, '').trim();
  const help = `glasspane${path ? ` ${path}` : ''} --help`;
  return `glasspane: ${text}\n  fix: see \`${help}\` for the arguments and options\n`;
}
