/**
 * InputSink: where the viewer sends keyboard and mouse input while capture mode is on.
 * Implementations: SpiceInputSink (src/spice/input-sink.ts, forwards to QEMU; the SPICE layer
 * implements this interface, so the arrow points from spice down to input), StubInputSink
 * (stub-sink.ts, to guest-stub) and NullInputSink (drops everything; for a viewer started without
 * --spice and for tests).
 *
 * Contract for implementations:
 * - Calls never throw for input the guest cannot take (unknown key, not connected): they return
 *   false / do nothing, because a stray key must never crash the viewer.
 * - Order is preserved: a button after a motion lands where the motion went.
 * - releaseAll() releases every key and button this sink pressed; the viewer calls it when
 *   capture is released and on window focus loss, so nothing stays held in the guest.
 */

/** A physical key: a KeyboardEvent.code name ("KeyA", "ControlRight") or a USB HID usage (= SDL scancode). */
export type KeyId = string | number;

/** The mouse buttons glasspane forwards (side = back/X1, extra = forward/X2). */
export type MouseButton = 'left' | 'middle' | 'right' | 'side' | 'extra';

/** The lock keys' state, host or guest (true = on). */
export interface LockState {
  capsLock: boolean;
  numLock: boolean;
  /** Undefined: leave the guest's as it is (e.g. ScrollLock is the escape key). */
  scrollLock?: boolean;
}

/**
 * See the module comment for the contract every implementation keeps. Called from the viewer's
 * main thread only; calls return at once (delivery is asynchronous and may be dropped).
 */
export interface InputSink {
  /** Presses a key; false when the key has no scancode or input cannot be delivered now. */
  keyDown(key: KeyId): boolean;
  /** Releases a key; false when it has no scancode or input cannot be delivered now. */
  keyUp(key: KeyId): boolean;
  /** Relative motion (+x right, +y down), for when `absolute` is false. */
  mouseMotion(dx: number, dy: number): void;
  /** Absolute position in guest surface pixels, clamped to [0, width-1] × [0, height-1]. */
  mousePosition(x: number, y: number, width: number, height: number): void;
  /** Presses (`down`) or releases a button; the sink remembers it for releaseAll(). */
  mouseButton(button: MouseButton, down: boolean): void;
  /** Wheel notches: negative = up (away from the user), positive = down. */
  mouseWheel(notches: number): void;
  /** Mirrors the host's lock keys into the guest; only sends on a real mismatch. */
  syncLocks(locks: LockState): void;
  /** Calls `listener` with the guest's lock state each time the guest reports a change (SPICE only). */
  onGuestLocks?(listener: (locks: Required<LockState>) => void): void;
  /** Releases everything pressed through this sink. */
  releaseAll(): void;
  /** True when the guest takes absolute positions (SPICE client mouse mode) rather than motion. */
  readonly absolute: boolean;
  /** Releases everything, then disconnects; safe to call twice. */
  close(): Promise<void>;
}

/** Drops all input. */
export class NullInputSink implements InputSink {
  readonly absolute = false;
  keyDown(_key: KeyId): boolean {
    return false;
  }
  keyUp(_key: KeyId): boolean {
    return false;
  }
  mouseMotion(): void {}
  mousePosition(): void {}
  mouseButton(): void {}
  mouseWheel(): void {}
  syncLocks(_locks: LockState): void {}
  releaseAll(): void {}
  async close(): Promise<void> {}
}
