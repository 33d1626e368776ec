/**
 * Every file a VM config names, checked before anything starts: `vm up` (and its --dry-run)
 * refuses with ERR_VM_FILE naming each key and path, and `doctor CONFIG` reports them as one
 * check. Before this a missing firmware template surfaced as a raw ENOENT from copyfile (exit 5,
 * "a bug") and a missing disk only once QEMU had started, leaving its sockets behind.
 *
 * Only this machine's files are checked: a --root tree describes another machine's sysfs, not its
 * disks (the callers skip the check then). Root passes every permission check, as QEMU run by
 * root does.
 */
import { accessSync, constants, statSync, type Stats } from 'node:fs';
import path from 'node:path';
import { GlasspaneError } from '../errors.js';
import type { Check } from './check.js';
import type { VmConfig } from './config.js';

/** What a named file must be: read (an image, a ROM), read and write (a disk QEMU writes), an input device, a folder to create a file in, a program. */
type Need = 'read' | 'readwrite' | 'device' | 'folder' | 'program';

/** One file a config names: the key (as in the TOML, e.g. "disk.0.file") and its absolute path. */
export interface NamedFile {
  key: string;
  path: string;
  need: Need;
}

/** One file that cannot be used: its key, its path and what is wrong. */
export interface FileProblem extends NamedFile {
  problem: string;
}

/** The files `c` names (paths already absolute, as parseVmConfig() makes them), with what each must be. */
export function namedFiles(c: VmConfig): NamedFile[] {
  const out: NamedFile[] = [{ key: 'qemu.binary', path: c.qemu.binary, need: 'program' }];
  if (c.firmware) {
    out.push({ key: 'firmware.code', path: c.firmware.code, need: 'read' });
    // vm up copies the template only when the private copy is missing.
    if (statSync(c.firmware.vars, { throwIfNoEntry: false })) out.push({ key: 'firmware.vars', path: c.firmware.vars, need: 'readwrite' });
    else out.push({ key: 'firmware.vars_template', path: c.firmware.vars_template, need: 'read' });
  }
  c.disk.forEach((d, i) => {
    if (d.file) out.push({ key: `disk.${i}.file`, path: d.file, need: d.readonly || d.bus === 'cdrom' ? 'read' : 'readwrite' });
  });
  if (c.gpu?.romfile) out.push({ key: 'gpu.romfile', path: c.gpu.romfile, need: 'read' });
  if (c.input.keyboard) out.push({ key: 'input.keyboard', path: c.input.keyboard, need: 'device' });
  if (c.input.mouse) out.push({ key: 'input.mouse', path: c.input.mouse, need: 'device' });
  c.input.extra.forEach((p, i) => out.push({ key: `input.extra.${i}`, path: p, need: 'device' }));
  if (c.region) out.push(/^\/dev\/kvmfr\d+$/.test(c.region.path) ? { key: 'region.path', path: c.region.path, need: 'readwrite' } : { key: 'region.path', path: path.dirname(c.region.path), need: 'folder' });
  if (c.spice?.password_file) out.push({ key: 'spice.password_file', path: c.spice.password_file, need: 'read' });
  if (typeof c.spice?.socket === 'string') out.push({ key: 'spice.socket', path: path.dirname(c.spice.socket), need: 'folder' });
  if (c.qmp.socket) out.push({ key: 'qmp.socket', path: path.dirname(c.qmp.socket), need: 'folder' });
  return out;
}

/** `name` found on PATH (or the path itself when it has a slash), or null. */
function findProgram(name: string): string | null {
  const candidates = name.includes('/') ? [name] : (process.env.PATH ?? '').split(':').filter(Boolean).map((d) => path.join(d, name));
  return candidates.find((p) => statSync(p, { throwIfNoEntry: false })?.isFile()) ?? null;
}

const may = (p: string, mode: number) => {
  try {
    accessSync(p, mode);
    return true;
  } catch {
    return false;
  }
};

/** What is wrong with `f`, or null when it can be used as it must. */
function problemWith(f: NamedFile): string | null {
  if (f.need === 'program') {
    const found = findProgram(f.path);
    if (!found) return f.path.includes('/') ? 'does not exist' : 'is not on PATH';
    return may(found, constants.X_OK) ? null : `${found} is not executable`;
  }
  let st: Stats | undefined;
  try {
    st = statSync(f.path, { throwIfNoEntry: false });
  } catch (err) {
    return `cannot be looked at (${(err as NodeJS.ErrnoException).code})`;
  }
  if (!st) return f.need === 'folder' ? 'is not an existing folder' : 'does not exist';
  if (f.need === 'folder') return !st.isDirectory() ? 'is not a folder' : may(f.path, constants.W_OK | constants.X_OK) ? null : 'is not writable by this user';
  if (st.isDirectory()) return 'is a folder, not a file';
  if (f.need === 'device' && !st.isCharacterDevice()) return 'is not an input event device';
  if (!may(f.path, constants.R_OK)) return 'is not readable by this user';
  if (f.need === 'readwrite' && !may(f.path, constants.W_OK)) return 'is not writable by this user (QEMU writes it; set readonly = true for a disk it must not)';
  return null;
}

/** Every file of `c` that cannot be used as it must, in the config's order; empty when all are fine. Reads only. */
export function configFileProblems(c: VmConfig): FileProblem[] {
  return namedFiles(c).flatMap((f) => {
    const problem = problemWith(f);
    return problem ? [{ ...f, problem }] : [];
  });
}

/** The problems as lines for a message: `  KEY = PATH: what is wrong`. */
function formatProblems(problems: FileProblem[]): string {
  return problems.map((p) => `  ${p.key} = ${p.path}: ${p.problem}`).join('\n');
}

/**
 * Throws GlasspaneError ERR_VM_FILE (exit 4) listing every file of `c` that cannot be used, with
 * its key and path; returns when all can. `file` is the TOML file, for the message.
 */
export function requireConfigFiles(c: VmConfig, file: string): void {
  const problems = configFileProblems(c);
  if (problems.length === 0) return;
  throw new GlasspaneError(
    'ERR_VM_FILE',
    `${problems.length === 1 ? 'a file' : `${problems.length} files`} that ${file} names cannot be used:\n${formatProblems(problems)}`,
    'fix the path at the key named (relative paths are taken from the TOML file\'s folder), or create the file; nothing was started',
  );
}

/** The `config-files` check of `doctor CONFIG`: ok, or fail listing every file that cannot be used. */
export function configFilesCheck(c: VmConfig): Check {
  const problems = configFileProblems(c);
  if (problems.length === 0) return { id: 'config-files', status: 'ok', message: `every file the config names is there (${namedFiles(c).length})`, fix: null };
  return {
    id: 'config-files',
    status: 'fail',
    message: problems.map((p) => `${p.key} = ${p.path}: ${p.problem}`).join('; '),
    fix: 'fix the paths at the keys named (relative paths are taken from the TOML file\'s folder), or create the files',
  };
}
