/** Window geometry: where the guest frame goes in the window, and mapping pointer positions back. */
export interface Rect {
  x: number;
  y: number;
  width: number;
  height: number;
}

/**
 * The largest rectangle with the frame's aspect ratio that fits the window, centred (letterbox or
 * pillarbox). With `integer`, the scale is a whole number (1x, 2x, …) when the window is at least
 * as large as the frame, for sharp pixels.
 */
export function fitRect(frameW: number, frameH: number, winW: number, winH: number, integer = false): Rect {
  let scale = Math.min(winW / frameW, winH / frameH);
  if (integer && scale >= 1) scale = Math.floor(scale);
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
