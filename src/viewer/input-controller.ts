/**
 * Capture mode and the keys: what the user's keyboard and mouse do in the viewer window. The
 * escape key (KeyRouter) toggles capture when tapped, shows the help while held and combines
 * with the keys of escape-bindings.ts; those that send keys to the guest (Ctrl+Alt+Fn, volume,
 * the Windows keys) and change the mouse sensitivity are done here, the rest go to the viewer.
 * In capture every other key, the pointer's motion (relative deltas scaled by the sensitivity,
 * or absolute positions in SPICE client mode), buttons and wheel go to the InputSink; lock keys
 * are kept in step (LockSync). Losing focus releases capture and every key.
 *
 * Knows nothing of SDL: it listens to a WindowBackend and calls back the viewer for its actions.
 */
import type { InputSink, MouseButton } from '../input/sink.js';
import { GlasspaneError } from '../errors.js';
import { keyName, unknownKeyMessage } from '../input/key-names.js';
import type { EscapeBinding } from './escape-bindings.js';
import { KeyRouter, hidForCode, type EscapeAction } from './key-router.js';
import { MouseSensitivity } from './mouse-sensitivity.js';
import { screenToGuestMotion } from './geometry.js';
import { LockSync } from './lock-sync.js';
import type { WindowBackend, WindowKey } from './window-backend.js';

const BUTTONS: Record<number, MouseButton> = { 1: 'left', 2: 'middle', 3: 'right', 4: 'side', 5: 'extra' };
/** USB HID usages of the Windows (Meta) keys. */
const WINDOWS_KEYS = new Set([0xe3, 0xe7]);

/** The escape actions the viewer does itself (the rest are done by the InputController). */
export type ViewerAction = Exclude<EscapeAction, 'toggle-capture' | 'input' | 'sens-up' | 'sens-down' | 'send-ctrl-alt' | 'send-key'>;

/**
 * What an InputController listens to and drives: the window, the input sink, the escape key, and
 * the viewer's callbacks (all called on the main thread from window events).
 */
export interface InputControllerOptions {
  backend: WindowBackend;
  sink: InputSink;
  /** Name of the escape key (default ScrollLock): a KeyboardEvent.code or KEY_* name, any case. */
  escapeKey?: string;
  /** Grab the keyboard in capture (default true; B7's input:grabKeyboard). */
  grabKeyboard?: boolean;
  /** Never send the Windows keys, except through escape+LWin/RWin (B7's input:ignoreWindowsKeys). */
  ignoreWindowsKeys?: boolean;
  /** Initial mouse sensitivity, -9..9 (default 0: raw deltas). */
  mouseSens?: number;
  /** Start with input to the guest off (B7's spice:input=no); escape+I turns it on. */
  inputOff?: boolean;
  /** Capture whenever the window gets focus (input:captureOnFocus), or the first time (spice:captureOnStart). */
  captureOnFocus?: boolean;
  captureOnStart?: boolean;
  /** Escape held this long (ms) shows the help; a shorter press is a tap (default 300). */
  helpDelayMs?: number;
  /** How far the frame is turned now (clockwise quarter turns): motion is turned back to the guest's axes. */
  quarterTurns?: () => number;
  /** The escape actions the viewer does itself (video, rotate, the microphone, …), with the combination. */
  onAction: (action: ViewerAction, binding?: EscapeBinding) => void;
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
  private inputOn: boolean;
  private relative = false;
  private warnedGrab = false;
  private startCapturePending: boolean;
  /** Capture turned on by autoCapture (so it may turn it off again). */
  private autoCaptured = false;
  readonly sensitivity: MouseSensitivity;
  private readonly router: KeyRouter;
  private readonly locks: LockSync;
  private readonly listeners: Array<[string, (...a: never[]) => void]> = [];

