/**
 * Relative mouse for capture mode (SPICE server mouse mode): the guest gets exactly the motion the
 * user made. SDL's relative mouse mode (XInput2 raw motion on X11, pointer constraints on
 * Wayland) reports device deltas that do not stop at the window edge and are not produced by
 * warps; our addon's event watch adds up every event's xrel/yrel (native/sdl_input.h), and each
 * motion event the binding delivers takes the sums, so the total sent equals the total moved.
 *
 * Fallback, only when SDL refuses relative mode: the old emulation (measure the distance from the
 * window centre, warp back), said once on the OSD because it loses motion at the edge; a window
 * that moves or changes size (fullscreen) is settled by RelativePointer, so its jump is not sent.
 */
import { native } from '../native.js';
import { RelativePointer } from './relative-pointer.js';
import type { Sdl, SdlWindow } from './sdl.js';

/** How relative motion is made now: off, SDL's relative mouse mode, or the warp fallback. */
export type RelativeMode = 'off' | 'sdl' | 'warp';

/**
 * Relative motion for capture (see the module comment), for one SDL window. Main thread only
 * (SDL's mouse state belongs to it). `warn` is told once when SDL refuses relative mode.
 */
export class RelativeMouse {
  private mode: RelativeMode = 'off';
  private warned = false;
  private readonly pointer = new RelativePointer();

  constructor(
    private readonly sdl: Sdl,
    private readonly window: SdlWindow,
    private readonly warn: (message: string) => void,
  ) {}

  /** The mode in use now. */
  get current(): RelativeMode {
    return this.mode;
  }

  /** Turns relative motion on or off (cheap when nothing changes). */
  set(on: boolean): void {
    if (on === (this.mode !== 'off')) return;
    if (!on) {
      if (this.mode === 'sdl') native.sdlRelativeMouse(false);
      this.mode = 'off';
      return;
    }
    if (native.sdlRelativeMouse(true) === true) {
      this.mode = 'sdl';
      return;
    }
    this.mode = 'warp';
    this.pointer.recentred();
    this.centre();
    if (!this.warned) {
      this.warned = true;
      this.warn('SDL has no relative mouse mode here: the pointer is re-centred instead, and motion stops at the window edge');
    }
  }

  /**
   * The motion to send for one binding motion event (null for none). Always call it, also when
   * the motion is not to be sent: it drains what SDL reported, so nothing stale is sent later.
   */
  take(e: { x: number; y: number }): { dx: number; dy: number } | null {
    if (this.mode === 'sdl') {
      const [dx, dy] = native.sdlTakeMotion();
      return dx || dy ? { dx, dy } : null;
    }
    if (this.mode !== 'warp') return null;
    const step = this.pointer.step(e.x, e.y, Math.floor(this.window.width / 2), Math.floor(this.window.height / 2));
    if (step.warp) this.centre();
    return step.dx || step.dy ? { dx: step.dx, dy: step.dy } : null;
  }

  /** The window moved or changed size (fullscreen, a resize): the fallback re-centres without sending the jump. */
  windowMoved(): void {
    if (this.mode !== 'warp') return;
    this.pointer.recentred();
    this.centre();
  }

  private centre(): void {
    const w = this.window;
    this.sdl.mouse.setPosition(w.x + Math.floor(w.width / 2), w.y + Math.floor(w.height / 2));
  }
}
