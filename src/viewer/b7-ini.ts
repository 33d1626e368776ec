/**
 * Looking Glass B7's INI dialect (common/src/option.c at tag B7, `option_load`), read the way B7
 * reads it, with the line of every entry so that messages can point at it:
 *
 *   ; a comment (the first character of the line)
 *   [win]                 <- a section ("module"): everything up to `]`
 *   fullScreen = yes      <- name = value: split at the first `=`, both trimmed
 *   title = VM #2 ; main  <- the value is the rest of the line, `;` and `#` included
 *
 * Why not the npm `ini` package: it differs from B7 where it would change a user's values
 * silently — it cuts values at an inline `;` or `#` ("VM #2" becomes "VM"), turns `true`,
 * `false` and `null` into other types, strips quotes, and nests sections with dots. B7 does none
 * of these, so a file B7 read one way would mean another thing here.
 *
 * Where this reader is kinder than B7 (documented in docs/coming-from-looking-glass.md):
 * whitespace around a `[section]` and a line starting with `#` (a comment here, an unknown option
 * there) are accepted; non-ASCII text is kept (B7 drops bytes outside 32..126). What B7 refuses
 * is refused, with the line: text after `]`, an option before any section, a line without `=`.
 * Pure: no I/O; throws GlasspaneError ERR_CONFIG naming FILE:LINE.
 */
import { GlasspaneError } from '../errors.js';

/** One `name = value` line of a B7 INI file. */
export interface IniEntry {
  /** The section ("module") it is under, as written (B7 compares case-insensitively). */
  section: string;
  name: string;
  value: string;
  /** 1-based line number. */
  line: number;
}

/** Longest file read (a client config is a few hundred bytes; anything near this is not one). */
export const MAX_INI_BYTES = 1 << 20;

/** The entries of a B7 INI text, in file order (a later duplicate wins when applied, as in B7). */
export function parseB7Ini(file: string, text: string): IniEntry[] {
  if (text.length > MAX_INI_BYTES) {
    throw new GlasspaneError('ERR_CONFIG', `${file} is ${text.length} bytes, more than a Looking Glass config file can be (${MAX_INI_BYTES})`, `check that ${file} is the client's .ini file`);
  }
  const entries: IniEntry[] = [];
  let section: string | null = null;
  const bad = (line: number, what: string, fix: string) => new GlasspaneError('ERR_CONFIG', `${file}:${line}: ${what}`, fix);
  for (const [i, raw] of text.split('\n').entries()) {
    const line = i + 1;
    const s = raw.replace(/\r/g, '').trim();
    if (s === '' || s.startsWith(';') || s.startsWith('#')) continue;
    if (s.startsWith('[')) {
      const end = s.indexOf(']');
      if (end < 0) throw bad(line, `"${s}" opens a section without closing it`, 'write the section as [name] on a line of its own');
      const after = s.slice(end + 1).trim();
      if (after !== '') throw bad(line, `text after the section [${s.slice(1, end)}]: "${after}"`, 'put the section header on a line of its own (Looking Glass refuses this line too)');
      section = s.slice(1, end).trim();
      continue;
    }
    const eq = s.indexOf('=');
    if (eq < 0) throw bad(line, `"${s}" has no value`, `write it as name=value (e.g. ${s}=yes)`);
    const name = s.slice(0, eq).trim();
    if (name === '') throw bad(line, `"${s}" has no option name before "="`, 'write it as name=value');
    if (section === null) throw bad(line, `${name} comes before any [section]`, 'put it under its section, e.g. [win] for fullScreen (docs/coming-from-looking-glass.md lists them)');
    entries.push({ section, name, value: s.slice(eq + 1).trim(), line });
  }
  return entries;
}
