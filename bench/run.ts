/**
 * `npm run bench`: how close glasspane's frame path comes to the machine's limit, measured on the
 * user's own machine, with Looking Glass B7's 1 ms sleep-polling consumer side by side. Every
 * trial runs in a fresh process (node dist/bench/<trial>.js …); the memcpy baseline is measured
 * in the same run. Prints a table (stderr with --json), writes bench/results/<date>.json and a
 * PNG chart next to it, and with --json prints one JSON object on stdout at the end.
 *   npm run -s bench [-- --quick] [-- --json] [--modes 1920x1080,…] [--seconds S] [--rounds N]
 *                 [--watcher spinUs=…,maxSleepUs=…] [--out DIR] [--no-chart] [--no-present]
 * --no-present skips every trial that opens a window (present, window, render).
 * (-s keeps npm's own banner off stdout, so with --json the JSON is alone there.)
 * Benchmarks are not tests: nothing here fails on timing; targets are reported as met or missed.
 */
import { cpus, loadavg, release, totalmem, type as osType } from 'node:os';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { native } from '../src/native.js';
import { npmBannerNote } from '../src/npm-banner.js';
import { BENCH_DIR, MODES, parseArgs, parseMode, round, runTrial, type Mode } from './lib.js';
import type { CopyTrialResult } from './copy.js';
import type { FramesResult } from './frames.js';
import type { IdleResult } from './idle.js';
import type { PresentResult } from './present.js';
import type { RenderResult, RenderRow } from './render.js';
import type { PollWindowRow, WindowRow, WindowTrialResult } from './window.js';
import type { WakeFloorResult } from './wakefloor.js';
import { drawChart } from './chart.js';
import type { BenchJson } from './bench-json.js';
import { printWindow } from './window-table.js';
import type { CaptureTrialResult } from './capture.js';
import { captureVerdict, printCapture } from './capture-table.js';

/** The frame rates of the sustained runs (issue 6). */
const SUSTAINED_FPS: Record<string, number> = { '1920x1080': 240, '2560x1440': 144, '3840x2160': 60 };
/**
 * Issue 22's targets: the wake in the window's path and the notification against the machine's own
 * wake floor (two processes, a futex), the hand-off against a memcpy, the idle window, and glass to
 * glass against one render and one present.
 */
const TARGETS = { efficiency: 0.9, wakeP50Us: 50, notifyFloorRatio: 1.5, handoffRatio: 0.3, idleCpuPct: 0.5, glassFloorRatio: 1.5 };
const NOTIFY_MODE = '1920x1080';
const NOTIFY_FPS = 144;
/** Notification with frames too small to cost the producer any time: the mechanism alone. */
const NOTIFY_SMALL_MODE = '256x144';
const PIPELINE_FPS = 60;
/** The window trials' streams (issue 12) and their target: the window consumes what the guest produces. */
const WINDOW_FPS: Record<string, number> = { '1920x1080': 60, '2560x1440': 144, '3840x2160': 60 };
const WINDOW_CONSUMED_RATIO = 0.98;
/** Render-cost sizes: window.render() on llvmpipe at 2160p would take most of a minute. */
const RENDER_MODES = ['1920x1080', '2560x1440'];

type Consumer = 'relay' | 'poll1ms';
const CONSUMERS: Consumer[] = ['relay', 'poll1ms'];

const args = parseArgs(process.argv.slice(2));
const quick = args.has('quick');
const jsonOut = args.has('json');
const modes: Mode[] = args.has('modes') ? args.get('modes')!.split(',').map(parseMode) : MODES;
const frameSeconds = Number(args.get('seconds') ?? (quick ? 3 : 10));
const pipelineSeconds = Number(args.get('seconds') ?? (quick ? 2 : 5));
const idleSeconds = Number(args.get('seconds') ?? (quick ? 2 : 5));
const rounds = Number(args.get('rounds') ?? (quick ? 60 : 200));
const warmup = Math.min(0.5, frameSeconds / 2);
const watcherArg = args.get('watcher');
const outDir = args.get('out') ?? join(BENCH_DIR, '..', '..', 'bench', 'results');
const say = (s: string) => process.stderr.write(`${s}\n`);
const print = jsonOut ? say : (s: string) => process.stdout.write(`${s}\n`);

