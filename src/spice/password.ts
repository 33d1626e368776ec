/**
 * Where the SPICE password comes from, for every command that connects (`send`, `view --spice`,
 * `vm up`'s copy for QEMU): a file (`--spice-password-file`), else the environment variable
 * GLASSPANE_SPICE_PASSWORD, else empty (a server with disable-ticketing=on). Never argv: every
 * local user can read it with `ps`.
 *
 * The file must be a regular file of at most MAX_PASSWORD_FILE_BYTES: a password is one short
 * line (SPICE servers take at most 60 bytes), so /dev/zero is refused instead of read without
 * end, and a FIFO instead of waiting forever for a writer.
 */
import { closeSync, constants, fstatSync, openSync, readSync, statSync } from 'node:fs';
import { SpiceError } from './errors.js';

/** The environment variable that holds the SPICE password when no file is given. */
export const PASSWORD_ENV = 'GLASSPANE_SPICE_PASSWORD';
/** The largest password file read, in bytes (see the module comment). */
export const MAX_PASSWORD_FILE_BYTES = 4096;

const FIX = 'give --spice-password-file a small regular file holding the password on one line';

function kindOf(st: { isFIFO(): boolean; isCharacterDevice(): boolean; isBlockDevice(): boolean; isDirectory(): boolean; isSocket(): boolean }): string {
  if (st.isFIFO()) return 'a FIFO';
  if (st.isCharacterDevice() || st.isBlockDevice()) return 'a device';
  if (st.isDirectory()) return 'a folder';
  if (st.isSocket()) return 'a socket';
  return 'not a regular file';
}

function readBounded(file: string): string {
  const bad = (what: string, cause?: unknown) => new SpiceError('ERR_SPICE_PASSWORD', `the SPICE password file ${file} ${what}`, FIX, cause ? { cause } : undefined);
  let fd: number;
  try {
    // stat first: opening a FIFO for reading would block until someone writes to it.
    const st = statSync(file);
    if (!st.isFile()) throw bad(`is ${kindOf(st)}`);
    fd = openSync(file, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
  } catch (err) {
    if (err instanceof SpiceError) throw err;
    const e = err as NodeJS.ErrnoException;
    throw bad(`cannot be read: ${e.code ?? e.message}`, err);
  }
  try {
    const st = fstatSync(fd); // the file opened may not be the one stat-ed
    if (!st.isFile()) throw bad(`is ${kindOf(st)}`);
    const buf = Buffer.alloc(MAX_PASSWORD_FILE_BYTES + 1);
    let n = 0;
    for (let got = -1; got !== 0 && n < buf.length; n += got) got = readSync(fd, buf, n, buf.length - n, null);
    if (n > MAX_PASSWORD_FILE_BYTES) throw bad(`is over ${MAX_PASSWORD_FILE_BYTES} bytes; a password is one short line`);
    return buf.subarray(0, n).toString('utf8');
  } catch (err) {
    if (err instanceof SpiceError) throw err;
    const e = err as NodeJS.ErrnoException;
    throw bad(`cannot be read: ${e.code ?? e.message}`, err);
  } finally {
    closeSync(fd);
  }
}

/**
 * The file's content without one trailing newline, else $GLASSPANE_SPICE_PASSWORD, else ''.
 * Reads synchronously, never blocks on a FIFO. Throws SpiceError ERR_SPICE_PASSWORD when the
 * file is not a regular file, is over MAX_PASSWORD_FILE_BYTES or cannot be read (errno code in
 * the message, the errno error as `cause`). The length limit of the server (60 bytes) is checked
 * where the ticket is made, not here.
 */
export function readSpicePassword(file: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  if (file !== undefined) return readBounded(file).replace(/\r?\n$/, '');
  return env[PASSWORD_ENV] ?? '';
}
