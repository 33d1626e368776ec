/** `glasspane view`: consume frames from a region (headless now; the window comes with the viewer). */
import type { Command } from 'commander';
import { runHeadless, type FrameVerifier, type HeadlessReport } from '../../relay/headless.js';
import { SceneVerifier } from '../../../guest-stub/verify.js';
import { GlasspaneError } from '../../errors.js';
import { intOption, numberOption } from '../options.js';

export interface ViewOptions {
  shm: string;
  headless?: boolean;
  seconds?: number;
  frames?: number;
  verify?: boolean;
  json?: boolean;
  copyTimeout?: number;
}

/** Checks every frame against guest-stub's scene; the stub carries its post time in the pixels. */
export function stubSceneVerifier(): FrameVerifier {
  const v = new SceneVerifier();
  return (f) => {
    const i = f.info;
    if (i.format.name !== 'BGRA' && i.format.name !== 'RGBA') return { error: `format ${i.format.name} is not a stub scene format` };
    const r = v.verify(f.data, i.frameWidth, i.frameHeight, i.dataHeight, i.pitch, i.type, i.frameSerial);
    return { error: r.ok ? null : `frame ${i.frameSerial}: ${r.error}`, postedNs: r.postedNs };
  };
}

/** Exit status: 0 frames arrived and verified, 1 verify failures, 3 no frame arrived. */
export function exitStatusFor(r: HeadlessReport): number {
  if (r.frames === 0) return 3;
  return r.verifyFailures > 0 ? 1 : 0;
}

export async function runHeadlessView(o: ViewOptions, out: (line: string) => void = (l) => process.stderr.write(`${l}\n`)): Promise<HeadlessReport> {
  const live = !o.json || process.stderr.isTTY;
  return runHeadless({
    path: o.shm,
    seconds: o.seconds,
    frames: o.frames,
    copyTimeoutMs: o.copyTimeout,
    verifier: o.verify ? stubSceneVerifier() : undefined,
    onProblem: (m) => out(`glasspane: ${m}`),
    onStatus: (m) => live && out(`glasspane: ${m}`),
    onSecond: live
      ? (r) =>
          out(
            `frames ${r.frames}  ups ${r.lastSecondUps}  latency p50 ${r.latencyMs.p50 ?? '-'} ms p99 ${r.latencyMs.p99 ?? '-'} ms${o.verify ? `  verify failures ${r.verifyFailures}` : ''}`,
          )
      : undefined,
  });
}

export function registerView(program: Command): void {
  program
    .command('view')
    .description('show the guest\'s frames (for now: consume them headless and report)')
    .requiredOption('--shm <path>', 'the region: /dev/shm/NAME (QEMU ivshmem mem-path) or /dev/kvmfrN')
    .option('--headless', 'no window: read every frame and print statistics')
    .option('--seconds <s>', 'stop after this many seconds', numberOption('--seconds', 0, 1e7))
    .option('--frames <n>', 'stop after this many frames', intOption('--frames', 1, 2 ** 31))
    .option('--verify', 'check every frame against guest-stub\'s test scene')
    .option('--json', 'print one JSON object with the results when done')
    .option('--copy-timeout <ms>', 'drop a frame whose write pointer stops moving this long', numberOption('--copy-timeout', 1, 10000), 40)
    .addHelpText(
      'after',
      `
Examples:
  glasspane view --shm /dev/shm/looking-glass --headless
  glasspane view --shm /dev/kvmfr0 --headless --seconds 10 --json
  glasspane view --shm /dev/shm/test --headless --verify --frames 600 --json
Exit status: 0 frames arrived (and verified), 1 verify failures, 3 no frame arrived.`,
    )
    .action(async (o: ViewOptions) => {
      if (!o.headless) {
        throw new GlasspaneError('ERR_USAGE', 'the viewer window is not part of this build yet', 'add --headless to consume frames without a window');
      }
      const r = await runHeadlessView(o);
      const { lastSecondUps: _live, ...result } = r;
      if (o.json) process.stdout.write(`${JSON.stringify(result)}\n`);
      else process.stderr.write(`glasspane: ${r.frames} frames (${r.uniqueFrames} unique, ${r.ups} ups), ${r.verifyFailures} verify failures, latency p50 ${r.latencyMs.p50 ?? '-'} ms p99 ${r.latencyMs.p99 ?? '-'} ms\n`);
      process.exitCode = exitStatusFor(r);
    });
}