const started = performance.now();
const failures: string[] = [];
let trialNo = 0;
const withPresent = !args.has('no-present');
const renderModes = modes.filter((m) => RENDER_MODES.includes(m.mode)).map((m) => m.mode);
const trialCount = modes.length * (1 + 2 * CONSUMERS.length) + CONSUMERS.length * 3 + 1 + (withPresent ? 1 + modes.length + (renderModes.length ? 1 : 0) : 0) + 1;
const windowSeconds = Number(args.get('seconds') ?? (quick ? 2 : 5));

async function trial<T>(name: string, file: string, trialArgs: string[], timeoutMs = 90_000): Promise<T | null> {
  trialNo++;
  const t = performance.now();
  try {
    const r = await runTrial<T>(file, trialArgs, timeoutMs);
    say(`[${String(trialNo).padStart(2)}/${trialCount}] ${name.padEnd(44)} ${(r.wallMs / 1000).toFixed(1)} s`);
    return r.result;
  } catch (err) {
    const msg = (err as Error).message;
    failures.push(`${name}: ${msg}`);
    say(`[${String(trialNo).padStart(2)}/${trialCount}] ${name.padEnd(44)} FAILED after ${((performance.now() - t) / 1000).toFixed(1)} s\n${msg}`);
    return null;
  }
}

const watcherFlag = watcherArg ? ['--watcher', watcherArg] : [];
const framesArgs = (c: Consumer, m: string, fps: number, seconds: number, verify: boolean) => [
  '--consumer', c, '--mode', m, '--fps', String(fps), '--seconds', String(seconds), '--warmup', String(warmup),
  ...(verify ? ['--verify'] : []), ...(c === 'relay' ? watcherFlag : []),
];

say(`glasspane bench${quick ? ' --quick' : ''}: ${trialCount} trials, each in a fresh process`);

// 1. Copy efficiency against the memcpy baseline, one process per size.
const copy: CopyTrialResult[] = [];
for (const m of modes) {
  const r = await trial<CopyTrialResult>(`copy ${m.mode}`, 'copy', ['--mode', m.mode, '--rounds', String(rounds)]);
  if (r) copy.push(r);
}
const memcpyMs = (mode: string) => copy.find((c) => c.mode === mode)?.memcpyMs ?? null;

// 2. Notification latency at 144 fps, both consumers.
const notify: Partial<Record<Consumer, FramesResult>> = {};
for (const c of CONSUMERS) {
  const r = await trial<FramesResult>(`notify ${c} ${NOTIFY_MODE} @ ${NOTIFY_FPS} fps`, 'frames', framesArgs(c, NOTIFY_MODE, NOTIFY_FPS, frameSeconds, false));
  if (r) notify[c] = r;
}

const notifySmall: Partial<Record<Consumer, FramesResult>> = {};
for (const c of CONSUMERS) {
  const r = await trial<FramesResult>(`notify ${c} ${NOTIFY_SMALL_MODE} @ ${NOTIFY_FPS} fps`, 'frames', framesArgs(c, NOTIFY_SMALL_MODE, NOTIFY_FPS, frameSeconds, false));
  if (r) notifySmall[c] = r;
}

// The machine's own wake-up floor at the same rate: two processes, a futex.
const floor = await trial<WakeFloorResult>(`wake floor (two processes, futex) @ ${NOTIFY_FPS} Hz`, 'wakefloor', ['--fps', String(NOTIFY_FPS), '--seconds', String(frameSeconds)]);
const wakeFloorUs = floor?.available ? { p50: floor.wakeUs.p50, p99: floor.wakeUs.p99 } : null;

