/**
 * Checks for files and folders the user names for output (`--screenshot FILE`,
 * `--screenshot-dir DIR`), made before any waiting so a typo fails at once with ERR_OUTPUT (exit
 * status 2) naming the path and the fix, never later as a raw ENOENT.
 */
import { accessSync, constants, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { GlasspaneError } from '../errors.js';

function problem(flag: string, path: string, what: string, fix: string): GlasspaneError {
  return new GlasspaneError('ERR_OUTPUT', `${flag} ${path}: ${what}`, fix);
}

/** Throws ERR_OUTPUT unless `dir` is an existing folder this user may write in. Returns it absolute. */
export function requireOutputDir(dir: string, flag: string, shown = dir): string {
  const abs = resolve(dir);
  let isDir: boolean;
  try {
    isDir = statSync(abs).isDirectory();
  } catch {
    throw problem(flag, shown, `the folder ${abs} does not exist`, `create it (mkdir -p ${abs}) or name an existing folder`);
  }
  if (!isDir) throw problem(flag, shown, `${abs} is not a folder`, 'name a folder');
  try {
    accessSync(abs, constants.W_OK);
  } catch {
    throw problem(flag, shown, `the folder ${abs} is not writable by this user`, 'name a folder you can write in');
  }
  return abs;
}

/** Throws ERR_OUTPUT unless `file` can be created: its folder exists and is writable, and it is not a folder. */
export function requireOutputFile(file: string, flag: string): string {
  const abs = resolve(file);
  if (statSync(abs, { throwIfNoEntry: false })?.isDirectory()) throw problem(flag, file, `${abs} is a folder`, 'name a file, e.g. guest.png');
  requireOutputDir(dirname(abs), flag, file);
  return abs;
}
