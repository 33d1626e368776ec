/** Window geometry: where the guest frame goes in the window, and mapping pointer positions back. */
export interface Rect {
  x: number;
  y: number;
  width: number;
  height: number;
}

/**
 * The largest rectangle with the frame's aspect ratio that fits the window, centred (letterbox or
 * pillarbox). With `integer`, the scale is a whole multiple (1x, 2x, …) or, for a frame larger
 * than the window, a whole divisor (1/2, 1/3, …): every guest pixel maps to the same number of
 * window pixels, so nearest-neighbour scaling stays sharp and even (a fraction such as 3/4 drops
 * every fourth row and column).
 */
export function fitRect(frameW: number, frameH: number, winW: number, winH: number, integer = false): Rect {
  let scale = Math.min(winW / frameW, winH / frameH);
  if (integer) scale = scale >= 1 ? Math.floor(scale) : 1 / Math.ceil(1 / scale - 1e-9);
  const width = Math.max(1, Math.round(frameW * scale));
  const height = Math.max(1, Math.round(frameH * scale));
  return { x: Math.floor((winW - width) / 2), y: Math.floor((winH - height) / 2), width, height };
}

/** A window position to guest frame coordinates, clamped to the frame. */
export function windowToFrame(x: number, y: number, dst: Rect, frameW: number, frameH: number): { x: number; y: number } {
  const fx = Math.floor(((x - dst.x) * frameW) / dst.width);
  const fy = Math.floor(((y - dst.y) * frameH) / dst.height);
  return { x: Math.min(frameW - 1, Math.max(0, fx)), y: Math.min(frameH - 1, Math.max(0, fy)) };
}
