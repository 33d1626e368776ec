/** The runner's table for the window trials (bench/window.ts) and the render-cost trial (bench/render.ts). */
import type { RenderResult } from './render.js';
import type { WindowTrialResult } from './window.js';

const col = (v: unknown, w: number) => String(v ?? '-').padStart(w);

/** Prints the window trials (consumed, presented, CPU, latency; then glass to glass with its floor, beside B7's consumer) and the render-cost rows. */
export function printWindow(print: (line: string) => void, trials: WindowTrialResult[], render: RenderResult | null, ratio: number, glassRatio: number): void {
  if (!trials.length && !render) {
    print('The viewer window under Xvfb: not measured (--no-present)');
    return;
  }
  print(`The viewer window: \`glasspane view\` on a private Xvfb (software rendering), window = frame size, vs the same stream headless`);
  print(`(fps; target: consumed ≥ ${ratio} × produced; CPU: the viewer process, % of one core; latency: copied → presented)`);
  print('stream            produced  consumed  presented   CPU %  render ms  latency p50 / p99 ms  headless consumed   Xvfb CPU %');
  for (const t of trials) {
    if (!t.available) {
      print(`${`${t.mode} @ ${t.fps}`.padEnd(16)} n/a (${t.reason})`);
      continue;
    }
    const lat = `${t.presentLatencyMs.p50 ?? '-'} / ${t.presentLatencyMs.p99 ?? '-'}`;
    print(
      `${`${t.mode} @ ${t.fps}`.padEnd(16)} ${col(t.producedFps, 9)} ${col(t.consumedFps, 9)} ${col(t.presentedFps, 10)} ${col(t.cpuPct, 7)} ${col(t.renderMs, 10)} ${col(lat, 21)} ${col(t.headlessConsumedFps, 18)} ${col(t.details.xvfbCpuPct, 12)}`,
    );
  }
  print('');
  print(`Glass to glass: post → the frame's colour seen on the display (a probe reading the X server's pixel), ms; target: glass − producer wrote p50 ≤ ${glassRatio} × (render + present)`);
  print('stream            glasspane p50 / p90 / p99   seen     1 ms poll p50 / p90 / p99   seen     floor: wrote + render + present   glass − wrote p50');
  for (const t of trials) {
    if (!t.available) continue;
    const g = (x: { p50: number; p90: number; p99: number } | null) => (x ? `${x.p50} / ${x.p90} / ${x.p99}` : '-');
    const poll = 'mode' in t.poll1ms ? t.poll1ms : null;
    const f = t.floorMs;
    print(
      `${`${t.mode} @ ${t.fps}`.padEnd(16)} ${col(g(t.glassMs), 27)} ${col(t.seenRatio, 6)} ${col(poll ? g(poll.glassMs) : `n/a`, 27)} ${col(poll?.seenRatio, 6)} ${col(`${f.producerWrote ?? '-'} + ${f.render ?? '-'} + ${f.present ?? '-'}`, 32)} ${col(t.glassAfterWriteMs, 19)}`,
    );
  }
  print('  seen: frames whose colour appeared on the display ÷ frames posted; floor: the producer\'s own write, one upload + draw and one present of a frame this size (render.js --split).');
  if (!render) return;
  print('');
  if (!render.available) {
    print(`Render cost: n/a (${render.reason})`);
    return;
  }
  print(`Render cost of one ${render.format} frame, window = frame size, same process and Xvfb (ms; window.render() on OpenGL is what the viewer did before)`);
  print('mode         renderer             way                          p50      p90');
  for (const r of render.rows) print(`${r.mode.padEnd(12)} ${r.renderer.padEnd(20)} ${r.way.padEnd(26)} ${col(r.p50Ms, 7)} ${col(r.p90Ms, 8)}`);
}
