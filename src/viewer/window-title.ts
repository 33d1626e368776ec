/**
 * The viewer's window title. Kept to printable ASCII: the SDL build the viewer runs on sets only
 * WM_NAME, which X11 window managers read as Latin-1 (so "—" showed as "glasspane â"), and
 * never _NET_WM_NAME. Part of it comes from the guest (producer version, OS name), so it is also
 * stripped of control characters and capped in length.
 */
const MAX_TITLE = 160;

/** `text` in printable ASCII: accents dropped (é → e), dashes and quotes plain, anything else "?". */
export function asciiOnly(text: string): string {
  return text
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .replace(/[\u2010-\u2015\u2212]/g, '-')
    .replace(/[\u2018\u2019]/g, "'")
    .replace(/[\u201c\u201d]/g, '"')
    .replace(/\u2026/g, '...')
    .replace(/[^\x20-\x7e]/g, '?');
}

/** What the window title is made of. `title` may come from the guest: windowTitle() cleans it. */
export interface TitleParts {
  /** --title, or what the guest says it is ("looking-glass-host B7 on Windows 11"). */
  title: string;
  capture: boolean;
  /** KeyboardEvent.code name of the escape key, shown while captured. */
  escapeKey: string;
}

/**
 * "glasspane - TITLE (capture: KEY releases)": printable ASCII only, the title cut at 160
 * characters, so guest text cannot put control characters or a megabyte into the window manager.
 */
export function windowTitle(p: TitleParts): string {
  const title = asciiOnly(p.title).slice(0, MAX_TITLE);
  return `glasspane${title ? ` - ${title}` : ''}${p.capture ? ` (capture: ${asciiOnly(p.escapeKey)} releases)` : ''}`;
}
