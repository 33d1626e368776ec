/** `glasspane completion bash|zsh|fish`: a completion script generated from the command definitions. */
import { Argument, type Command } from 'commander';
import { completionScript, SHELLS, type Shell } from '../completion.js';
import { exitStatusHelp } from '../exit-codes.js';

/**
 * Adds `glasspane completion SHELL` to `program` (see ./program.ts: registered only when the user
 * names it). Its action writes to stdout/stderr, sets process.exitCode for the outcomes that are
 * not errors, and throws GlasspaneErrors that main() turns into a message and an exit status
 * (exit-codes.ts). Prints the script on stdout.
 */
export function registerCompletion(program: Command): void {
  program
    .command('completion')
    .description('print a shell completion script (commands, options and their choices) for bash, zsh or fish')
    .addArgument(new Argument('<shell>', 'the shell').choices(SHELLS))
    .addHelpText(
      'after',
      `
Examples:
  glasspane completion bash > ~/.local/share/bash-completion/completions/glasspane
  source <(glasspane completion bash)    # this shell only
  glasspane completion zsh > "\${fpath[1]}/_glasspane"
  glasspane completion fish > ~/.config/fish/completions/glasspane.fish${exitStatusHelp()}`,
    )
    .action((shell: Shell, _o: unknown, cmd: Command) => {
      // The root program: completion covers every command registered on it.
      let root = cmd;
      while (root.parent) root = root.parent;
      process.stdout.write(completionScript(root, shell));
    });
}
