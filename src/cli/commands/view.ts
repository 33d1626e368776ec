/**
 * `glasspane view`: the viewer window on a region (SDL, with keyboard and mouse to the guest over
 * SPICE or to the stub), or a headless consumer (`--headless`), or one screenshot (`--screenshot`).
 */
import { Option, type Command } from 'commander';
import { writeFile } from 'node:fs/promises';
import { FrameRelay, type LentFrame } from '../../relay/frame-relay.js';
import { Viewer, type ViewerOptions } from '../../viewer/viewer.js';
import { framePng } from '../../viewer/screenshot.js';
import type { ViewerConfig } from '../../viewer/config.js';
import { lookFromConfig } from '../../viewer/viewer-look.js';
import { regionPath } from '../../viewer/b7-option-types.js';
import { keyName } from '../../input/key-names.js';
import { addLookingGlassArgs, defaultRegion, LOOKING_GLASS_HELP, readWindowSettings } from '../looking-glass-args.js';
import { NullInputSink, type InputSink } from '../../input/sink.js';
import { StubInputSink } from '../../input/stub-sink.js';
import { SpiceInputSink } from '../../spice/input-sink.js';
import { ClipboardBridge } from '../../viewer/clipboard-bridge.js';
import { AudioBridge } from '../../viewer/audio-bridge.js';
import { describeSpiceStatus } from '../../spice/client.js';
import { runHeadless, type HeadlessReport } from '../../relay/headless.js';
import { stubSceneVerifier } from '../../relay/scene-verifier.js';
import { GlasspaneError } from '../../errors.js';
import { checkRegionPath } from '../../region.js';
import { parseSpiceAddress } from '../../spice/address.js';
import { intOption, keyCodeOption, numberOption, sizeOption } from '../options.js';
import { exitStatusHelp } from '../exit-codes.js';
import { requireOutputDir, requireOutputFile } from '../output-path.js';
import { spiceStatusLogger } from '../spice-status-log.js';
import { withLoopStats } from '../view-stats.js';
import { onStopSignals } from '../stop-signals.js';

/**
 * The options `view --headless` (and --screenshot) use: the region, when to stop (seconds, frames),
 * verification against the stub scene, JSON output, the copy timeout (ms).
 */
export interface ViewOptions {
  shm: string;
  headless?: boolean;
  seconds?: number;
  frames?: number;
  verify?: boolean;
  json?: boolean;
  copyTimeout?: number;
  /** Ends the run (with its report) when aborted, as a signal does: e.g. the demo's stub ended. */
  stop?: AbortSignal;
}

/** Exit status: 0 frames arrived and verified, 1 verify failures, 3 no frame arrived. */
export function exitStatusFor(r: HeadlessReport): number {
  if (r.frames === 0) return 3;
  return r.verifyFailures > 0 ? 1 : 0;
}

/**
 * Runs the headless consumer for `view --headless` and resolves with its report (never rejects for
 * guest data). Live lines (one per second, status, problems) go to `out` (stderr by default); with
 * --json only when stderr is a terminal, so stdout stays pure JSON. SIGINT/SIGTERM end the run
 * with its report (onStopSignals; the handlers are removed when it ends).
 */