// 3. Pipelined frame latency per size, both consumers.
const pipeline: Record<Consumer, FramesResult[]> = { relay: [], poll1ms: [] };
for (const m of modes) {
  for (const c of CONSUMERS) {
    const r = await trial<FramesResult>(`pipeline ${c} ${m.mode} @ ${PIPELINE_FPS} fps`, 'frames', framesArgs(c, m.mode, PIPELINE_FPS, pipelineSeconds, false));
    if (r) pipeline[c].push(r);
  }
}

// 4. Sustained rate with per-pixel verification, both consumers.
const sustained: Record<Consumer, FramesResult[]> = { relay: [], poll1ms: [] };
for (const m of modes) {
  const fps = SUSTAINED_FPS[m.mode] ?? 60;
  for (const c of CONSUMERS) {
    const r = await trial<FramesResult>(`sustained ${c} ${m.mode} @ ${fps} fps, verified`, 'frames', framesArgs(c, m.mode, fps, frameSeconds, true));
    if (r) sustained[c].push(r);
  }
}

// 5. Idle cost: the window open, the producer alive, nothing posted since its first frames.
const idle: Partial<Record<Consumer, IdleResult>> = {};
for (const c of CONSUMERS) {
  const r = await trial<IdleResult>(`idle ${c}${withPresent ? ' (the window process)' : ''}`, 'idle', ['--consumer', c, '--seconds', String(Math.max(idleSeconds, quick ? 5 : 10)), '--settle', quick ? '10' : '15', ...(withPresent ? [] : ['--no-window']), ...(c === 'relay' ? watcherFlag : [])]);
  if (r) idle[c] = r;
}

// 6. Present cost of the viewer window under Xvfb, for information.
let present: BenchJson['present'] = 'n/a (skipped: --no-present)';
if (withPresent) {
  const presentMode = modes[0]!.mode;
  const r = await trial<PresentResult>(`present (viewer under Xvfb) ${presentMode} @ 60 fps`, 'present', ['--mode', presentMode, '--fps', '60', '--seconds', String(idleSeconds), '--warmup', '1']);
  if (!r) present = 'n/a (the present trial failed)';
  else if (!r.available) present = `n/a (${r.reason})`;
  else present = { mode: r.mode, fps: r.fps, presentMs: r.presentMs, presentedLatencyMs: r.presentedLatencyMs, renderFps: r.renderFps };
}

// 7. The real viewer window per stream, with the same stream headless; then what one render costs.
const windowTrials: WindowTrialResult[] = [];
let render: RenderResult | null = null;
if (withPresent) {
  for (const m of modes) {
    const fps = WINDOW_FPS[m.mode] ?? 60;
    const r = await trial<WindowTrialResult>(`window (viewer under Xvfb) ${m.mode} @ ${fps} fps`, 'window', ['--mode', m.mode, '--fps', String(fps), '--seconds', String(windowSeconds), '--warmup', '1'], 180_000);
    if (r) windowTrials.push(r);
  }
  if (renderModes.length) render = await trial<RenderResult>(`render cost ${renderModes.join(', ')}`, 'render', ['--modes', renderModes.join(','), '--frames', quick ? '20' : '60'], 180_000);
}
// 8. The X11 capture of a Linux guest (glasspane capture) on Xvfb: idle cost, full-screen rate, copy cost.
const capture = await trial<CaptureTrialResult>('capture (X11, Xvfb 1920x1080)', 'capture', ['--seconds', String(idleSeconds), '--rounds', String(Math.min(rounds, 40))], 120_000);
const windowRows: WindowRow[] = windowTrials.flatMap((r) =>
  r.available
    ? [{ mode: r.mode, producedFps: r.producedFps, consumedFps: r.consumedFps, presentedFps: r.presentedFps, cpuPct: r.cpuPct, renderMs: r.renderMs, presentLatencyMs: r.presentLatencyMs, headlessConsumedFps: r.headlessConsumedFps, glassMs: r.glassMs, seenRatio: r.seenRatio, glassAfterWriteMs: r.glassAfterWriteMs, floorMs: r.floorMs }]
    : [],
);
const pollWindowRows: PollWindowRow[] = windowTrials.flatMap((r) => (r.available && 'mode' in r.poll1ms ? [r.poll1ms] : []));

