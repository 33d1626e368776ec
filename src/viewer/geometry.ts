/**
 * Window geometry: where the guest frame goes in the window (kept in aspect or stretched, scaled
 * freely, by whole numbers, or never up; turned by quarter turns), and mapping pointer positions
 * and motion back into the guest's own orientation.
 */
export interface Rect {
  x: number;
  y: number;
  width: number;
  height: number;
}

/** How the frame fills the window (the Looking Glass win:keepAspect, win:intUpscale, win:dontUpscale, win:rotate). */
export interface FitOptions {
  /** Scale up by whole numbers only (below 1x the scale is free). */
  integer?: boolean;
  /** Keep the frame's aspect ratio (default true); false stretches it over the window. */
  keepAspect?: boolean;
  /** Never scale above 1:1. */
  dontUpscale?: boolean;
  /** Clockwise quarter turns (0..3): odd turns swap the frame's width and height on screen. */
  quarterTurns?: number;
}

/** The frame's size on screen once turned: width and height swapped for odd quarter turns. */
export function turnedSize(width: number, height: number, quarterTurns = 0): { width: number; height: number } {
  return quarterTurns % 2 ? { width: height, height: width } : { width, height };
}

/** Where the frame (frameW x frameH, before turning) goes in a winW x winH window, centred. */
export function placeFrame(frameW: number, frameH: number, winW: number, winH: number, o: FitOptions = {}): Rect {
  const t = turnedSize(frameW, frameH, o.quarterTurns);
  const limit = (s: number) => {
    if (o.dontUpscale) s = Math.min(s, 1);
    if (!o.integer) return s;
    return s >= 1 ? Math.floor(s) : 1 / Math.ceil(1 / s - 1e-9);
  };
  let sx = limit(winW / t.width);
  let sy = limit(winH / t.height);
  if (o.keepAspect ?? true) sx = sy = Math.min(sx, sy);
  const width = Math.max(1, Math.round(t.width * sx));
  const height = Math.max(1, Math.round(t.height * sy));
  return { x: Math.floor((winW - width) / 2), y: Math.floor((winH - height) / 2), width, height };
}

/**
 * The largest rectangle with the frame's aspect ratio that fits the window, centred (letterbox or
 * pillarbox). With `integer`, the scale is a whole multiple (1x, 2x, …) or, for a frame larger
 * than the window, a whole divisor (1/2, 1/3, …): every guest pixel maps to the same number of
 * window pixels, so nearest-neighbour scaling stays sharp and even (a fraction such as 3/4 drops
 * every fourth row and column).
 */
export function fitRect(frameW: number, frameH: number, winW: number, winH: number, integer = false): Rect {
  return placeFrame(frameW, frameH, winW, winH, { integer });
}

/** A window position to guest frame coordinates, clamped to the frame; `dst` is the turned frame's place. */
export function windowToFrame(x: number, y: number, dst: Rect, frameW: number, frameH: number, quarterTurns = 0): { x: number; y: number } {
  const u = (x - dst.x) / dst.width;
  const v = (y - dst.y) / dst.height;
  const [a, b] = [
    [u, v],
    [v, 1 - u],
    [1 - u, 1 - v],
    [1 - v, u],
  ][quarterTurns & 3]!;
  const fx = Math.floor(a! * frameW);
  const fy = Math.floor(b! * frameH);
  return { x: Math.min(frameW - 1, Math.max(0, fx)), y: Math.min(frameH - 1, Math.max(0, fy)) };
}

/** A motion on screen as a motion in the guest's orientation (the frame turned clockwise by quarterTurns). */
export function screenToGuestMotion(dx: number, dy: number, quarterTurns = 0): { dx: number; dy: number } {
  switch (quarterTurns & 3) {
    case 1:
      return { dx: dy, dy: -dx };
    case 2:
      return { dx: -dx, dy: -dy };
    case 3:
      return { dx: -dy, dy: dx };
    default:
      return { dx, dy };
  }
}
