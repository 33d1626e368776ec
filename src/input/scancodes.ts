/**
 * Physical key → PC set-1 scancode, for the SPICE inputs channel: lookups by KeyboardEvent.code
 * name (or a short alias such as Ctrl) and by USB HID usage (= SDL scancode) over the table in
 * keymap-table.ts (derived from keycodemapdb; its notice is there). Scancodes are 0xNN, or 0xe0NN
 * for keys sent with the E0 prefix.
 */
import { SET1_BY_CODE, SET1_BY_HID } from './keymap-table.js';

export { SET1_BY_CODE, SET1_BY_HID } from './keymap-table.js';

/** Short names accepted for chords such as Control+Alt+Delete (the left-hand key is meant). */
export const KEY_ALIASES: Readonly<Record<string, string>> = Object.freeze({
  Control: 'ControlLeft',
  Ctrl: 'ControlLeft',
  Alt: 'AltLeft',
  Shift: 'ShiftLeft',
  Meta: 'MetaLeft',
  Super: 'MetaLeft',
  AltGr: 'AltRight',
});

/** set-1 scancode for a KeyboardEvent.code name (or alias); undefined when unknown. */
export function scancodeForCode(code: string): number | undefined {
  const name = KEY_ALIASES[code] ?? code;
  return Object.prototype.hasOwnProperty.call(SET1_BY_CODE, name) ? SET1_BY_CODE[name] : undefined;
}

/** set-1 scancode for a USB HID usage / SDL scancode; undefined when unknown. */
export function scancodeForHid(usage: number): number | undefined {
  return SET1_BY_HID.get(usage);
}

/** set-1 scancode for a physical key given as a KeyboardEvent.code name or a HID usage (= SDL scancode). */
export function scancodeForKey(key: string | number): number | undefined {
  return typeof key === 'number' ? scancodeForHid(key) : scancodeForCode(key);
}

/** Known code names that look like `name` (for "did you mean" in error messages). */
export function similarCodes(name: string, max = 3): string[] {
  const lower = name.toLowerCase();
  const all = [...Object.keys(SET1_BY_CODE), ...Object.keys(KEY_ALIASES)];
  const exact = all.filter((c) => c.toLowerCase() === lower);
  if (exact.length) return exact;
  return all.filter((c) => c.toLowerCase().includes(lower) || lower.includes(c.toLowerCase())).slice(0, max);
}