const runSeconds = round((performance.now() - started) / 1000, 1);
const ratio = (r: FramesResult): number | null => {
  const base = memcpyMs(r.mode);
  return base && r.latencyUs ? round(r.latencyUs.p50 / 1000 / base, 2) : null;
};
const handoffRow = (r: FramesResult) => {
  const base = memcpyMs(r.mode);
  const p50 = r.handoffUs?.p50 ?? null;
  return { mode: r.mode, p50Us: p50 === null ? null : round(p50, 1), ratio: p50 !== null && base ? round(p50 / 1000 / base, 2) : null };
};
const sustainedRow = (r: FramesResult) => ({ mode: r.mode, fps: r.fps, seconds: r.seconds, lost: r.lost, verifyFailures: r.verifyFailures });
const date = new Date();

const result: BenchJson = {
  copy: copy.map((c) => ({ mode: c.mode, memcpyMs: c.memcpyMs, copyMs: c.copyMs, efficiency: c.efficiency })),
  notifyUs: notify.relay?.notifyUs ?? null,
  wakeFloorUs,
  pipeline: pipeline.relay.map((r) => ({ mode: r.mode, ratio: ratio(r) })),
  handoff: pipeline.relay.map(handoffRow),
  sustained: sustained.relay.map(sustainedRow),
  idleCpuPct: idle.relay ? round(idle.relay.cpuPct, 2) : null,
  present,
  window: windowRows,
  compare: {
    poll1ms: {
      notifyUs: notify.poll1ms?.notifyUs ?? null,
      pipeline: pipeline.poll1ms.map((r) => ({ mode: r.mode, ratio: ratio(r) })),
      handoff: pipeline.poll1ms.map(handoffRow),
      sustained: sustained.poll1ms.map(sustainedRow),
      idleCpuPct: idle.poll1ms ? round(idle.poll1ms.cpuPct, 2) : null,
      window: pollWindowRows,
    },
  },
  machine: {
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    memGiB: round(totalmem() / 2 ** 30, 1),
    os: `${osType()} ${release()}`,
    node: process.version,
    avx2: native.cpuHasAvx2,
    copyStrategy: 'auto',
    watcher: watcherArg ?? 'defaults',
    idleMeasured: idle.relay?.where ?? null,
    loadavg: loadavg().map((l) => round(l, 2)),
    quick,
    date: date.toISOString(),
    runSeconds,
  },
};