export async function runHeadlessView(o: ViewOptions, out: (line: string) => void = (l) => process.stderr.write(`${l}\n`)): Promise<HeadlessReport> {
  const live = !o.json || process.stderr.isTTY;
  // Before the first frame a line of zeros every second says nothing: say once what we wait for.
  let toldWaiting = false;
  const waiting = () => {
    if (toldWaiting) return;
    toldWaiting = true;
    out(`glasspane: waiting for the first guest frame in ${o.shm}; ${o.seconds === undefined ? 'Ctrl-C stops (--seconds N gives up after N s)' : `giving up after ${o.seconds} s`}`);
  };
  // Ctrl-C or a kill ends the run with its report, as --seconds does.
  const stop = new AbortController();
  const offSignals = onStopSignals(() => stop.abort());
  o.stop?.addEventListener('abort', () => stop.abort(), { once: true });
  if (o.stop?.aborted) stop.abort();
  try {
    return await runHeadless({
      stop: stop.signal,
      path: o.shm,
      seconds: o.seconds,
      frames: o.frames,
      copyTimeoutMs: o.copyTimeout,
      verifier: o.verify ? stubSceneVerifier() : undefined,
      onProblem: (m) => out(`glasspane: ${m}`),
      onStatus: (m) => live && out(`glasspane: ${m}`),
      onSecond: live
        ? (r) =>
            r.frames === 0
              ? waiting()
              : out(
                  `frames ${r.frames}  ups ${r.lastSecondUps}  latency p50 ${r.latencyMs.p50 ?? '-'} ms p99 ${r.latencyMs.p99 ?? '-'} ms${o.verify ? `  verify failures ${r.verifyFailures}` : ''}`,
                )
        : undefined,
    });
  } finally {
    offSignals();
  }
}

/** Options only the window uses (the rest of ViewOptions is shared with --headless). */
type WindowFlags = Pick<ViewerOptions, 'size' | 'fullscreen' | 'vsync' | 'integerScale' | 'osd' | 'escapeKey' | 'title' | 'screenshotDir'> & {
  config?: string;
  input?: string;
  spice?: string;
  spicePasswordFile?: string;
  spiceMouse?: 'server' | 'client';
  clipboard?: boolean;
  audio?: boolean;
  audioDevice?: string;
  microphone?: boolean;
  microphoneDevice?: string;
  screenshot?: string;
  stats?: boolean;
};

/** What the view command runs with: its flags merged with every config source, and the rest of the settings. */
type Merged = ViewOptions & WindowFlags & { settings: ViewerConfig };

/**
 * glasspane's flags given on the command line win over every config source (b7-config.ts's
 * precedence: B7 INI files < config.toml < -C / --config FILE.ini < B7 arguments); defaults
 * come last. The region: --shm, else the configs' (app:shmFile, -f, shm), else B7's default.
 */
function mergeWithConfig(cmd: Command, o: Partial<ViewOptions> & WindowFlags, cfg: ViewerConfig): Merged {
  const fromCli = (k: string) => cmd.getOptionValueSource(k) === 'cli';
  const pick = <K extends keyof ViewerConfig & keyof WindowFlags>(k: K) => (fromCli(k) || cfg[k] === undefined ? o[k] : cfg[k]);
  return {
    ...o,
    shm: regionPath(fromCli('shm') ? o.shm! : (cfg.shm ?? defaultRegion())),
    fullscreen: pick('fullscreen'),
    vsync: pick('vsync'),
    integerScale: pick('integerScale'),
    osd: pick('osd'),
    escapeKey: keyName(pick('escapeKey') ?? 'ScrollLock') ?? 'ScrollLock',
    title: pick('title'),
    input: pick('input'),
    spice: pick('spice'),
    spicePasswordFile: pick('spicePasswordFile'),
    spiceMouse: pick('spiceMouse'),
    clipboard: pick('clipboard'),
    audio: pick('audio'),
    audioDevice: pick('audioDevice'),
    microphone: pick('microphone'),
    microphoneDevice: pick('microphoneDevice'),
    screenshotDir: pick('screenshotDir'),
    size: fromCli('size') || !cfg.size ? o.size : sizeOption('size')(cfg.size),
    copyTimeout: fromCli('copyTimeout') || cfg.copyTimeoutMs === undefined ? o.copyTimeout : cfg.copyTimeoutMs,
    settings: cfg,
  };
}

/** JSON.stringify replacer: rates and milliseconds to 3 decimals (the counters' precision is far lower). */
function roundedNumbers(_key: string, v: unknown): unknown {
  return typeof v === 'number' && !Number.isInteger(v) ? Math.round(v * 1000) / 1000 : v;
}

