/**
 * Capture mode and the keys: what the user's keyboard and mouse do in the viewer window. The
 * escape key (KeyRouter) toggles capture when tapped, shows the help while held and combines
 * with F/Q/D/I/S for the viewer's own actions; in capture every other key, the pointer's motion
 * (relative deltas, or absolute positions in SPICE client mode), buttons and wheel go to the
 * InputSink; lock keys are kept in step (LockSync). Losing focus releases capture and every key.
 *
 * Knows nothing of SDL: it listens to a WindowBackend and calls back the viewer for its actions.
 */
import type { InputSink, MouseButton } from '../input/sink.js';
import { GlasspaneError } from '../errors.js';
import { KeyRouter, hidForCode, type EscapeAction } from './key-router.js';
import { LockSync } from './lock-sync.js';
import type { WindowBackend, WindowKey } from './window-backend.js';

const BUTTONS: Record<number, MouseButton> = { 1: 'left', 2: 'middle', 3: 'right', 4: 'side', 5: 'extra' };

/**
 * What an InputController listens to and drives: the window, the input sink, the escape key, and
 * the viewer's callbacks (all called on the main thread from window events).
 */
export interface InputControllerOptions {
  backend: WindowBackend;
  sink: InputSink;
  /** KeyboardEvent.code name of the escape key (default ScrollLock). */
  escapeKey?: string;
  /** The viewer's escape actions other than capture and input (fullscreen, quit, osd, screenshot). */
  onAction: (action: Exclude<EscapeAction, 'toggle-capture' | 'input'>) => void;
  onHelp: (on: boolean) => void;
  /** Capture or input-enabled changed (title, OSD). */
  onChange: () => void;
  message: (text: string) => void;
  /** A window position as a guest surface position, for SPICE client mouse mode; null without a frame. */
  toGuest: (x: number, y: number) => { x: number; y: number; width: number; height: number } | null;
}

/**
 * Capture mode and key routing for one viewer (see the module comment). Main thread only. The
 * constructor starts listening to the backend's events; close() stops. Throws GlasspaneError
 * ERR_CONFIG when the escape key is not a KeyboardEvent.code name glasspane knows. Nothing it does
 * afterwards throws: the sink swallows what cannot be delivered.
 */
export class InputController {
  private captureOn = false;
  private inputOn = true;
  private relative = false;
  private warnedGrab = false;
  private readonly router: KeyRouter;
  private readonly locks: LockSync;
  private readonly listeners: Array<[string, (...a: never[]) => void]> = [];

  constructor(private readonly o: InputControllerOptions) {
    const escape = o.escapeKey ?? 'ScrollLock';
    const escapeHid = hidForCode(escape);
    if (escapeHid === undefined) {
      throw new GlasspaneError('ERR_CONFIG', `unknown escape key "${escape}"`, 'use a KeyboardEvent.code name such as ScrollLock, Pause or ControlRight');
    }
    this.router = new KeyRouter(escapeHid, () => this.captureOn && this.inputOn, { onHelp: o.onHelp });
    // ScrollLock is synced only when it is not the escape key (its taps toggle the host's).
    this.locks = new LockSync({ sink: o.sink, host: () => o.backend.hostLocks(), scroll: escape !== 'ScrollLock', warn: o.message });
    this.listen('blur', () => this.focusLost());
    this.listen('keyDown', (e: WindowKey) => this.keyDown(e));
    this.listen('keyUp', (e: WindowKey) => this.keyUp(e));
    this.listen('mouseMove', (e: { x: number; y: number; motion: { dx: number; dy: number } | null }) => this.mouseMove(e));
    this.listen('mouseButton', (e: { button: number; down: boolean }) => {
      const b = BUTTONS[e.button];
      if (this.forwarding && b) this.o.sink.mouseButton(b, e.down);
    });
    this.listen('mouseWheel', (notches: number) => {
      if (this.forwarding && notches !== 0) this.o.sink.mouseWheel(notches);
    });
  }

  private listen(event: string, fn: (...a: never[]) => void): void {
    (this.o.backend.on as (e: string, f: (...a: never[]) => void) => unknown)(event, fn);
    this.listeners.push([event, fn]);
  }

  /** True while capture mode is on (keyboard and mouse go to the guest). */
  get capture(): boolean {
    return this.captureOn;
  }

  /** False after escape+I turned input to the guest off (capture then grabs but forwards nothing). */
  get inputEnabled(): boolean {
    return this.inputOn;
  }

  private get forwarding(): boolean {
    return this.captureOn && this.inputOn;
  }

  /**
   * Turns capture on or off (no-op when unchanged or the window is gone). On: grabs keyboard and
   * pointer (relative motion unless the sink takes absolute positions) and syncs the lock keys;
   * off:
   * gives them back and releases every key and button held in the guest.
   */
  setCapture(on: boolean): void {
    if (this.captureOn === on || this.o.backend.destroyed) return;
    this.captureOn = on;
    this.relative = on && !this.o.sink.absolute;
    const grabbed = this.o.backend.setCapture(on, this.relative);
    if (on && !grabbed && !this.warnedGrab) {
      this.warnedGrab = true;
      this.o.message('keyboard not grabbed: desktop shortcuts (Alt+Tab, Super) still go to the desktop');
    }
    if (!on) {
      this.o.sink.releaseAll();
      this.router.reset();
    }
    this.locks.setCapture(on);
    this.o.onChange();
  }

  /** Focus loss: nothing may stay pressed in the guest, and the mouse is the user's again. */
  private focusLost(): void {
    this.setCapture(false);
    this.o.sink.releaseAll();
    this.router.reset();
  }

  private keyDown(e: WindowKey): void {
    this.locks.keyEvent(e); // fallback when SDL's lock state was unknown at capture start
    const r = this.router.keyDown(e.scancode, e.repeat);
    if (r.help !== undefined) this.o.onHelp(r.help);
    if (r.action) this.act(r.action);
    if (r.forward) this.o.sink.keyDown(e.scancode);
  }

  private keyUp(e: WindowKey): void {
    const r = this.router.keyUp(e.scancode);
    if (r.help !== undefined) this.o.onHelp(r.help);
    if (r.action) this.act(r.action);
    if (r.forward) this.o.sink.keyUp(e.scancode);
  }

  private mouseMove(e: { x: number; y: number; motion: { dx: number; dy: number } | null }): void {
    // The SPICE mouse mode can change under us (the guest agent starts): follow it.
    if (this.captureOn && this.relative !== !this.o.sink.absolute) {
      this.relative = !this.o.sink.absolute;
      this.o.backend.setCapture(true, this.relative);
    }
    if (!this.forwarding) return;
    if (this.o.sink.absolute) {
      const p = this.o.toGuest(e.x, e.y);
      if (p) this.o.sink.mousePosition(p.x, p.y, p.width, p.height);
      return;
    }
    if (e.motion) this.o.sink.mouseMotion(e.motion.dx, e.motion.dy);
  }

  private act(a: EscapeAction): void {
    if (a === 'toggle-capture') this.setCapture(!this.captureOn);
    else if (a === 'input') {
      this.inputOn = !this.inputOn;
      if (!this.inputOn) this.o.sink.releaseAll();
      this.o.message(`input to the guest ${this.inputOn ? 'on' : 'off'}`);
      this.o.onChange();
    } else this.o.onAction(a);
  }

  /** Releases capture and stops listening. */
  close(): void {
    this.setCapture(false);
    this.locks.close();
    for (const [event, fn] of this.listeners.splice(0)) (this.o.backend.off as (e: string, f: (...a: never[]) => void) => unknown)(event, fn);
  }
}
