/**
 * Reading TOML config files (the viewer's config.toml, VM files) with errors that name the file,
 * the line and column, the key and what was expected, so the user can go straight to the spot:
 *
 *   ~/.config/glasspane/config.toml:3:12: fullscreen: expected a boolean (true or false), got the string "yes"
 *
 * Below this: smol-toml and node:fs only.
 */
import { readFileSync } from 'node:fs';
import { parse, TomlError } from 'smol-toml';
import { GlasspaneError } from './errors.js';

/** The file's text; ERR_CONFIG naming the file and what is wrong (missing, a folder, unreadable). */
export function readConfigText(file: string, what: string, fixForMissing: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const why =
      e.code === 'ENOENT' ? 'does not exist' : e.code === 'EISDIR' ? 'is a folder, not a file' : e.code === 'EACCES' ? 'is not readable by this user' : `cannot be read (${e.code ?? e.message})`;
    const fix = e.code === 'ENOENT' || e.code === 'EISDIR' ? fixForMissing : `check the file's permissions (ls -l ${file})`;
    throw new GlasspaneError('ERR_CONFIG', `${what} ${file} ${why}`, fix, { cause: err });
  }
}

/** Parsed TOML; a syntax error is ERR_CONFIG with FILE:LINE:COLUMN and the lines around it with a caret. */
export function parseTomlText(file: string, text: string): Record<string, unknown> {
  try {
    return parse(text) as Record<string, unknown>;
  } catch (err) {
    if (!(err instanceof TomlError)) throw err;
    const what = err.message.split('\n')[0]!.replace(/^Invalid TOML document: /, '');
    throw new GlasspaneError('ERR_CONFIG', `${file}:${err.line}:${err.column}: not valid TOML: ${what}\n${err.codeblock.trimEnd()}`, `fix the TOML syntax at line ${err.line}, column ${err.column}`, { cause: err });
  }
}

/**
 * Where the value of `path` (e.g. ['cpu', 'cores'] or ['fullscreen']) is written: 1-based line and
 * column of the value after `key =`, within its [section] when the path has one. Null when the
 * key is not written in the file (a missing key, or one set in an inline table).
 */
export function keyLocation(text: string, path: ReadonlyArray<PropertyKey>): { line: number; column: number } | null {
  const keys = path.filter((k): k is string => typeof k === 'string');
  if (keys.length === 0) return null;
  const key = keys.at(-1)!;
  const section = keys.slice(0, -1).join('.');
  const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const keyRe = new RegExp(`^(\\s*(?:"${esc(key)}"|${esc(key)})\\s*=\\s*)`);
  let current = '';
  for (const [i, line] of text.split('\n').entries()) {
    const header = /^\s*\[\[?\s*([^\]]+?)\s*\]\]?\s*(#.*)?$/.exec(line);
    if (header) {
      current = header[1]!.replace(/\s+/g, '');
      continue;
    }
    const m = keyRe.exec(line);
    if (m && current === section) return { line: i + 1, column: m[1]!.length + 1 };
  }
  return null;
}

/** "FILE:LINE:COL" for a key, or just "FILE" when it cannot be found in the text. */
export function whereIs(file: string, text: string, path: ReadonlyArray<PropertyKey>): string {
  const at = keyLocation(text, path);
  return at ? `${file}:${at.line}:${at.column}` : file;
}

/** How a TOML value looks to the user: `the string "yes"`, `the number 3`, `a table`. */
export function describeValue(v: unknown): string {
  if (typeof v === 'string') return `the string ${JSON.stringify(v)}`;
  if (typeof v === 'number' || typeof v === 'bigint') return `the number ${String(v)}`;
  if (typeof v === 'boolean') return `the boolean ${v}`;
  if (Array.isArray(v)) return 'an array';
  if (v instanceof Date) return 'a date';
  if (v && typeof v === 'object') return 'a table';
  return 'nothing';
}

/** Edit distance between two strings (insertions, deletions, substitutions; case-sensitive). */
function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[b.length]!;
}

/**
 * The candidates closest to `name` for a "did you mean" (case-insensitive edit distance, at most
 * a third of the name's length plus one; a candidate that contains the name, or is contained in
 * it, counts as close too), best first, at most `max`. Empty when nothing is close.
 */
export function closestNames(name: string, candidates: Iterable<string>, max = 3): string[] {
  const want = name.toLowerCase();
  const limit = Math.floor(want.length / 3) + 1;
  const scored: Array<[string, number]> = [];
  for (const c of new Set(candidates)) {
    const lower = c.toLowerCase();
    const d = editDistance(want, lower);
    const contains = want.length >= 3 && (lower.includes(want) || want.includes(lower));
    if (d <= limit || contains) scored.push([c, contains ? Math.min(d, limit) : d]);
  }
  return scored.sort((a, b) => a[1] - b[1] || a[0].localeCompare(b[0])).slice(0, max).map(([c]) => c);
}
