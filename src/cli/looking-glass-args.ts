/**
 * Looking Glass B7's command line on glasspane's window commands (`view`, `demo`): its 22 short
 * flags (`-f PATH`, `-F`, `-C FILE`, …, hidden from --help's option list, named in its text) and
 * `section:option[=value]` arguments, handed to the viewer's B7 reader
 * (src/viewer/b7-config.ts) in the order given; the licence (`-l`); and the default region.
 * docs/coming-from-looking-glass.md is the user's side of this.
 */
import { Option, type Command } from 'commander';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { B7_OPTIONS } from '../viewer/b7-option-table.js';
import { optionId } from '../viewer/b7-option-types.js';
import type { B7Arg } from '../viewer/b7-config.js';
import { resolveViewerSettings, type ResolvedSettings } from '../viewer/b7-config.js';

/** The --help paragraph on the B7 options (every window command shows it). */
export const LOOKING_GLASS_HELP = `
Looking Glass B7 options work too: its INI files (/etc/looking-glass-client.ini,
~/.looking-glass-client.ini, ~/.config/looking-glass/client.ini, -C FILE), its short flags
(${B7_OPTIONS.filter((o) => o.short).map((o) => `-${o.short}`).join(' ')}) and section:option=value
arguments, e.g. win:fullScreen=yes. Each is honoured or refused by name with what to use instead;
docs/coming-from-looking-glass.md lists all of them and the precedence.`;

/**
 * Adds the B7 short flags (hidden) and the `[looking-glass-options...]` argument to `cmd`; the
 * returned list receives the short flags in the order commander meets them.
 */
export function addLookingGlassArgs(cmd: Command): B7Arg[] {
  const shorts: B7Arg[] = [];
  for (const o of B7_OPTIONS) {
    if (!o.short) continue;
    const letter = o.short;
    const flag = o.type === 'bool' ? `-${letter}` : `-${letter} <value>`;
    cmd.addOption(
      new Option(flag, `Looking Glass ${optionId(o)}`).hideHelp().argParser((value: string | undefined) => {
        shorts.push(value === undefined ? { short: letter } : { short: letter, value });
        return value ?? true;
      }),
    );
  }
  cmd.argument('[looking-glass-options...]', 'Looking Glass B7 options as section:option=value (e.g. win:fullScreen=yes)');
  return shorts;
}

/**
 * Reads every config source for a window command (see b7-config.ts) with the B7 arguments given:
 * prints the notes (refused and unknown options) on stderr, and for `-l` prints the licence and
 * returns null (the command then ends with status 0). Throws what the reader throws (ERR_CONFIG,
 * ERR_USAGE).
 */
export function readWindowSettings(config: string | undefined, shorts: readonly B7Arg[], longs: readonly string[], err: (line: string) => void = (l) => process.stderr.write(`${l}\n`)): ResolvedSettings | null {
  const r = resolveViewerSettings({ config, b7Args: [...shorts, ...longs.map((long) => ({ long }))] });
  for (const n of r.notes) err(`glasspane: ${n}`);
  if (r.license) {
    process.stdout.write(licenceText());
    return null;
  }
  return r;
}

/** B7's default region: /dev/kvmfr0 when that device exists, else /dev/shm/looking-glass. */
export function defaultRegion(exists: (p: string) => boolean = existsSync): string {
  return exists('/dev/kvmfr0') ? '/dev/kvmfr0' : '/dev/shm/looking-glass';
}

/** glasspane's LICENSE, found above this module (in the source tree and in dist/ alike). */
function licenceText(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++, dir = dirname(dir)) {
    const f = join(dir, 'LICENSE');
    if (existsSync(f) && existsSync(join(dir, 'package.json'))) return readFileSync(f, 'utf8');
  }
  return 'glasspane is MIT licensed (see LICENSE in its package).\n';
}
