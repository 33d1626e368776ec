/**
 * A Looking Glass B7 user's configuration, read as B7 reads it and turned into glasspane's
 * viewer settings (ViewerConfig), together with glasspane's own config.toml.
 *
 * Precedence, lowest first (docs/coming-from-looking-glass.md "Precedence"):
 *   1. glasspane's defaults;
 *   2. B7's INI files, in B7's order: /etc/looking-glass-client.ini, ~/.looking-glass-client.ini,
 *      $XDG_CONFIG_HOME/looking-glass/client.ini (each only if it is a file), then a file named by
 *      `app:configFile` inside them;
 *   3. glasspane's config.toml ($XDG_CONFIG_HOME/glasspane/config.toml, or `--config FILE.toml`):
 *      glasspane's own file says what glasspane should do, so it wins over files written for B7;
 *   4. files named on the command line: `-C FILE` / `app:configFile=FILE` / `--config FILE.ini`;
 *   5. B7 arguments: short flags and `section:option=value`, in the order given (short flags
 *      first, then the long form: commander hands them over apart);
 *   6. glasspane's own flags (`--fullscreen`, `--size`, …), applied by the command.
 * Within B7's sources a later setting of an option wins, as in B7. A bare boolean (`-F`,
 * `win:fullScreen`) flips the value the B7 sources gave the option so far, else B7's default —
 * as B7 does. (B7 itself reads the -C file after the arguments, against its own docs, which say
 * arguments win; glasspane follows the docs.)
 *
 * Unknown options and refused ones in a file are told (stderr) and skipped, as B7 skips what it
 * does not know, with the closest option names; on the command line an unknown option is a usage
 * error (ERR_USAGE), since the user is there to fix it. Bad values are errors either way
 * (ERR_CONFIG naming FILE:LINE, or ERR_USAGE naming the argument).
 */
import { existsSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { extname, join } from 'node:path';
import { GlasspaneError } from '../errors.js';
import { closestNames, readConfigText } from '../config-file.js';
import { formatSpiceAddress } from '../spice/address.js';
import { parseB7Ini } from './b7-ini.js';
import { B7_OPTIONS, b7DefaultBool } from './b7-option-table.js';
import { B7ValueError, optionId, parseB7Value, type B7Fragment, type B7Option, type B7Value } from './b7-option-types.js';
import { defaultConfigPath, loadViewerConfig, type ViewerConfig } from './config.js';

/** One B7 argument from the command line: a short flag (`-F`, `-f PATH`) or `section:option[=value]`. */
export type B7Arg = { short: string; value?: string } | { long: string };

type Layer = 'files' | 'command';

interface Setting {
  option: B7Option;
  value: B7Value;
  layer: Layer;
}

/** The B7 INI files B7 reads by itself, in its order. GLASSPANE_B7_SYSTEM_INI replaces the /etc one (tests, packagers). */
export function b7IniFiles(env: NodeJS.ProcessEnv = process.env): string[] {
  const home = env.HOME || homedir();
  const xdg = env.XDG_CONFIG_HOME || join(home, '.config');
  return [env.GLASSPANE_B7_SYSTEM_INI ?? '/etc/looking-glass-client.ini', join(home, '.looking-glass-client.ini'), join(xdg, 'looking-glass', 'client.ini')];
}

const BY_ID = new Map(B7_OPTIONS.map((o) => [optionId(o).toLowerCase(), o]));
const BY_SHORT = new Map(B7_OPTIONS.filter((o) => o.short).map((o) => [o.short!, o]));

/** The option `section:name` (case-insensitive, as B7 compares), or undefined. */
export function findB7Option(section: string, name: string): B7Option | undefined {
  return BY_ID.get(`${section}:${name}`.toLowerCase());
}

/** The option behind a short flag letter (case-sensitive: -f and -F differ), or undefined. */
export function findB7Short(letter: string): B7Option | undefined {
  return BY_SHORT.get(letter);
}

/** "unknown option win:fullScren (did you mean win:fullScreen?)". */
function unknownOption(id: string): string {
  const like = closestNames(id, B7_OPTIONS.map(optionId));
  return `unknown Looking Glass option ${id}${like.length ? ` (did you mean ${like.join(', ')}?)` : ''}`;
}

/** What reading the B7 sources gave: settings by layer, notes to print, and whether -l was asked. */
export interface B7Reading {
  settings: Setting[];
  /** Sentences for stderr: refused options (why, instead) and unknown ones in files. */
  notes: string[];
  /** `app:license` / `-l` was set: print the licence and exit. */
  license: boolean;
  /** The files read, in order. */
  files: string[];
}

/** Reads and applies B7 sources (see the module comment); `extraFiles` are `--config FILE.ini`. */
class B7Reader {
  readonly settings: Setting[] = [];
  readonly notes: string[] = [];
  readonly files: string[] = [];
  private readonly noted = new Set<string>();

  /** The option's B7 value so far (for a bare boolean to flip). */
  private current(o: B7Option): B7Value {
    for (let i = this.settings.length - 1; i >= 0; i--) if (this.settings[i]!.option === o) return this.settings[i]!.value;
    return b7DefaultBool(o);
  }

  private note(text: string): void {
    if (this.noted.has(text)) return;
    this.noted.add(text);
    this.notes.push(text);
  }

  /** Sets `o` from `text` (undefined: bare) written at `where`; `fail` turns a bad value into the right error. */
  set(o: B7Option, text: string | undefined, where: string, layer: Layer, fail: (msg: string) => GlasspaneError): void {
    let value: B7Value;
    if (text === undefined) {
      if (o.type !== 'bool') throw fail(`${optionId(o)} needs a value (e.g. ${optionId(o)}=${o.example})`);
      value = !this.current(o);
    } else {
      try {
        value = parseB7Value(o.type, text);
        if (o.status === 'honoured' && value === '') throw new B7ValueError(`needs a value (e.g. ${optionId(o)}=${o.example})`);
        if (o.apply) o.apply(value); // checks the value now, where its place is known
      } catch (err) {
        if (err instanceof B7ValueError) throw fail(`${optionId(o)}: ${err.message}`);
        throw err;
      }
    }
    if (o.status === 'refused' && !o.fine?.when(value)) this.note(`${optionId(o)} (${where}) is not supported: ${o.glasspane}; instead: ${o.instead}`);
    else if (o.refuses?.when(value)) this.note(`${optionId(o)}=${o.refuses.values} (${where}) is not supported: ${o.refuses.why}; instead: ${o.instead}`);
    this.settings.push({ option: o, value, layer });
  }

  /** Reads one INI file at `layer`. A missing standard file is skipped; a missing named one is an error. */
  readFile(file: string, layer: Layer, named: boolean): void {
    if (!named) {
      try {
        if (!statSync(file).isFile()) return; // B7 reads regular files only
      } catch {
        return;
      }
    } else if (!existsSync(file)) {
      throw new GlasspaneError('ERR_CONFIG', `the Looking Glass config file ${file} does not exist`, 'check the -C / app:configFile / --config path');
    }
    const text = readConfigText(file, 'the Looking Glass config file', 'check the -C / app:configFile / --config path');
    this.files.push(file);
    for (const e of parseB7Ini(file, text)) {
      const where = `${file}:${e.line}`;
      const o = findB7Option(e.section, e.name);
      if (!o) {
        this.note(`${unknownOption(`${e.section}:${e.name}`)} at ${where}: skipped`);
        continue;
      }
      this.set(o, e.value, where, layer, (msg) => new GlasspaneError('ERR_CONFIG', `${where}: ${msg}`, `correct it in ${file} (docs/coming-from-looking-glass.md lists every option)`));
    }
  }

  /** Applies one command-line argument. */
  applyArg(arg: B7Arg): void {
    const usage = (msg: string) => new GlasspaneError('ERR_USAGE', msg, 'docs/coming-from-looking-glass.md lists every Looking Glass option and what glasspane does with it');
    if ('short' in arg) {
      const o = findB7Short(arg.short);
      if (!o) throw usage(`-${arg.short} is not a Looking Glass option`);
      this.set(o, arg.value, `-${arg.short}`, 'command', usage);
      return;
    }
    const m = /^([^:=]+):([^=]+)(?:=(.*))?$/s.exec(arg.long);
    if (!m) throw usage(`"${arg.long}" is not a Looking Glass option: write section:option=value (e.g. win:fullScreen=yes)`);
    const o = findB7Option(m[1]!.trim(), m[2]!.trim());
    if (!o) throw usage(unknownOption(`${m[1]!.trim()}:${m[2]!.trim()}`));
    this.set(o, m[3], `argument ${arg.long}`, 'command', usage);
  }

  /** The last value set for `o` at any layer, or undefined. */
  last(o: B7Option): Setting | undefined {
    for (let i = this.settings.length - 1; i >= 0; i--) if (this.settings[i]!.option === o) return this.settings[i];
    return undefined;
  }
}

/**
 * Reads the B7 sources in order (see the module comment): the standard files, a file named by
 * `app:configFile` in them, the files named on the command line (`namedFiles`: -C and
 * `--config FILE.ini`, plus app:configFile arguments), then the arguments.
 */
export function readB7Sources(args: readonly B7Arg[], namedFiles: readonly string[] = [], env: NodeJS.ProcessEnv = process.env): B7Reading {
  const r = new B7Reader();
  for (const f of b7IniFiles(env)) r.readFile(f, 'files', false);
  const configFile = findB7Option('app', 'configFile')!;
  const fromFiles = r.last(configFile);
  if (fromFiles) r.readFile(expand(String(fromFiles.value), env), 'files', true);
  // -C and app:configFile=FILE among the arguments name files read before the arguments apply.
  const named = [...namedFiles];
  for (const a of args) {
    if ('short' in a && a.short === 'C' && a.value) named.push(a.value);
    if ('long' in a) {
      const m = /^app:configFile=(.+)$/is.exec(a.long);
      if (m) named.push(m[1]!.trim());
    }
  }
  for (const f of named) r.readFile(expand(f, env), 'command', true);
  for (const a of args) r.applyArg(a);
  const license = r.last(findB7Option('app', 'license')!)?.value === true;
  return { settings: r.settings, notes: r.notes, license, files: r.files };
}

const expand = (p: string, env: NodeJS.ProcessEnv) => (p.startsWith('~/') ? join(env.HOME || homedir(), p.slice(2)) : p);

/** The settings one layer's B7 options give (each option's last value at that layer), with the SPICE address put together. */
export function fragmentFor(reading: B7Reading, layer: Layer): Partial<ViewerConfig> {
  const last = new Map<B7Option, Setting>();
  for (const s of reading.settings) last.set(s.option, s);
  const out: B7Fragment = {};
  for (const s of last.values()) if (s.layer === layer && s.option.apply && !s.option.action) Object.assign(out, s.option.apply(s.value));
  const { spiceEnable: _enable, spiceHost: _host, spicePort: _port, ...settings } = out;
  // The address is one setting made of three B7 options: it belongs to the highest layer that set any.
  const spiceParts = [...last.values()].filter((s) => s.option.section === 'spice' && ['enable', 'host', 'port'].includes(s.option.name));
  const spiceLayer = spiceParts.some((s) => s.layer === 'command') ? 'command' : spiceParts.length ? 'files' : null;
  if (spiceLayer === layer) {
    const get = (name: string) => spiceParts.find((s) => s.option.name === name)?.value;
    const enable = get('enable') ?? true;
    const host = String(get('host') ?? '127.0.0.1');
    const port = Number(get('port') ?? 5900);
    settings.spice = enable === false ? '' : port === 0 || host.startsWith('/') ? `unix:${host}` : formatSpiceAddress({ kind: 'tcp', host, port });
  }
  return settings;
}

/** Whether `--config FILE` names a B7 INI file rather than glasspane TOML: by its extension, else by its first section. */
export function isB7IniFile(file: string, text: string): boolean {
  const ext = extname(file).toLowerCase();
  if (ext === '.ini') return true;
  if (ext === '.toml') return false;
  const first = /^\s*\[([^\]\n]*)\]/m.exec(text)?.[1]?.trim().toLowerCase();
  return first !== undefined && B7_OPTIONS.some((o) => o.section.toLowerCase() === first);
}