// ---- targets ----
interface Verdict {
  what: string;
  met: boolean;
  value: string;
}
const verdicts: Verdict[] = [];
for (const c of result.copy) verdicts.push({ what: `copy efficiency ${c.mode} ≥ ${TARGETS.efficiency}`, met: c.efficiency >= TARGETS.efficiency, value: String(c.efficiency) });
const wakeP50 = notify.relay?.wakeUs?.p50 ?? null;
if (wakeP50 !== null) verdicts.push({ what: `wake in the window's path p50 ≤ ${TARGETS.wakeP50Us} µs`, met: wakeP50 <= TARGETS.wakeP50Us, value: `${wakeP50} µs` });
if (result.notifyUs && wakeFloorUs) {
  for (const q of ['p50', 'p99'] as const) {
    const r = round(result.notifyUs[q] / Math.max(wakeFloorUs[q], 0.1), 2);
    verdicts.push({ what: `notify ${q} ≤ ${TARGETS.notifyFloorRatio} × the wake floor`, met: r <= TARGETS.notifyFloorRatio, value: `${result.notifyUs[q]} ÷ ${wakeFloorUs[q]} µs = ${r}` });
  }
}
for (const h of result.handoff) verdicts.push({ what: `hand-off ${h.mode}: added latency p50 ≤ ${TARGETS.handoffRatio} × memcpy`, met: h.ratio !== null && h.ratio <= TARGETS.handoffRatio, value: `${h.p50Us} µs = ${h.ratio} × memcpy` });
for (const s of result.sustained) verdicts.push({ what: `sustained ${s.mode}: 0 lost, 0 verify failures`, met: s.lost === 0 && s.verifyFailures === 0, value: `${s.lost} lost, ${s.verifyFailures} failures` });
for (const w of result.window) {
  verdicts.push({ what: `window ${w.mode}: consumed ≥ ${WINDOW_CONSUMED_RATIO} × produced`, met: w.consumedFps >= WINDOW_CONSUMED_RATIO * w.producedFps, value: `${w.consumedFps} of ${w.producedFps} fps` });
  const budget = w.floorMs.render !== null && w.floorMs.present !== null ? w.floorMs.render + w.floorMs.present : null;
  if (budget !== null && w.glassAfterWriteMs !== null) {
    const r = round(w.glassAfterWriteMs / budget, 2);
    verdicts.push({ what: `window ${w.mode}: glass − producer wrote p50 ≤ ${TARGETS.glassFloorRatio} × (render + present)`, met: r <= TARGETS.glassFloorRatio, value: `${w.glassAfterWriteMs} ÷ ${round(budget, 2)} ms = ${r}` });
  }
}
if (result.idleCpuPct !== null) verdicts.push({ what: `idle CPU${idle.relay?.where === 'window' ? ' of the window process' : ' (relay thread alone)'} ≤ ${TARGETS.idleCpuPct} %`, met: result.idleCpuPct <= TARGETS.idleCpuPct, value: `${result.idleCpuPct} %` });
const captureIdle = captureVerdict(capture);
if (captureIdle) verdicts.push(captureIdle);

