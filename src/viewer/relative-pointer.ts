/**
 * Relative mouse by re-centring: in capture the pointer is kept at the window centre, and each
 * position seen away from it is a move to send. When the window itself moves or changes size
 * (fullscreen, a resize) the pointer stays where it was on the screen, so the next position
 * seen is a jump the user never made (a fullscreen switch sent the guest (-160, -140)). After
 * every re-centre, positions are therefore only pulled back to the centre, not sent, until the
 * pointer is seen there (or `settleMs` has passed, should a warp be lost).
 */
export interface PointerStep {
  /** The user's motion to send (0, 0: nothing). */
  dx: number;
  dy: number;
  /** Put the pointer back at the centre. */
  warp: boolean;
}

/** The re-centring decisions above: pure, with the settle time (ms) and a clock tests can replace. */
export class RelativePointer {
  private settlingUntil = 0;

  constructor(
    private readonly settleMs = 250,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** The window moved or resized, or capture began: the caller warps to the centre now. */
  recentred(): void {
    this.settlingUntil = this.now() + this.settleMs;
  }

  /** What to do with a pointer seen at (x, y) when the window centre is (cx, cy). */
  step(x: number, y: number, cx: number, cy: number): PointerStep {
    const dx = x - cx;
    const dy = y - cy;
    if (this.settlingUntil) {
      if (dx === 0 && dy === 0) this.settlingUntil = 0;
      else if (this.now() < this.settlingUntil) return { dx: 0, dy: 0, warp: true };
      else this.settlingUntil = 0;
      return { dx: 0, dy: 0, warp: dx !== 0 || dy !== 0 };
    }
    return { dx, dy, warp: dx !== 0 || dy !== 0 };
  }
}
