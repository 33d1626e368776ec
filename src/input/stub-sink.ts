/**
 * InputSink that sends input to guest-stub over a WebSocket (`glasspane stub --input-port N`), so
 * the whole viewer loop works on any desktop without a VM. The messages (JSON objects shaped like
 * the SPICE inputs channel's) are defined in src/scenes/input-messages.ts, beside the scene that
 * draws them.
 */
import WebSocket from 'ws';
import type { InputSink, KeyId, LockState, MouseButton } from './sink.js';
import { scancodeForKey } from './scancodes.js';
import type { StubInputMessage } from '../scenes/input-messages.js';

/** Button state bits, as in SPICE (left 1, middle 2, right 4, side 8, extra 16). */
export const BUTTON_MASK: Record<MouseButton, number> = { left: 1, middle: 2, right: 4, side: 8, extra: 16 };

/**
 * InputSink to guest-stub's WebSocket input server (see the module comment). Relative mouse only
 * (`absolute` is false); lock keys are not mirrored. Sending never throws: up to 1000 messages are
 * queued while connecting, and anything sent after the socket failed or closed is dropped.
 */
export class StubInputSink implements InputSink {
  readonly absolute = false;
  private buttons = 0;
  private readonly pressed = new Set<number>();
  private queue: string[] = [];

  private constructor(private readonly ws: WebSocket) {
    ws.on('open', () => {
      for (const m of this.queue.splice(0)) ws.send(m);
    });
    ws.on('error', () => undefined); // the stub going away must not crash the viewer
  }

  /** Connects to ws://host:port (the stub prints its address). */
  static connect(url: string): StubInputSink {
    return new StubInputSink(new WebSocket(url));
  }

  private send(m: StubInputMessage): void {
    const s = JSON.stringify(m);
    if (this.ws.readyState === WebSocket.OPEN) this.ws.send(s);
    else if (this.ws.readyState === WebSocket.CONNECTING && this.queue.length < 1000) this.queue.push(s);
  }

  keyDown(key: KeyId): boolean {
    const sc = scancodeForKey(key);
    if (sc === undefined) return false;
    this.pressed.add(sc);
    this.send({ t: 'key', down: true, scancode: sc });
    return true;
  }

  keyUp(key: KeyId): boolean {
    const sc = scancodeForKey(key);
    if (sc === undefined) return false;
    this.releaseScancode(sc);
    return true;
  }

  mouseMotion(dx: number, dy: number): void {
    this.send({ t: 'motion', dx, dy, buttons: this.buttons });
  }

  mousePosition(x: number, y: number, width: number, height: number): void {
    this.send({ t: 'position', x: Math.min(width - 1, Math.max(0, x)), y: Math.min(height - 1, Math.max(0, y)), buttons: this.buttons });
  }

  mouseButton(button: MouseButton, down: boolean): void {
    this.buttons = down ? this.buttons | BUTTON_MASK[button] : this.buttons & ~BUTTON_MASK[button];
    this.send({ t: 'button', button, down, buttons: this.buttons });
  }

  mouseWheel(notches: number): void {
    this.send({ t: 'wheel', notches });
  }

  syncLocks(_locks: LockState): void {}

  releaseAll(): void {
    for (const sc of [...this.pressed]) this.releaseScancode(sc);
    for (const [b, mask] of Object.entries(BUTTON_MASK)) if (this.buttons & mask) this.mouseButton(b as MouseButton, false);
  }

  private releaseScancode(sc: number): void {
    this.pressed.delete(sc);
    this.send({ t: 'key', down: false, scancode: sc });
  }

  async close(): Promise<void> {
    this.releaseAll();
    await new Promise<void>((resolve) => {
      if (this.ws.readyState === WebSocket.CLOSED) return resolve();
      this.ws.once('close', () => resolve());
      this.ws.close();
      setTimeout(resolve, 500).unref();
    });
  }
}
