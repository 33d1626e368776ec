/**
 * Keyboard routing for the viewer, as in Looking Glass: the escape key (ScrollLock by default)
 * tapped alone toggles capture; held, it shows the help overlay and combines with F (fullscreen),
 * Q (quit), D (OSD), I (input on/off) and S (screenshot). In capture every other key goes to the
 * guest; a key's release is forwarded only if its press was, so the guest never sees stray ups.
 * Pure state: the viewer feeds it SDL scancodes (= USB HID usages) and acts on the result.
 */
import { SET1_BY_CODE, SET1_BY_HID } from '../input/scancodes.js';

export type EscapeAction = 'toggle-capture' | 'fullscreen' | 'quit' | 'osd' | 'input' | 'screenshot';

/** USB HID usages of the combination keys. */
const HID = { F: 0x09, Q: 0x14, D: 0x07, I: 0x0c, S: 0x16 } as const;
const COMBOS: ReadonlyMap<number, EscapeAction> = new Map([
  [HID.F, 'fullscreen'],
  [HID.Q, 'quit'],
  [HID.D, 'osd'],
  [HID.I, 'input'],
  [HID.S, 'screenshot'],
]);

/** KeyboardEvent.code name → USB HID usage, via the set-1 table both sides share. */
export function hidForCode(code: string): number | undefined {
  const set1 = SET1_BY_CODE[code];
  if (set1 === undefined) return undefined;
  for (const [hid, s] of SET1_BY_HID) if (s === set1) return hid;
  return undefined;
}

export interface KeyResult {
  action?: EscapeAction;
  /** Forward this key event to the guest. */
  forward: boolean;
  /** The help overlay should be shown (escape held) or hidden. */
  help?: boolean;
}

export class KeyRouter {
  private escapeHeld = false;
  private comboUsed = false;
  private readonly forwarded = new Set<number>();

  constructor(
    readonly escapeHid: number,
    private readonly shouldForward: () => boolean,
  ) {}

  keyDown(hid: number, repeat: boolean): KeyResult {
    if (hid === this.escapeHid) {
      if (repeat) return { forward: false };
      this.escapeHeld = true;
      this.comboUsed = false;
      return { forward: false, help: true };
    }
    if (this.escapeHeld) {
      this.comboUsed = true;
      if (repeat) return { forward: false };
      return { action: COMBOS.get(hid), forward: false };
    }
    if (!this.shouldForward()) return { forward: false };
    this.forwarded.add(hid);
    return { forward: true };
  }

  keyUp(hid: number): KeyResult {
    if (hid === this.escapeHid) {
      const tapped = this.escapeHeld && !this.comboUsed;
      this.escapeHeld = false;
      return { action: tapped ? 'toggle-capture' : undefined, forward: false, help: false };
    }
    return { forward: this.forwarded.delete(hid) };
  }

  /** Focus lost or capture released: forget held keys (the sink releases them in the guest). */
  reset(): void {
    this.forwarded.clear();
    this.escapeHeld = false;
    this.comboUsed = false;
  }

  get escapeIsHeld(): boolean {
    return this.escapeHeld;
  }
}