// ---- table ----
const col = (v: unknown, w: number) => String(v ?? '-').padStart(w);
const pct = (r: FramesResult | undefined) => (r ? `${r.cpuPct}` : '-');
print('');
print(`glasspane bench${quick ? ' --quick' : ''} — ${result.machine.cpu}, ${result.machine.cores} cores, Node ${process.version}, load ${(result.machine.loadavg as number[]).join(' ')}, ${runSeconds} s`);
print('');
print(`Copy out of the region vs memcpy (medians of ${rounds}, each copy paired with a memcpy; target efficiency ≥ ${TARGETS.efficiency})`);
print('mode         memcpy ms  copy ms  efficiency   (strategy memcpy  avx2-stream)   copyOutAsync ms');
for (const c of copy) {
  const s = (name: string) => c.strategies.find((x) => x.strategy === name)?.efficiency;
  print(`${c.mode.padEnd(11)} ${col(c.memcpyMs, 10)} ${col(c.copyMs, 8)} ${col(c.efficiency, 11)} ${col(s('memcpy'), 18)} ${col(s('avx2-stream'), 12)} ${col(c.asyncMs, 17)}`);
}
print('');
print(`Notification latency, post → consumer sees the message, ${NOTIFY_MODE} @ ${NOTIFY_FPS} fps (µs; glasspane as the window runs it: its relay thread)`);
print(`targets: wake p50 ≤ ${TARGETS.wakeP50Us} µs; notify ≤ ${TARGETS.notifyFloorRatio} × the wake floor at p50 and p99`);
print('consumer              p50      p99      max   frames   CPU %   of which: relay thread woke p50  p99');
const notifyRow = (label: string, r: FramesResult | undefined) => {
  const wake = r?.wakeUs ? `${col(r.wakeUs.p50, 33)} ${col(r.wakeUs.p99, 5)}` : '';
  print(`${label.padEnd(19)} ${col(r?.notifyUs?.p50, 7)} ${col(r?.notifyUs?.p99, 8)} ${col(r?.notifyUs?.max, 8)} ${col(r?.frames, 8)} ${col(pct(r), 7)}${wake}`);
};
notifyRow('glasspane (watcher)', notify.relay);
notifyRow('B7-style 1 ms poll', notify.poll1ms);
print(`  the same with ${NOTIFY_SMALL_MODE} frames (the producer's write costs nothing: the waiting mechanism alone):`);
notifyRow('glasspane (watcher)', notifySmall.relay);
notifyRow('B7-style 1 ms poll', notifySmall.poll1ms);
print('  relay thread woke: post → its wait (blocked in the kernel) returned; the rest is the relay\'s JS up to process().');
print(
  wakeFloorUs
    ? `  the machine's wake floor (two processes, one storing a word and futex-waking the other @ ${NOTIFY_FPS} Hz): p50 ${wakeFloorUs.p50} µs, p99 ${wakeFloorUs.p99} µs → notify ÷ floor: p50 ${result.notifyUs ? round(result.notifyUs.p50 / Math.max(wakeFloorUs.p50, 0.1), 2) : '-'}, p99 ${result.notifyUs ? round(result.notifyUs.p99 / Math.max(wakeFloorUs.p99, 0.1), 2) : '-'}`
    : `  the machine's wake floor: n/a (${floor && !floor.available ? floor.reason : 'the trial failed'})`,
);
print('');
print(`Pipelined frame latency, post → consumer holds the whole frame, p50 ÷ one memcpy (@ ${PIPELINE_FPS} fps; for information: it includes the producer's own write)`);
print('mode         memcpy ms   glasspane ms  ratio   1 ms poll ms  ratio   producer wrote ms  ratio   floor ms  ratio');
for (const m of modes) {
  const rr = pipeline.relay.find((x) => x.mode === m.mode);
  const pr = pipeline.poll1ms.find((x) => x.mode === m.mode);
  const base = memcpyMs(m.mode);
  const w = rr?.producer?.writeDoneUs?.p50;
  const floor = copy.find((c) => c.mode === m.mode)?.pipeline;
  print(
    `${m.mode.padEnd(11)} ${col(base, 10)} ${col(rr?.latencyUs ? round(rr.latencyUs.p50 / 1000) : null, 14)} ${col(rr ? ratio(rr) : null, 6)} ${col(pr?.latencyUs ? round(pr.latencyUs.p50 / 1000) : null, 14)} ${col(pr ? ratio(pr) : null, 6)} ${col(w !== undefined ? round(w / 1000) : null, 19)} ${col(w !== undefined && base ? round(w / 1000 / base, 2) : null, 6)} ${col(floor?.followerMs, 10)} ${col(floor?.ratio, 6)}`,
  );
}
print('  producer wrote: post → the producer finished writing the frame (its own process); floor: a writer thread and a');
print('  follower thread in one process, no notification (writer start → follower holds the frame). Both ÷ memcpy.');
print('');
print(`Hand-off, the latency the consumer adds: holds the whole frame − the producer finished writing it, per frame (target p50 ≤ ${TARGETS.handoffRatio} × memcpy)`);
print('mode         memcpy ms   glasspane p50 µs  ratio   p99 µs     1 ms poll p50 µs  ratio   p99 µs');
for (const m of modes) {
  const rr = pipeline.relay.find((x) => x.mode === m.mode);
  const pr = pipeline.poll1ms.find((x) => x.mode === m.mode);
  const rh = rr ? handoffRow(rr) : null;
  const ph = pr ? handoffRow(pr) : null;
  print(
    `${m.mode.padEnd(11)} ${col(memcpyMs(m.mode), 10)} ${col(rh?.p50Us, 17)} ${col(rh?.ratio, 6)} ${col(rr?.handoffUs ? round(rr.handoffUs.p99, 1) : null, 9)} ${col(ph?.p50Us, 18)} ${col(ph?.ratio, 6)} ${col(pr?.handoffUs ? round(pr.handoffUs.p99, 1) : null, 9)}`,
  );
}
print('');
print(`Sustained rate with per-pixel verification, ${frameSeconds} s each (target 0 lost, 0 failures)`);
print('mode         target fps   glasspane fps  lost  failures  CPU %    1 ms poll fps  lost  failures  CPU %');
for (const m of modes) {
  const a = sustained.relay.find((x) => x.mode === m.mode);
  const b = sustained.poll1ms.find((x) => x.mode === m.mode);
  print(`${m.mode.padEnd(11)} ${col(SUSTAINED_FPS[m.mode] ?? 60, 11)} ${col(a?.fps, 15)} ${col(a?.lost, 5)} ${col(a?.verifyFailures, 9)} ${col(pct(a), 6)} ${col(b?.fps, 16)} ${col(b?.lost, 5)} ${col(b?.verifyFailures, 9)} ${col(pct(b), 6)}`);
}
for (const c of CONSUMERS) {
  for (const r of sustained[c]) if (r.problems.length) print(`  ${c} ${r.mode}: ${r.problems.slice(0, 3).join('; ')}${r.problems.length > 3 ? ' …' : ''}`);
}
print('');
print(
  `Idle cost, ${idle.relay?.where === 'window' ? 'the whole window process (window open, guest desktop still)' : `the consumer alone (${idle.relay?.windowReason ?? 'no window'})`} (% of one core; target ≤ ${TARGETS.idleCpuPct}): glasspane ${result.idleCpuPct ?? '-'}  1 ms poll ${result.compare.poll1ms.idleCpuPct ?? '-'}`,
);
print(
  typeof present === 'string'
    ? `Present cost of the viewer under Xvfb: ${present}`
    : `Present cost of the viewer under Xvfb (software rendering, ${present.mode} @ ${present.fps} fps, for information): render() p50 ${present.presentMs} ms, copied → presented p50 ${present.presentedLatencyMs} ms, ${present.renderFps} renders/s`,
);
print('');
printWindow(print, windowTrials, render, WINDOW_CONSUMED_RATIO, TARGETS.glassFloorRatio);
print('');
printCapture(print, capture);
print('');
print('Targets');
for (const v of verdicts) print(`  ${v.met ? 'met   ' : 'MISSED'}  ${v.what.padEnd(48)} ${v.value}`);
if (failures.length) print(`\n${failures.length} trial(s) failed: ${failures.map((f) => f.split(':')[0]).join(', ')}`);