  constructor(private readonly o: InputControllerOptions) {
    const escape = keyName(o.escapeKey ?? 'ScrollLock');
    const escapeHid = escape === undefined ? undefined : hidForCode(escape);
    if (escapeHid === undefined) throw new GlasspaneError('ERR_CONFIG', `escape key: ${unknownKeyMessage(o.escapeKey ?? '')}`, 'name the escape key as --help shows (e.g. ScrollLock or KEY_SCROLLLOCK)');
    this.inputOn = !o.inputOff;
    this.startCapturePending = o.captureOnStart ?? false;
    this.sensitivity = new MouseSensitivity(o.mouseSens ?? 0);
    this.router = new KeyRouter(escapeHid, () => this.captureOn && this.inputOn, { onHelp: o.onHelp, holdMs: o.helpDelayMs });
    // ScrollLock is synced only when it is not the escape key (its taps toggle the host's).
    this.locks = new LockSync({ sink: o.sink, host: () => o.backend.hostLocks(), scroll: escape !== 'ScrollLock', warn: o.message });
    this.listen('blur', () => this.focusLost());
    this.listen('focus', () => {
      if (this.o.captureOnFocus || this.startCapturePending) this.setCapture(true);
      this.startCapturePending = false;
    });
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
    if (!on) this.autoCaptured = false;
    this.relative = on && !this.o.sink.absolute;
    const grabKeyboard = this.o.grabKeyboard ?? true;
    const grabbed = this.o.backend.setCapture(on, this.relative, grabKeyboard);
    if (on && grabKeyboard && !grabbed && !this.warnedGrab) {
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

  /**
   * The guest hid or showed its cursor (input:autoCapture): capture while it is hidden and the
   * window has focus, release a capture this turned on when it shows again.
   */
  guestCursorVisible(visible: boolean, focused: boolean): void {
    if (!visible && focused && !this.captureOn) {
      this.setCapture(true);
      this.autoCaptured = this.captureOn;
    } else if (visible && this.autoCaptured) {
      this.setCapture(false);
    }
  }

  private keyDown(e: WindowKey): void {
    this.locks.keyEvent(e); // fallback when SDL's lock state was unknown at capture start
    // input:ignoreWindowsKeys: the router never sees them, so neither press nor release is sent.
    if (this.o.ignoreWindowsKeys && WINDOWS_KEYS.has(e.scancode) && !this.router.escapeIsHeld) return;
    const r = this.router.keyDown(e.scancode, e.repeat);
    if (r.help !== undefined) this.o.onHelp(r.help);
    if (r.action) this.act(r.action, r.binding);
    if (r.forward) this.o.sink.keyDown(e.scancode);
  }

  private keyUp(e: WindowKey): void {
    const r = this.router.keyUp(e.scancode);
    if (r.help !== undefined) this.o.onHelp(r.help);
    if (r.action) this.act(r.action, r.binding);
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
    if (!e.motion) return;
    const g = screenToGuestMotion(e.motion.dx, e.motion.dy, this.o.quarterTurns?.() ?? 0);
    const m = this.sensitivity.scale(g.dx, g.dy);
    if (m.dx !== 0 || m.dy !== 0) this.o.sink.mouseMotion(m.dx, m.dy);
  }

  private act(a: EscapeAction, binding?: EscapeBinding): void {
    switch (a) {
      case 'toggle-capture':
        return this.setCapture(!this.captureOn);
      case 'input':
        this.inputOn = !this.inputOn;
        if (!this.inputOn) this.o.sink.releaseAll();
        this.o.message(`input to the guest ${this.inputOn ? 'on' : 'off'}`);
        return this.o.onChange();
      case 'sens-up':
      case 'sens-down':
        this.sensitivity.level += a === 'sens-up' ? 1 : -1;
        this.o.message(`mouse sensitivity ${this.sensitivity.label}`);
        return this.o.onChange();
      case 'send-ctrl-alt':
      case 'send-key':
        return this.sendKeys(a === 'send-ctrl-alt' ? ['ControlLeft', 'AltLeft', binding!.sends!] : [binding!.sends!]);
      default:
        this.o.onAction(a, binding);
    }
  }

  /** Presses `keys` in order, then releases them in the same order (as B7 does), if input is on. */
  private sendKeys(keys: string[]): void {
    if (!this.inputOn) return this.o.message('input to the guest is off (escape+I turns it on)');
    for (const k of keys) this.o.sink.keyDown(k);
    for (const k of keys) this.o.sink.keyUp(k);
  }

  /** Releases capture and stops listening. */
  close(): void {
    this.setCapture(false);
    this.locks.close();
    for (const [event, fn] of this.listeners.splice(0)) (this.o.backend.off as (e: string, f: (...a: never[]) => void) => unknown)(event, fn);
  }
}
