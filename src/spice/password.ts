/**
 * Where the SPICE password comes from, for every command that connects (`send`, `view --spice`):
 * a file (`--spice-password-file`), else the environment variable GLASSPANE_SPICE_PASSWORD, else
 * empty (a server with disable-ticketing=on). Never argv: every local user can read it with `ps`.
 */
import { readFileSync } from 'node:fs';
import { SpiceError } from './errors.js';

export const PASSWORD_ENV = 'GLASSPANE_SPICE_PASSWORD';

/** The file's content without one trailing newline, else $GLASSPANE_SPICE_PASSWORD, else ''. */
export function readSpicePassword(file: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  if (file !== undefined) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (cause) {
      const e = cause as NodeJS.ErrnoException;
      throw new SpiceError('ERR_SPICE_PASSWORD', `cannot read the SPICE password file ${file}: ${e.code ?? e.message}`, 'give a readable file to --spice-password-file (one line, the password)', { cause });
    }
    return text.replace(/\r?\n$/, '');
  }
  return env[PASSWORD_ENV] ?? '';
}
