/**
 * The capture trial's part of `npm run bench` (bench/capture.ts): its table and its target, kept
 * out of run.ts so that the runner only calls them.
 */
import type { CaptureTrialResult } from './capture.js';

/** The target for a static desktop: the capture process at most this % of one core. */
export const CAPTURE_IDLE_TARGET_PCT = 1;

/** The verdict row for the capture's idle cost, or null when the trial did not run. */
export function captureVerdict(r: CaptureTrialResult | null): { what: string; met: boolean; value: string } | null {
  if (!r?.available) return null;
  return { what: `capture idle CPU ≤ ${CAPTURE_IDLE_TARGET_PCT} %`, met: r.idle.cpuPct <= CAPTURE_IDLE_TARGET_PCT, value: `${r.idle.cpuPct} %` };
}

/** Prints the capture section through `print` (one line at a time). */
export function printCapture(print: (line: string) => void, r: CaptureTrialResult | null): void {
  if (!r) return print('X11 capture (glasspane capture): the trial failed (see above)');
  if (!r.available) return print(`X11 capture (glasspane capture): n/a (${r.reason})`);
  print(`X11 capture (glasspane capture) on Xvfb ${r.mode}, a headless viewer consuming (target idle ≤ ${CAPTURE_IDLE_TARGET_PCT} % of a core)`);
  print(`  static desktop, ${r.idle.seconds} s: capture CPU ${r.idle.cpuPct} %, X server ${r.idle.xServerCpuPct ?? '-'} %, frames sent ${r.idle.framesSent}`);
  print(
    `  whole screen repainted at ${r.full.paintFps}/s (${r.full.painted} paints): ${r.full.sentFps} frames/s sent, ${r.full.receivedFps ?? '-'} received, capture CPU ${r.full.cpuPct} %, X server ${r.full.xServerCpuPct ?? '-'} %`,
  );
  print(`  copy of a whole frame by the X server into the region: ${r.copy.fullFrameMs} ms = ${r.copy.ratio} × memcpy (${r.copy.memcpyMs} ms); a 64x64 damage: ${r.copy.damage64Ms} ms`);
}