/** What resolveViewerSettings() gives the command: the merged settings and what to tell the user. */
export interface ResolvedSettings {
  settings: ViewerConfig;
  notes: string[];
  license: boolean;
  /** Every file that was read, in order (B7 INI files and config.toml). */
  files: string[];
}

/**
 * glasspane's viewer settings from every file and B7 argument, in the precedence of the module
 * comment (glasspane's own flags, the top layer, are the command's to apply). `config` is
 * `--config FILE` (TOML, or a B7 INI file by extension or content).
 */
export function resolveViewerSettings(o: { config?: string; b7Args?: readonly B7Arg[]; env?: NodeJS.ProcessEnv }): ResolvedSettings {
  const env = o.env ?? process.env;
  let toml: ViewerConfig = {};
  const named: string[] = [];
  const files: string[] = [];
  if (o.config && existsSync(o.config) && isB7IniFile(o.config, readConfigText(o.config, 'the config file', 'check the --config path'))) {
    named.push(o.config);
  } else if (o.config) {
    toml = loadViewerConfig(o.config, env);
    files.push(o.config);
  } else {
    toml = loadViewerConfig(undefined, env);
    if (existsSync(defaultConfigPath(env))) files.push(defaultConfigPath(env));
  }
  const reading = readB7Sources(o.b7Args ?? [], named, env);
  const settings = { ...fragmentFor(reading, 'files'), ...toml, ...fragmentFor(reading, 'command') } as ViewerConfig;
  return { settings, notes: reading.notes, license: reading.license, files: [...reading.files, ...files] };
}