function openSink(
  o: WindowFlags & { settings: ViewerConfig },
  onStatus: (text: string, vmUuid?: string, reachable?: boolean) => void,
  onProblem: (message: string) => void,
): { sink: InputSink; name: string; clipboard?: ClipboardBridge; audio?: AudioBridge } {
  if (o.spice) {
    const logSpice = spiceStatusLogger(onProblem);
    const c = o.settings;
    const clipboard = o.clipboard === false || (c.clipboardToGuest === false && c.clipboardToHost === false) ? undefined : new ClipboardBridge(onProblem, { toGuest: c.clipboardToGuest, toHost: c.clipboardToHost });
    const audio =
      o.audio === false
        ? undefined
        : new AudioBridge({
            device: o.audioDevice,
            microphone: o.microphone,
            // --microphone on the command line beats a micDefault from the files.
            micDefault: o.microphone ? 'allow' : c.micDefault,
            micIndicator: c.micIndicator,
            syncVolume: c.syncVolume,
            bufferMs: c.audioBufferMs,
            periodFrames: c.audioPeriodFrames,
            microphoneDevice: o.microphoneDevice,
            problem: onProblem,
          });
    const sink = SpiceInputSink.open({
      spice: o.spice,
      passwordFile: o.spicePasswordFile,
      mouseMode: o.spiceMouse,
      clipboard: clipboard?.handlers,
      audio: audio?.handlers,
      onState: (s) => {
        onStatus(describeSpiceStatus(s), s.vmUuid, s.state === 'connected');
        logSpice(s);
      },
    });
    clipboard?.attachGuest(sink.client);
    return { sink, name: `spice ${o.spice}`, clipboard, audio };
  }
  if (o.input && o.input !== 'none') {
    const url = o.input.replace(/^stub:/, '');
    if (!/^wss?:\/\//.test(url)) throw new GlasspaneError('ERR_USAGE', `--input ${o.input} is not a stub address`, 'use --input stub:ws://127.0.0.1:PORT (printed by `glasspane stub --input-port`) or --spice ADDR');
    return { sink: StubInputSink.connect(url), name: `stub ${url}` };
  }
  return { sink: new NullInputSink(), name: 'none' };
}

/** `view --screenshot FILE`: the first guest frame as a PNG at the guest's size, no window needed. */
async function screenshotAndExit(o: Merged): Promise<void> {
  const relay = new FrameRelay({ path: o.shm, copyTimeoutMs: o.copyTimeout });
  const seconds = o.seconds ?? 10;
  relay.on('problem', (p) => process.stderr.write(`glasspane: ${p.message}${p.fix ? `\n  fix: ${p.fix}` : ''}\n`));
  const frame = await new Promise<LentFrame | null>((resolve) => {
    const t = setTimeout(() => resolve(null), seconds * 1000);
    relay.once('frame', (f) => {
      clearTimeout(t);
      resolve(f);
    });
    void relay.start();
  });
  try {
    if (!frame) throw new GlasspaneError('ERR_NO_PRODUCER', `no guest frame arrived within ${seconds} s`, 'start the guest application (or `glasspane stub`), or wait longer with --seconds');
    const png = await framePng(frame.info, frame.data);
    await writeFile(o.screenshot!, png).catch((err: NodeJS.ErrnoException) => {
      throw new GlasspaneError('ERR_OUTPUT', `--screenshot ${o.screenshot}: cannot write it: ${err.code ?? err.message}`, 'name a file in a folder you can write in, on a disk with room', { cause: err });
    });
    process.stderr.write(`glasspane: wrote ${o.screenshot} (${frame.info.frameWidth}x${frame.info.dataHeight})\n`);
  } finally {
    frame?.release();
    await relay.close();
  }
}

async function runWindow(o: Merged): Promise<void> {
  let viewer: Viewer | null = null;
  const onMessage = (m: string) => process.stderr.write(`glasspane: ${m}\n`);
  const { sink, name, clipboard, audio } = openSink(o, (text, uuid, reachable) => viewer?.setInputStatus(text, uuid, reachable), onMessage);
  viewer = new Viewer({
    ...lookFromConfig(o.settings),
    shm: o.shm,
    size: o.size,
    fullscreen: o.fullscreen,
    vsync: o.vsync,
    integerScale: o.integerScale,
    osd: o.osd,
    escapeKey: o.escapeKey,
    sink,
    inputName: name,
    inputReachable: !o.spice, // SPICE delivers once connected (setInputStatus follows it)
    title: o.title,
    screenshotDir: o.screenshotDir,
    copyTimeoutMs: o.copyTimeout,
    onFigures: o.stats ? withLoopStats(sink, (f) => process.stdout.write(`${JSON.stringify(f, roundedNumbers)}\n`)) : undefined,
    onMessage,
    clipboard,
    audio,
  });
  const stop = () => void viewer.close();
  const offSignals = onStopSignals(stop);
  const timer = o.seconds !== undefined ? setTimeout(stop, o.seconds * 1000) : null;
  try {
    await viewer.run();
  } finally {
    if (timer) clearTimeout(timer);
    offSignals();
    await sink.close();
  }
}

/**
 * Adds `glasspane view` to `program` (see ./program.ts: registered only when the user names it).
 * Its action writes to stdout/stderr, sets process.exitCode for the outcomes that are not errors,
 * and throws GlasspaneErrors that main() turns into a message and an exit status (exit-codes.ts).
 * Opens the window (or runs headless, or takes one screenshot) and returns when it is done;
 * headless and --screenshot exit 3 when no frame arrived, headless 1 when --verify failed.
 */
export function registerView(program: Command): void {
  const view = program.command('view');
  const shorts = addLookingGlassArgs(view);
  view
    .description('show the guest in a window (or consume its frames headless)')
    .option('--shm <path>', 'the region: /dev/shm/NAME (QEMU ivshmem mem-path), /dev/kvmfrN or kvmfrN (default: the config\'s, else /dev/kvmfr0 if present, else /dev/shm/looking-glass)')
    .option('--headless', 'no window: read every frame and print statistics')
    .option('--seconds <s>', 'stop after this many seconds', numberOption('--seconds', 0, 1e7))
    .option('--frames <n>', 'headless: stop after this many frames', intOption('--frames', 1, 2 ** 31))
    .option('--verify', 'headless: check every frame against guest-stub\'s test scene')
    .option('--json', 'headless: print one JSON object with the results when done')
    .option('--copy-timeout <ms>', 'drop a frame whose write pointer stops moving this long', numberOption('--copy-timeout', 1, 10000), 100)
    .option('--size <WxH>', 'window size', sizeOption('--size'))
    .option('--fullscreen', 'start fullscreen')
    .option('--no-vsync', 'present frames as they come instead of at the display refresh')
    .option('--integer-scale', 'scale by whole numbers only, 2x or 1/2 (sharp pixels)')
    .option('--no-osd', 'start without the on-screen display')
    .option('--escape-key <name>', 'the capture/escape key: a KeyboardEvent.code or Linux KEY_* name, any case', keyCodeOption('--escape-key'), 'ScrollLock')
    .option('--input <target>', 'where keyboard and mouse go in capture: stub:ws://127.0.0.1:PORT or none', 'none')
    .option('--spice <addr>', 'forward input to QEMU over SPICE: HOST:PORT or unix:/path')
    .option('--spice-password-file <file>', 'SPICE password file (else $GLASSPANE_SPICE_PASSWORD)')
    .addOption(
      new Option('--spice-mouse <mode>', 'SPICE mouse: server (relative, captured) or client (absolute; needs a tablet or the agent in the guest)')
        .choices(['server', 'client'])
        .default('server'),
    )
    .option('--no-clipboard', 'do not share clipboard text with the guest (needs spice-vdagent there)')
    .option('--no-audio', 'do not play the guest\'s sound (SPICE playback; QEMU needs -audiodev spice)')
    .option('--audio-device <name>', 'play the guest\'s sound on this SDL device (default: the system default)')
    .option('--microphone', 'send the host microphone to the guest while it records (off by default; the OSD shows MIC LIVE)')
    .option('--microphone-device <name>', 'record from this SDL capture device (default: the system default)')
    .option('--title <text>', 'window title (default: the producer and guest OS)')
    .option('--screenshot <file>', 'write the first guest frame as a PNG at the guest\'s size and exit (no window needed)')
    .option('--screenshot-dir <dir>', 'where escape+S saves screenshots (default: the current folder)')
    .option('--stats', 'print the OSD figures as a JSON line every second')
    .option('--config <file>', 'config file: glasspane TOML (default: $XDG_CONFIG_HOME/glasspane/config.toml) or a Looking Glass .ini')
    .addHelpText(
      'after',
      `
Examples:
  glasspane view --spice 127.0.0.1:5900            # the region: /dev/shm/looking-glass
  glasspane view -f /dev/shm/win11 -F spice:port=5901
  glasspane view --shm /dev/kvmfr0 --size 1920x1080 --integer-scale --escape-key Pause
  glasspane view --shm /dev/shm/looking-glass --screenshot guest.png
  glasspane view --shm /dev/shm/looking-glass --headless --seconds 10 --json
  glasspane view --shm /dev/shm/test --headless --verify --frames 600 --json
Audio: with --spice, the guest's sound plays here when QEMU has -audiodev spice,id=snd0
-device intel-hda -device hda-duplex,audiodev=snd0 (\`vm up\` adds them with audio = true).
Keys: ScrollLock tapped toggles capture (keyboard and mouse go to the guest); held, it shows the
help overlay; ScrollLock+F fullscreen, +Q quit, +D OSD, +I input on/off, +S screenshot, and
Looking Glass's: +F1..F12 Ctrl+Alt+Fn, +Insert/Delete mouse sensitivity, +Up/Down/M volume and
mute, +LWin/RWin, +V video, +R rotate, +E/C microphone (docs/viewer.md).
${LOOKING_GLASS_HELP}
${exitStatusHelp({ 1: 'frames failed --verify', 3: 'no guest frame arrived (--headless, --screenshot)' })}`,
    )
    .action(async (longs: string[], raw: Partial<ViewOptions> & WindowFlags, cmd: Command) => {
      const read = readWindowSettings(raw.config, shorts, longs);
      if (!read) return; // -l printed the licence
      const o = mergeWithConfig(cmd, raw, read.settings);
      // A region that can never be one, or that we may not open, and a malformed --spice fail now
      // (also with --headless, which has no use for --spice): not after a wait, not never.
      checkRegionPath(o.shm, '--shm');
      if (o.spice) parseSpiceAddress(o.spice);
      // Output paths are checked before any waiting: a typo fails now, not after the first frame.
      if (o.screenshot) o.screenshot = requireOutputFile(o.screenshot, '--screenshot');
      if (o.screenshotDir) o.screenshotDir = requireOutputDir(o.screenshotDir, o.screenshotDir === raw.screenshotDir ? '--screenshot-dir' : 'screenshotDir (config)');
      if (o.screenshot) return screenshotAndExit(o);
      if (!o.headless) return runWindow(o);
      const r = await runHeadlessView(o);
      const { lastSecondUps: _live, ...result } = r;
      if (o.json) process.stdout.write(`${JSON.stringify(result)}\n`);
      else process.stderr.write(`glasspane: ${r.frames} frames (${r.uniqueFrames} unique, ${r.ups} ups), ${r.verifyFailures} verify failures, latency p50 ${r.latencyMs.p50 ?? '-'} ms p99 ${r.latencyMs.p99 ?? '-'} ms\n`);
      process.exitCode = exitStatusFor(r);
    });
}