// ---- files ----
mkdirSync(outDir, { recursive: true });
const stamp = date.toISOString().replace(/:/g, '-').replace(/\.\d+Z$/, 'Z');
const jsonPath = join(outDir, `${stamp}.json`);
const pngPath = join(outDir, `${stamp}.png`);
const details = { targets: { ...TARGETS, windowConsumedRatio: WINDOW_CONSUMED_RATIO }, verdicts, failures, copy, notify, notifySmall, wakeFloor: floor, pipeline, sustained, idle, window: windowTrials, render, capture, trials: trialNo };
writeFileSync(jsonPath, `${JSON.stringify({ ...result, details }, null, 2)}\n`);
if (!args.has('no-chart')) {
  try {
    writeFileSync(pngPath, await drawChart({ result, copy, notify, pipeline, memcpyMs, title: `glasspane bench${quick ? ' --quick' : ''} — ${result.machine.cpu}, ${result.machine.cores} cores — ${date.toISOString().slice(0, 19)}Z` }));
  } catch (err) {
    failures.push(`chart: ${(err as Error).message}`);
    say(`chart: ${(err as Error).message}`);
  }
}
print('');
print(`wrote ${jsonPath}${args.has('no-chart') ? '' : ` and ${pngPath}`}`);
if (jsonOut) {
  process.stdout.write(`${JSON.stringify(result)}\n`);
  const note = npmBannerNote();
  if (note) say(note);
}
if (failures.length) process.exitCode = 1;
