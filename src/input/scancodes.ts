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

/** Names people type for a key whose KeyboardEvent.code is different ("return" for Enter). */
const TYPED_NAMES: Readonly<Record<string, string>> = Object.freeze({ return: 'Enter', esc: 'Escape', del: 'Delete', ins: 'Insert', pgup: 'PageUp', pgdn: 'PageDown', win: 'MetaLeft', caps: 'CapsLock' });

/**
 * Known code names that look like `name` (for "did you mean" in error messages), closest first:
 * the same name in another case; the code a typed character or key name stands for ("a" → KeyA,
 * "1" → Digit1, "up" → ArrowUp, "return" → Enter); then names that start with it, then names
 * that contain it or that it contains, shortest first.
 */
export function similarCodes(name: string, max = 3): string[] {
  const lower = name.toLowerCase();
  const all = [...Object.keys(SET1_BY_CODE), ...Object.keys(KEY_ALIASES)];
  const known = new Set(all);
  const exact = all.filter((c) => c.toLowerCase() === lower);
  if (exact.length) return exact;
  const cap = lower.charAt(0).toUpperCase() + lower.slice(1);
  const meant = [TYPED_NAMES[lower], `Key${name.toUpperCase()}`, `Digit${name}`, `Arrow${cap}`].filter((c): c is string => c !== undefined && known.has(c));
  if (meant.length) return meant.slice(0, max);
  const starts = all.filter((c) => c.toLowerCase().startsWith(lower));
  const near = all.filter((c) => !starts.includes(c) && (c.toLowerCase().includes(lower) || lower.includes(c.toLowerCase())));
  const byLength = (a: string, b: string) => a.length - b.length;
  return [...starts.sort(byLength), ...near.sort(byLength)].slice(0, max);
}
