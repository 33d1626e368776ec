/**
 * Key names as users write them, to one canonical KeyboardEvent.code name: glasspane's own names
 * ("ScrollLock", "ControlRight"), Looking Glass B7's Linux input-event names ("KEY_SCROLLLOCK",
 * "KEY_RIGHTCTRL"), B7's bare Linux keycodes ("70"), and the chord aliases (Ctrl, Alt, …); all
 * case-insensitive, as B7 compares them (strcasecmp). An unknown name gets the closest known ones
 * for a "did you mean". Only keys with a set-1 scancode are known: the viewer must be able to
 * watch them and send them to the guest.
 */
import { closestNames } from '../config-file.js';
import { LINUX_KEYS } from './linux-key-table.js';
import { KEY_ALIASES, SET1_BY_CODE, SET1_BY_HID } from './scancodes.js';

/** Lower-cased name → canonical KeyboardEvent.code name, for every spelling accepted. */
const BY_LOWER = new Map<string, string>();
for (const code of Object.keys(SET1_BY_CODE)) BY_LOWER.set(code.toLowerCase(), code);
for (const [alias, code] of Object.entries(KEY_ALIASES)) BY_LOWER.set(alias.toLowerCase(), code);
for (const [name, , code] of LINUX_KEYS) BY_LOWER.set(name.toLowerCase(), code);
const BY_LINUX_CODE = new Map(LINUX_KEYS.map(([, n, code]) => [n, code] as const));

/** Every name keyName() accepts, as written in the tables (for suggestions and lists). */
export const KNOWN_KEY_NAMES: readonly string[] = Object.freeze([...Object.keys(SET1_BY_CODE), ...Object.keys(KEY_ALIASES), ...LINUX_KEYS.map(([n]) => n)]);

/**
 * The KeyboardEvent.code name for `name` (any spelling in the module comment, any case, a Linux
 * keycode in decimal), or undefined when it names no key glasspane can watch and send.
 */
export function keyName(name: string): string | undefined {
  const s = name.trim();
  if (/^\d{1,4}$/.test(s)) return BY_LINUX_CODE.get(Number(s));
  return BY_LOWER.get(s.toLowerCase());
}

/** Known key names close to `name`, best first (KEY_* suggestions for KEY_* input, else code names). */
export function similarKeyNames(name: string, max = 3): string[] {
  const linux = /^key_/i.test(name.trim());
  const pool = KNOWN_KEY_NAMES.filter((n) => n.startsWith('KEY_') === linux);
  return closestNames(name.trim(), pool, max);
}

/** The sentence for an unknown key name: what was given, the closest known names, and what is accepted. */
export function unknownKeyMessage(name: string): string {
  const like = similarKeyNames(name);
  return `unknown key "${name}"${like.length ? ` (did you mean ${like.join(', ')}?)` : ''}; use a KeyboardEvent.code name such as ScrollLock, Pause or ControlRight, or a Linux name such as KEY_SCROLLLOCK`;
}

/** The USB HID usage (= SDL scancode) of a key named any way keyName() accepts; undefined when unknown. */
export function hidForCode(name: string): number | undefined {
  const code = keyName(name);
  if (code === undefined) return undefined;
  const set1 = SET1_BY_CODE[code];
  for (const [hid, s] of SET1_BY_HID) if (s === set1) return hid;
  return undefined;
}
