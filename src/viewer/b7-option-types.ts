/**
 * The shape of one Looking Glass B7 client option in glasspane's table (b7-option-table.ts), and
 * how B7 spells values: booleans as B7's `bool_parser` takes them (1/on/yes/true, any case; we
 * also name 0/off/no/false and refuse anything else instead of reading it as "no"), integers,
 * decimals and strings. Each option is either honoured — mapped onto glasspane's own settings
 * (ViewerConfig, the keys of config.toml) with B7's meaning — or refused by name with why and
 * what glasspane offers instead; some honoured options refuse a value glasspane cannot do, and
 * some refused ones take quietly the value that asks for what glasspane does anyway.
 */
import type { ViewerConfig } from './config.js';

/** B7's option sections ("modules"): the 7 of `--help`, then those B7 registers only with some modules. */
export const B7_SECTIONS = ['app', 'win', 'input', 'spice', 'audio', 'egl', 'opengl', 'eglFilter', 'wayland', 'i3', 'pipewire'] as const;
/** One of B7's option sections. */
export type B7Section = (typeof B7_SECTIONS)[number];

/** How B7 parses an option's value (custom ones have their own syntax, checked by `apply`). */
export type B7Type = 'bool' | 'int' | 'float' | 'string' | 'custom';

/** A value after B7's parsing for its type. */
export type B7Value = boolean | number | string;

/**
 * What an honoured option sets: glasspane settings, plus the SPICE address's parts, which
 * b7-config.ts puts together (host and port may come from different places, as in B7).
 */
export type B7Fragment = Partial<ViewerConfig> & { spiceEnable?: boolean; spiceHost?: string; spicePort?: number };

/** Thrown by a parser or `apply` for a value the option cannot take; the caller adds where it was written. */
export class B7ValueError extends Error {}

/** One B7 option as glasspane handles it (see the module comment). */
export interface B7Option {
  readonly section: B7Section;
  readonly name: string;
  /** B7's short flag letter (`-f` → "f"), if it has one. */
  readonly short?: string;
  readonly type: B7Type;
  /** B7's default as its --help prints it. */
  readonly b7Default: string;
  /** One of the 86 options `looking-glass-client --help` lists (else registered only with a display server, audio module or as an EGL filter preset). */
  readonly inHelp: boolean;
  /** What the option does in B7, in a few words. */
  readonly meaning: string;
  /** A value a B7 user might write (the docs' example; the table test applies it). */
  readonly example: string;
  readonly status: 'honoured' | 'refused';
  /** Honoured: the glasspane flag or config key it becomes. Refused: why glasspane does not do it. */
  readonly glasspane: string;
  /** Refused (or an honoured option's refused values): what glasspane offers instead. */
  readonly instead?: string;
  /** Honoured: the settings for a value; throws B7ValueError for a value the option cannot take. */
  readonly apply?: (v: B7Value) => B7Fragment;
  /** `app:configFile` and `app:license` act rather than set. */
  readonly action?: 'configFile' | 'license';
  /** Honoured options: values glasspane cannot do (refused with `why` and `instead`). */
  readonly refuses?: { readonly values: string; readonly when: (v: B7Value) => boolean; readonly why: string };
  /** Refused options: values that ask for what glasspane does anyway (taken quietly). */
  readonly fine?: { readonly values: string; readonly when: (v: B7Value) => boolean };
}

/** `section:name`, as B7 writes an option on its command line. */
export const optionId = (o: Pick<B7Option, 'section' | 'name'>): string => `${o.section}:${o.name}`;

/** B7's booleans (case-insensitive); anything else is refused rather than read as "no" as B7 does. */
export function parseB7Bool(text: string): boolean {
  const s = text.trim().toLowerCase();
  if (['1', 'on', 'yes', 'true'].includes(s)) return true;
  if (['0', 'off', 'no', 'false'].includes(s)) return false;
  throw new B7ValueError(`"${text}" is not a boolean: write yes or no (also on/off, true/false, 1/0)`);
}

/** A whole number (B7's atol would read "12abc" as 12 and "abc" as 0; both are refused here). */
export function parseB7Int(text: string): number {
  const s = text.trim();
  if (!/^[+-]?\d{1,9}$/.test(s)) throw new B7ValueError(`"${text}" is not a whole number`);
  return Number(s);
}

/** A decimal number. */
export function parseB7Float(text: string): number {
  const n = Number(text.trim());
  if (text.trim() === '' || !Number.isFinite(n)) throw new B7ValueError(`"${text}" is not a number`);
  return n;
}

/** The value of `text` for an option of type `t` (custom and string options get the text trimmed). */
export function parseB7Value(t: B7Type, text: string): B7Value {
  switch (t) {
    case 'bool':
      return parseB7Bool(text);
    case 'int':
      return parseB7Int(text);
    case 'float':
      return parseB7Float(text);
    default:
      return text.trim();
  }
}

/** B7's rule for `shmFile`: a bare kvmfr device name (kvmfr0) means /dev/kvmfr0; anything else is a path. */
export function regionPath(value: string): string {
  return /^kvmfr\d+$/.test(value) ? `/dev/${value}` : value;
}
