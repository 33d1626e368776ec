/**
 * What the escape key does held with another key: glasspane's own combinations and every binding
 * Looking Glass B7's client registers (client/src/keybind.c, the FPS overlay's D, the timing
 * graphs' T, the EGL renderer's N), in one table that the key router reads and the help overlay
 * lists. Keys are USB HID usages (= SDL scancodes). A B7 binding with no glasspane feature behind
 * it is listed with `unavailable`: pressing it shows that sentence instead of doing nothing.
 */

/** What an escape combination asks the viewer to do (toggle-capture is the escape key's own tap). */
export type EscapeAction =
  | 'toggle-capture'
  | 'fullscreen'
  | 'quit'
  | 'osd'
  | 'input'
  | 'screenshot'
  | 'video'
  | 'rotate'
  | 'sens-up'
  | 'sens-down'
  | 'send-ctrl-alt'
  | 'send-key'
  | 'mic-toggle'
  | 'mic-default'
  | 'unavailable';

/** One combination: the key, what it does, the help line, and (for send-key) the key sent. */
export interface EscapeBinding {
  hid: number;
  /** The key as the help names it. */
  label: string;
  action: EscapeAction;
  help: string;
  /** send-key: the KeyboardEvent.code name sent to the guest (down, then up). */
  sends?: string;
  /** unavailable: why, shown on the OSD when pressed. */
  unavailable?: string;
}

const F_KEYS: EscapeBinding[] = Array.from({ length: 12 }, (_, i) => ({ hid: 0x3a + i, label: `F${i + 1}`, action: 'send-ctrl-alt' as const, help: `send Ctrl+Alt+F${i + 1}`, sends: `F${i + 1}` }));

/** Every combination, in the order the help lists them. */
export const ESCAPE_BINDINGS: readonly EscapeBinding[] = Object.freeze([
  { hid: 0x09, label: 'F', action: 'fullscreen', help: 'fullscreen on/off' },
  { hid: 0x14, label: 'Q', action: 'quit', help: 'quit' },
  { hid: 0x07, label: 'D', action: 'osd', help: 'on-screen display on/off' },
  { hid: 0x0c, label: 'I', action: 'input', help: 'input to the guest on/off' },
  { hid: 0x16, label: 'S', action: 'screenshot', help: 'screenshot (PNG)' },
  { hid: 0x19, label: 'V', action: 'video', help: 'video on/off' },
  { hid: 0x15, label: 'R', action: 'rotate', help: 'rotate 90° clockwise' },
  { hid: 0x49, label: 'Insert', action: 'sens-up', help: 'mouse sensitivity up' },
  { hid: 0x4c, label: 'Delete', action: 'sens-down', help: 'mouse sensitivity down' },
  { hid: 0x52, label: 'Up', action: 'send-key', help: 'send volume up', sends: 'AudioVolumeUp' },
  { hid: 0x51, label: 'Down', action: 'send-key', help: 'send volume down', sends: 'AudioVolumeDown' },
  { hid: 0x10, label: 'M', action: 'send-key', help: 'send mute', sends: 'AudioVolumeMute' },
  { hid: 0xe3, label: 'LWin', action: 'send-key', help: 'send LWin', sends: 'MetaLeft' },
  { hid: 0xe7, label: 'RWin', action: 'send-key', help: 'send RWin', sends: 'MetaRight' },
  { hid: 0x08, label: 'E', action: 'mic-toggle', help: 'microphone on/off (while the guest records)' },
  { hid: 0x06, label: 'C', action: 'mic-default', help: 'microphone default: prompt, allow, deny' },
  ...F_KEYS,
  { hid: 0x12, label: 'O', action: 'unavailable', help: 'overlay mode (not available)', unavailable: 'overlay mode is not available: glasspane has no interactive overlay (B7\'s ImGui overlay); hold the escape key for the help, escape+D for the OSD' },
  { hid: 0x17, label: 'T', action: 'unavailable', help: 'frame timing graphs (not available)', unavailable: 'frame timing graphs are not available: the OSD (escape+D) shows FPS, UPS and latency, and --stats prints them' },
  { hid: 0x11, label: 'N', action: 'unavailable', help: 'night vision (not available)', unavailable: 'night vision is not available: it is a B7 EGL shader, and glasspane draws the frame as it is' },
]);

/** The binding of a key held with the escape key, or undefined. */
export function bindingFor(hid: number): EscapeBinding | undefined {
  return ESCAPE_BINDINGS.find((b) => b.hid === hid);
}
