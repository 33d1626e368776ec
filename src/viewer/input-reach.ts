/**
 * Saying where the user's keyboard and mouse go when the input target is down: SPICE unreachable
 * or still connecting means capture grabs everything and delivers nothing, which looked exactly
 * like working capture. The OSD's input line, the window title, the audio line and a message at
 * capture time say so instead. Pure text; the viewer decides when to show it.
 */

/** The OSD's "input: …" text: `off` (escape+I), the target's state, or "nowhere" and why. */
export function inputLine(name: string, enabled: boolean, reachable: boolean): string {
  if (!enabled) return 'off';
  return reachable ? name : `NOWHERE (${name})`;
}

/** What the title adds while input has nowhere to go (printable ASCII, see window-title.ts); "" otherwise. */
export function titleNote(enabled: boolean, reachable: boolean): string {
  return enabled && !reachable ? ' [input not connected]' : '';
}

/** The OSD audio line while SPICE (which carries the sound) is down, instead of a misleading "audio idle". */
export const AUDIO_WITHOUT_SPICE = 'audio: no SPICE connection';

/** Said once each time capture turns on while input has nowhere to go. */
export function captureWithoutInput(name: string): string {
  return `capture is on, but keyboard and mouse go nowhere: ${name}`;
}
