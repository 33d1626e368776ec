/**
 * Test entry for `glasspane send` while src/cli/main.ts cannot be loaded on its own (other
 * commands are still being written). Mirrors main()'s contract: the message and fix on stderr,
 * the exit status from src/cli/exit-codes.ts. The CLI test prefers the built
 * dist/src/cli/main.js when it exists (CI builds it before `npm test`).
 * Arguments come in GLASSPANE_TEST_ARGV (JSON) so vite-node's own option parser never sees them.
 */
import { Command, CommanderError } from 'commander';
import { describeError } from '../../src/errors.js';
import { exitCodeFor, exitCodeForCommander, throwInsteadOfExit } from '../../src/cli/exit-codes.js';
import { registerSend } from '../../src/cli/commands/send.js';

const program = new Command().name('glasspane');
registerSend(program);
throwInsteadOfExit(program);
const argv = JSON.parse(process.env.GLASSPANE_TEST_ARGV ?? '[]') as string[];
try {
  await program.parseAsync(argv, { from: 'user' });
  process.exitCode = 0;
} catch (err) {
  if (err instanceof CommanderError) process.exitCode = exitCodeForCommander(err.exitCode);
  else {
    process.stderr.write(`glasspane: ${describeError(err)}\n`);
    process.exitCode = exitCodeFor(err);
  }
}
