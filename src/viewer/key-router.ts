/**
 * Keyboard routing for the viewer, as in Looking Glass: the escape key (ScrollLock by default)
 * tapped alone toggles capture; held, it shows the help overlay and combines with the keys of
 * escape-bindings.ts (B7's bindings and glasspane's own). In capture every other key goes to the
 * guest; a key's release is forwarded only if its press was, so the guest never sees stray ups.
 *
 * Tap or hold: a release within `holdMs` (300 ms) of the press, with no combination key between,
 * is a tap. A longer press is a hold: it shows the help once `holdMs` has passed (so a tap never
 * flashes the overlay) and its release does nothing, so reading the help never toggles capture.
 * Pure state plus one timer: the viewer feeds it SDL scancodes (= USB HID usages) and acts on the
 * result; the help overlay is switched through `onHelp`.
 */

import { bindingFor, type EscapeAction, type EscapeBinding } from './escape-bindings.js';

export type { EscapeAction } from './escape-bindings.js';

export { hidForCode } from '../input/key-names.js';

/**
 * What the viewer does with one key event: an action, whether to forward the key to the guest, and
 * whether to hide the help overlay now.
 */
export interface KeyResult {
  action?: EscapeAction;
  /** The combination that asked for `action` (what to send, what to say), when it was one. */
  binding?: EscapeBinding;
  /** Forward this key event to the guest. */
  forward: boolean;
  /** The help overlay should be hidden now (the escape key went up after a hold). */
  help?: boolean;
}

/** Timing and callbacks of a KeyRouter; tests replace the clock and the timer. */
export interface KeyRouterOptions {
  /** A press longer than this is a hold, not a tap (ms; default 300). */
  holdMs?: number;
  /** Clock in ms (default performance.now). */
  now?: () => number;
  /** Runs `fn` after `ms`; returns a cancel function (default setTimeout). */
  schedule?: (fn: () => void, ms: number) => () => void;
  /** The help overlay should be shown (escape held past holdMs) or hidden. */
  onHelp?: (on: boolean) => void;
}

const defaultSchedule = (fn: () => void, ms: number) => {
  const t = setTimeout(fn, ms);
  return () => clearTimeout(t);
};

/**
 * The escape key state machine above. Constructed with the escape key's HID usage, a function
 * saying whether keys go to the guest now (capture on and input enabled), and options. Single
 * threaded; never throws. Takes SDL scancodes (= USB HID usages), trusted to be numbers.
 */
export class KeyRouter {
  private escapeHeld = false;
  private comboUsed = false;
  private escapeDownAt = 0;
  private helpShown = false;
  private cancelHelp: (() => void) | null = null;
  private readonly forwarded = new Set<number>();
  private readonly holdMs: number;
  private readonly now: () => number;
  private readonly schedule: (fn: () => void, ms: number) => () => void;

  constructor(
    readonly escapeHid: number,
    private readonly shouldForward: () => boolean,
    private readonly options: KeyRouterOptions = {},
  ) {
    this.holdMs = options.holdMs ?? 300;
    this.now = options.now ?? (() => performance.now());
    this.schedule = options.schedule ?? defaultSchedule;
  }

  /** A key went down (`repeat`: host autorepeat). Escape presses and combinations are never forwarded. */
  keyDown(hid: number, repeat: boolean): KeyResult {
    if (hid === this.escapeHid) {
      if (repeat || this.escapeHeld) return { forward: false };
      this.escapeHeld = true;
      this.comboUsed = false;
      this.escapeDownAt = this.now();
      this.cancelHelp = this.schedule(() => {
        this.cancelHelp = null;
        if (this.escapeHeld) this.showHelp(true);
      }, this.holdMs);
      return { forward: false };
    }
    if (this.escapeHeld) {
      this.comboUsed = true;
      this.stopHelpTimer(); // a combination typed at once needs no help: no overlay flash
      if (repeat) return { forward: false };
      const binding = bindingFor(hid);
      return binding ? { action: binding.action, binding, forward: false } : { forward: false };
    }
    if (!this.shouldForward()) return { forward: false };
    this.forwarded.add(hid);
    return { forward: true };
  }

  /**
   * A key went up: forwarded only when its press was; the escape key's release may toggle capture
   * (a tap) or hide the help.
   */
  keyUp(hid: number): KeyResult {
    if (hid === this.escapeHid) {
      const tapped = this.escapeHeld && !this.comboUsed && this.now() - this.escapeDownAt < this.holdMs;
      this.escapeHeld = false;
      this.stopHelpTimer();
      const wasShown = this.helpShown;
      this.helpShown = false;
      return { action: tapped ? 'toggle-capture' : undefined, forward: false, help: wasShown ? false : undefined };
    }
    return { forward: this.forwarded.delete(hid) };
  }

  /** Focus lost or capture released: forget held keys (the sink releases them in the guest). */
  reset(): void {
    this.forwarded.clear();
    this.escapeHeld = false;
    this.comboUsed = false;
    this.stopHelpTimer();
    if (this.helpShown) this.showHelp(false);
  }

  /** True while the escape key is down. */
  get escapeIsHeld(): boolean {
    return this.escapeHeld;
  }

  private showHelp(on: boolean): void {
    this.helpShown = on;
    this.options.onHelp?.(on);
  }

  private stopHelpTimer(): void {
    this.cancelHelp?.();
    this.cancelHelp = null;
  }
}
