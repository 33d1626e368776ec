/**
 * Lock keys in step: while capture is on, the guest's CapsLock/NumLock (and ScrollLock, unless it
 * is the escape key, whose taps toggle the host's) follow the host's, so what the user types comes
 * out in the case the host's keyboard LEDs show.
 *
 * When: at capture start (the host state read from SDL), and when the guest reports LEDs that
 * differ (SPICE KEY_MODIFIERS: the guest rebooted, or something in it toggled a lock). The
 * server carries a sync out by tapping lock keys in the guest, whose LED reports may come one
 * key at a time, so a report is acted on only once the reports have been quiet for `settleMs`
 * and at least `settleMs` after our last sync; a guest that never follows gets `maxTries` syncs
 * and then one message, not a loop. Without SDL's state (no addon SDL access) the first key event
 * in capture, which carries the lock state, is used instead.
 */
import type { InputSink, LockState } from '../input/sink.js';

/**
 * What LockSync syncs through and reads from: the sink, the host's lock state, whether ScrollLock
 * is synced, where a guest that never follows is reported; `settleMs` (default 300) and `maxTries`
 * (default 3) as described above.
 */
export interface LockSyncOptions {
  sink: InputSink;
  /** The host's lock state now, or null when unknown. */
  host: () => Required<LockState> | null;
  /** Also sync ScrollLock (false when it is the escape key). */
  scroll: boolean;
  warn: (message: string) => void;
  settleMs?: number;
  maxTries?: number;
}

/**
 * Keeps the guest's lock keys in step with the host's during capture (see the module comment).
 * Main thread only; one timer at most, stopped by close(). Never throws.
 */
export class LockSync {
  private capture = false;
  private synced = false;
  private guest: Required<LockState> | null = null;
  private tries = 0;
  private lastSyncAt = -Infinity;
  private timer?: NodeJS.Timeout;
  private warned = false;
  private readonly settleMs: number;
  private readonly maxTries: number;

  constructor(private readonly o: LockSyncOptions) {
    this.settleMs = o.settleMs ?? 300;
    this.maxTries = o.maxTries ?? 3;
    o.sink.onGuestLocks?.((g) => this.guestReported(g));
  }

  /** Capture turned on or off. */
  setCapture(on: boolean): void {
    this.capture = on;
    this.synced = false;
    this.tries = 0;
    clearTimeout(this.timer);
    if (on) {
      const host = this.o.host();
      if (host) this.sync(host);
    }
  }

  /** A key event in capture, with the lock state it carries: used when SDL's state is unknown. */
  keyEvent(locks: { capslock?: unknown; numlock?: unknown }): void {
    if (!this.capture || this.synced) return;
    // A key event carries no ScrollLock state: that one stays as the guest has it.
    this.sync({ capsLock: Boolean(locks.capslock), numLock: Boolean(locks.numlock) });
  }

  /** Stops the pending check (the viewer closes). */
  close(): void {
    clearTimeout(this.timer);
    this.capture = false;
  }

  private guestReported(g: Required<LockState>): void {
    this.guest = g;
    if (!this.capture) return;
    clearTimeout(this.timer);
    const wait = Math.max(this.settleMs, this.lastSyncAt + this.settleMs - performance.now());
    this.timer = setTimeout(() => this.check(), wait);
    this.timer.unref?.();
  }

  private check(): void {
    const host = this.o.host();
    const g = this.guest;
    if (!this.capture || !host || !g) return;
    if (this.same(host, g)) {
      this.tries = 0;
      return;
    }
    if (this.tries >= this.maxTries) {
      if (!this.warned) {
        this.warned = true;
        this.o.warn('the guest does not follow the host\'s lock keys (CapsLock/NumLock); toggle them in the guest by hand');
      }
      return;
    }
    this.tries++;
    this.sync(host);
  }

  private sync(host: LockState): void {
    this.synced = true;
    this.lastSyncAt = performance.now();
    this.o.sink.syncLocks({ capsLock: host.capsLock, numLock: host.numLock, scrollLock: this.o.scroll ? host.scrollLock : undefined });
  }

  private same(a: Required<LockState>, b: Required<LockState>): boolean {
    return a.capsLock === b.capsLock && a.numLock === b.numLock && (!this.o.scroll || a.scrollLock === b.scrollLock);
  }
}
