/**
 * InputSink over a SpiceClient: key names / HID usages become set-1 scancodes
 * (src/input/scancodes.ts), buttons become SPICE button ids. The input layer defines the sink and
 * SPICE implements it here, so the arrow points down. Input while the client is not connected is
 * dropped (not queued: replaying stale keystrokes after a reconnect would be worse than losing them).
 */
import { parseSpiceAddress } from './address.js';
import { SpiceClient, type SpiceStatus } from './client.js';
import type { ClipboardHandlers } from './agent.js';
import type { AudioHandlers } from './audio-channels.js';
import { readSpicePassword } from './password.js';
import { Leds, SpiceButton } from './protocol.js';
import { scancodeForKey } from '../input/scancodes.js';
import type { InputSink, KeyId, LockState, MouseButton } from '../input/sink.js';

const BUTTON_IDS: Record<MouseButton, number> = {
  left: SpiceButton.LEFT,
  middle: SpiceButton.MIDDLE,
  right: SpiceButton.RIGHT,
  side: SpiceButton.SIDE,
  extra: SpiceButton.EXTRA,
};

/** What SpiceInputSink.open() needs: the --spice address and password source, and the optional channels to wire up. */
export interface OpenSpiceSinkOptions {
  /** HOST:PORT or unix:/path (the --spice value). */
  spice: string;
  /** --spice-password-file; else $GLASSPANE_SPICE_PASSWORD; else empty. */
  passwordFile?: string;
  env?: NodeJS.ProcessEnv;
  mouseMode?: 'server' | 'client';
  /** Clipboard text through the guest agent (see ClipboardBridge); off when not given. */
  clipboard?: ClipboardHandlers;
  /** Guest audio (see AudioBridge); off when not given. */
  audio?: AudioHandlers;
  /** Every state change, for the OSD (see describeSpiceStatus()). */
  onState?: (s: SpiceStatus) => void;
}

/**
 * The viewer's InputSink when it has --spice: keys, buttons, motion and positions go to the SPICE
 * inputs channel of `client` (which it owns: close() closes it); the guest's lock LEDs come back
 * through onGuestLocks().
 */
export class SpiceInputSink implements InputSink {
  readonly client: SpiceClient;

  /**
   * What `view --spice` needs: parses the address and reads the password (both throw a
   * SpiceError for the CLI to print), then keeps the client connected in the background
   * (reconnecting with backoff). Input before the first link is dropped.
   */
  static open(opts: OpenSpiceSinkOptions): SpiceInputSink {
    let sink: SpiceInputSink | undefined;
    const client = new SpiceClient({
      address: parseSpiceAddress(opts.spice),
      password: readSpicePassword(opts.passwordFile, opts.env),
      mouseMode: opts.mouseMode,
      clipboard: opts.clipboard,
      audio: opts.audio,
      onState: (s) => {
        opts.onState?.(s);
        sink?.guestLeds(s.leds);
      },
    });
    sink = new SpiceInputSink(client);
    client.start();
    return sink;
  }

  private locksListener?: (locks: Required<LockState>) => void;
  private lastLeds?: number;

  constructor(client: SpiceClient) {
    this.client = client;
  }

  onGuestLocks(listener: (locks: Required<LockState>) => void): void {
    this.locksListener = listener;
  }

  /** The client's state changed: pass a new guest LED report on (a SpiceClient made elsewhere can call it too). */
  guestLeds(leds: number | undefined): void {
    if (leds === undefined || leds === this.lastLeds) return;
    this.lastLeds = leds;
    this.locksListener?.({ capsLock: (leds & Leds.CAPS) !== 0, numLock: (leds & Leds.NUM) !== 0, scrollLock: (leds & Leds.SCROLL) !== 0 });
  }

  get absolute(): boolean {
    return this.client.state.mouseMode === 'client';
  }

  keyDown(key: KeyId): boolean {
    return this.key(key, true);
  }

  keyUp(key: KeyId): boolean {
    return this.key(key, false);
  }

  mouseMotion(dx: number, dy: number): void {
    this.client.inputs?.motion(dx, dy);
  }

  mousePosition(x: number, y: number, width: number, height: number): void {
    this.client.inputs?.position(x, y, width, height);
  }

  mouseButton(button: MouseButton, down: boolean): void {
    const id = BUTTON_IDS[button];
    if (id !== undefined) this.client.inputs?.button(id, down);
  }

  mouseWheel(notches: number): void {
    this.client.inputs?.wheel(notches);
  }

  syncLocks(locks: LockState): void {
    const leds = (locks.capsLock ? Leds.CAPS : 0) | (locks.numLock ? Leds.NUM : 0) | (locks.scrollLock ? Leds.SCROLL : 0);
    const mask = Leds.CAPS | Leds.NUM | (locks.scrollLock === undefined ? 0 : Leds.SCROLL);
    this.client.inputs?.syncLocks(leds, mask);
  }

  releaseAll(): void {
    this.client.inputs?.releaseAll();
  }

  async close(): Promise<void> {
    this.releaseAll();
    await this.client.close();
  }

  private key(key: KeyId, down: boolean): boolean {
    const sc = scancodeForKey(key);
    const inputs = this.client.inputs;
    if (sc === undefined || !inputs) return false;
    // A keyDown for a key already held is host autorepeat: the guest repeats by itself, and a
    // second make code would make it repeat faster.
    if (down && inputs.isHeld(sc)) return true;
    if (down) inputs.keyDown(sc);
    else inputs.keyUp(sc);
    return true;
  }
}
