/**
 * Mouse sensitivity as Looking Glass B7 applies it to captured motion (client/src/core.c,
 * `core_handleMouseGrabbed`): a level from -9 to 9 multiplies each delta by (level + 10) / 10,
 * so -9 is a tenth of the speed and +9 almost double; level 0 passes the raw deltas unchanged.
 * The fractions are carried to the next motion, so slow moves are not rounded away.
 */

/** Lowest and highest level (B7's range). */
export const MIN_SENS = -9;
/** Highest sensitivity level. */
export const MAX_SENS = 9;

/** The level and the carried fractions of one capture session's motion (see the module comment). */
export class MouseSensitivity {
  private restX = 0;
  private restY = 0;
  private current: number;

  constructor(level = 0) {
    this.current = clampSens(level);
  }

  /** The level now, -9..9. */
  get level(): number {
    return this.current;
  }

  /** Sets the level (clamped to -9..9) and drops the carried fractions. */
  set level(v: number) {
    this.current = clampSens(v);
    this.restX = this.restY = 0;
  }

  /** The whole-count motion to send for a raw delta (0, 0 when the fractions have not added up yet). */
  scale(dx: number, dy: number): { dx: number; dy: number } {
    if (this.current === 0) return { dx, dy };
    const f = (this.current + 10) / 10;
    const x = dx * f + this.restX;
    const y = dy * f + this.restY;
    const ix = Math.trunc(x);
    const iy = Math.trunc(y);
    this.restX = x - ix;
    this.restY = y - iy;
    return { dx: ix, dy: iy };
  }

  /** How the OSD writes the level: "+3", "0", "-2". */
  get label(): string {
    return this.current > 0 ? `+${this.current}` : String(this.current);
  }
}

function clampSens(v: number): number {
  return Number.isFinite(v) ? Math.max(MIN_SENS, Math.min(MAX_SENS, Math.trunc(v))) : 0;
}
