/**
 * The one list of error codes (src/error-codes.ts) against everything that depends on it: the
 * generated docs/errors.md, the codes the sources use, the codes the docs name, and the exit
 * status each code's class gives on the command line.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ErrorCatalogue, ErrorSections, GlasspaneError, describeError, type ErrorCode } from '../../src/errors.js';
import { EXIT_STATUS_OF_CLASS, ExitCode, exitCodeFor } from '../../src/cli/exit-codes.js';
import { ERRORS_DOC_COMMAND, ERRORS_DOC_PATH, renderErrorsDoc } from '../../tools/errors-doc.js';
import { ROOT } from '../support/helpers.js';

const CATALOGUE_FILE = 'src/error-codes.ts';
const codes = Object.keys(ErrorCatalogue) as ErrorCode[];

/** Every .ts file below `dir`, as paths relative to the repository root. */
function tsFiles(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.ts'))
    .map((f) => join(dir, f));
}

/** Code-shaped string literals (ERR_ and capitals, in quotes or backticks) in the .ts files below `dirs`, by file. */
function codeLiterals(dirs: string[]): Map<string, string[]> {
  const found = new Map<string, string[]>();
  for (const file of dirs.flatMap(tsFiles)) {
    if (file === CATALOGUE_FILE) continue;
    const text = readFileSync(join(ROOT, file), 'utf8');
    for (const m of text.matchAll(/(['"`])(ERR_[A-Z0-9_]*)\1/g)) found.set(m[2]!, [...(found.get(m[2]!) ?? []), file]);
  }
  return found;
}

describe('the error catalogue', () => {
  it(`${ERRORS_DOC_PATH} is what the catalogue generates`, () => {
    const onDisk = readFileSync(join(ROOT, ERRORS_DOC_PATH), 'utf8');
    // toBe shows the differing lines; the message says how to bring the file up to date.
    expect(onDisk, `${ERRORS_DOC_PATH} is out of date with ${CATALOGUE_FILE}: run \`${ERRORS_DOC_COMMAND}\` and commit the result`).toBe(renderErrorsDoc());
    for (const code of codes) expect(onDisk).toContain(`| \`${code}\` |`);
  });

  it('has every code the sources use, and no code they do not use', () => {
    const used = codeLiterals(['src', 'guest-stub', 'bench']);
    const unknown = [...used].filter(([c]) => !(c in ErrorCatalogue)).map(([c, files]) => `${c} (${[...new Set(files)].join(', ')})`);
    expect(unknown, `codes used in the sources but missing from ${CATALOGUE_FILE}: add them there (meaning, fix, exit class)`).toEqual([]);
    const dead = codes.filter((c) => !used.has(c));
    expect(dead, `codes in ${CATALOGUE_FILE} that no source uses: remove them, or use them`).toEqual([]);
  });

  it('is what the tests assert: they name no code outside it', () => {
    const unknown = [...codeLiterals(['test'])].filter(([c]) => !(c in ErrorCatalogue)).map(([c, files]) => `${c} (${[...new Set(files)].join(', ')})`);
    expect(unknown).toEqual([]);
  });

  it('names only catalogue codes in the docs', () => {
    const docs = ['README.md', ...readdirSync(join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).map((f) => join('docs', f))];
    const stray: string[] = [];
    for (const doc of docs) {
      for (const m of readFileSync(join(ROOT, doc), 'utf8').matchAll(/\bERR_[A-Z0-9_]*[A-Z0-9]\b/g)) {
        if (!(m[0] in ErrorCatalogue)) stray.push(`${m[0]} in ${doc}`);
      }
    }
    expect(stray).toEqual([]);
  });

  it('lists each code in exactly one section, with a meaning, a fix and an exit class', () => {
    const inSections = ErrorSections.flatMap((s) => Object.keys(s.codes));
    expect(inSections).toHaveLength(new Set(inSections).size);
    expect(new Set(inSections)).toEqual(new Set(codes));
    for (const code of codes) {
      const info = ErrorCatalogue[code];
      expect(code).toMatch(/^ERR_[A-Z0-9]+(_[A-Z0-9]+)*$/);
      expect(info.meaning, code).toMatch(/^[A-Z`].*\.$/);
      expect(info.meaning, code).not.toMatch(/\n/);
      // Fixes read like the throw sites' own: a lower-case fragment printed after "fix: ".
      expect(info.fix, code).toMatch(/^[a-z`].*[^.]$/);
      expect(info.fix, code).not.toMatch(/\n/);
      expect(Object.keys(EXIT_STATUS_OF_CLASS), code).toContain(info.exit);
    }
  });
});

describe('what a code means on the command line', () => {
  it('keeps the exit-status scheme of docs/cli.md', () => {
    expect(EXIT_STATUS_OF_CLASS).toEqual({ check: 1, usage: 2, nothing: 3, refused: 4, unexpected: 5 });
    const table = readFileSync(join(ROOT, 'docs/cli.md'), 'utf8');
    for (const status of Object.values(EXIT_STATUS_OF_CLASS)) expect(table).toMatch(new RegExp(`^\\| ${status} \\|`, 'm'));
  });

  it('exits with the status of the code\'s class; anything not a GlasspaneError is unexpected', () => {
    for (const code of codes) expect(exitCodeFor(new GlasspaneError(code, 'x')), code).toBe(EXIT_STATUS_OF_CLASS[ErrorCatalogue[code].exit]);
    expect(exitCodeFor(new GlasspaneError('ERR_USAGE', 'x'))).toBe(ExitCode.USAGE);
    expect(exitCodeFor(new GlasspaneError('ERR_HOST_NOT_READY', 'x'))).toBe(ExitCode.CHECK_FAILED);
    expect(exitCodeFor(new GlasspaneError('ERR_VM_UNKNOWN', 'x'))).toBe(ExitCode.NOTHING_TO_READ);
    expect(exitCodeFor(new GlasspaneError('ERR_QMP_CONNECT', 'x'))).toBe(ExitCode.REFUSED);
    expect(exitCodeFor(new GlasspaneError('ERR_INTERNAL', 'x'))).toBe(ExitCode.UNEXPECTED);
    expect(exitCodeFor(new TypeError('x'))).toBe(ExitCode.UNEXPECTED);
    expect(exitCodeFor('a string')).toBe(ExitCode.UNEXPECTED);
  });

  it('prints the throw site\'s fix, else the catalogue\'s', () => {
    expect(describeError(new GlasspaneError('ERR_FORMAT', 'frame format X cannot be saved'))).toBe(`frame format X cannot be saved\n  fix: ${ErrorCatalogue.ERR_FORMAT.fix}`);
    expect(describeError(new GlasspaneError('ERR_FORMAT', 'm', 'the specific fix'))).toBe('m\n  fix: the specific fix');
    expect(describeError(new Error('plain'))).toBe('plain');
  });
});
