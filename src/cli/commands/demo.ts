/**
 * `glasspane demo` (what `npm start` runs): guest-stub and glasspane together, no VM needed.
 * On a desktop: the viewer window on the stub's "input" scene, with keyboard and mouse going back
 * to the stub over a WebSocket (ScrollLock toggles capture). Without a display (or --headless):
 * a consumer that verifies every frame and prints live statistics.
 */
import { InvalidArgumentError, Option, type Command } from 'commander';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { runHeadlessView, exitStatusFor } from './view.js';
import { intOption, keyCodeOption, numberOption, sizeOption } from '../options.js';
import { regionSizeMiB } from '../../kvmfr/sizing.js';
import { Viewer } from '../../viewer/viewer.js';
import { loadSdl } from '../../viewer/sdl.js';
import { GlasspaneError } from '../../errors.js';
import { StubInputSink } from '../../input/stub-sink.js';
import { lookFromConfig } from '../../viewer/viewer-look.js';
import { addLookingGlassArgs, LOOKING_GLASS_HELP, readWindowSettings } from '../looking-glass-args.js';
import { exitStatusHelp } from '../exit-codes.js';
import { requireOutputDir } from '../output-path.js';
import { onStopSignals } from '../stop-signals.js';
import { removeOrphanedFiles } from '../../orphan-files.js';

/** Said when the demo cannot open its window: why, what it does instead, how to get the window. */
const NO_DISPLAY =
  'glasspane demo: there is no display here (DISPLAY and WAYLAND_DISPLAY are unset), so no window: running the demo headless instead.\n' +
  '  to see the window: run it in a terminal of your desktop session, or over `ssh -X` from one\n';

interface DemoOptions {
  size: { width: number; height: number };
  escapeKey: string;
  config?: string;
  fps: number;
  seconds?: number;
  headless?: boolean;
}

/** The stub's own limits on the frame size (`stub --width`, `--height`), checked here so the error names --size. */
const FRAME_LIMITS = { minWidth: 8, minHeight: 2, max: 16384 } as const;

/** "WxH" within FRAME_LIMITS; a usage error (exit 2) naming --size otherwise. */
function demoSize(v: string): { width: number; height: number } {
  const size = sizeOption('--size')(v);
  const { minWidth, minHeight, max } = FRAME_LIMITS;
  if (size.width < minWidth || size.height < minHeight || size.width > max || size.height > max) {
    throw new InvalidArgumentError(`--size must be from ${minWidth}x${minHeight} to ${max}x${max}, got "${v}"`);
  }
  return size;
}

/** The demo's stub ended before the demo did: its own message (on stderr, inherited) says why. */
function stubExited(code: number | null): GlasspaneError {
  return new GlasspaneError('ERR_DEMO_STUB_EXITED', `the guest-stub the demo runs exited (status ${code ?? 'killed by a signal'}) before the demo ended; its message is above`, 'fix what the stub said, then run the demo again');
}

/**
 * Whether the viewer window can open here: SDL loads and reaches the display. When it cannot, the
 * line that says so and that the demo runs headless instead (with the fix); null when it can.
 */
async function windowUnavailable(): Promise<string | null> {
  try {
    await loadSdl();
    return null;
  } catch (err) {
    if (!(err instanceof GlasspaneError) || (err.code !== 'ERR_DISPLAY_UNREACHABLE' && err.code !== 'ERR_NO_SDL')) throw err;
    const fix = err.code === 'ERR_NO_SDL' ? 'install libsdl2-dev and run `npm run build:sdl` in the glasspane folder' : 'check DISPLAY / WAYLAND_DISPLAY, or run it in a terminal of your desktop session';
    return `glasspane demo: ${err.message}, so no window: running the demo headless instead.\n  to see the window: ${fix}\n`;
  }
}

/** Regions of earlier demos that were killed before they could remove theirs (named by their pid). */
function removeStaleDemoRegions(): void {
  removeOrphanedFiles('/dev/shm', /^glasspane-demo-(\d+)$/);
}

/** Starts the stub as a child process; resolves with its input URL once it is listening. */
async function startStub(shm: string, o: DemoOptions, interactive: boolean): Promise<{ child: ChildProcess; url: string | null; exited: Promise<number | null> }> {
  const { width, height } = o.size;
  const args = [process.argv[1]!, 'stub', '--shm', shm, '--size', String(regionSizeMiB(width, height)), '--width', String(width), '--height', String(height), '--fps', String(o.fps), '--quiet'];
  if (interactive) args.push('--scene', 'input', '--input-port', '0');
  // The IPC channel is the stub's lifeline: it stops when the demo dies, however it dies.
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit', 'ipc'] });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let url: string | null = null;
  let out = '';
  // The stub prints its input address on stdout (its only stdout line here).
  child.stdout!.on('data', (d: Buffer) => {
    out += String(d);
    url ??= /^(ws:\/\/\S+)$/m.exec(out)?.[1] ?? null;
  });
  let ended: number | null | undefined;
  void exited.then((code) => (ended = code));
  // Let the stub create the region (and its input endpoint) first; a stub that ended is an error.
  for (let i = 0; i < 100 && ended === undefined && (!existsSync(shm) || (interactive && !url)); i++) await new Promise((r) => setTimeout(r, 50));
  if (ended !== undefined) throw stubExited(ended);
  return { child, url, exited };
}

/**
 * Adds `glasspane demo` to `program` (see ./program.ts: registered only when the user names it).
 * Its action writes to stdout/stderr, sets process.exitCode for the outcomes that are not errors,
 * and throws GlasspaneErrors that main() turns into a message and an exit status (exit-codes.ts).
 * Starts the stub as a child process and stops it (and removes its region) on every way out.
 */
export function registerDemo(program: Command): void {
  const demo = program.command('demo');
  const shorts = addLookingGlassArgs(demo);
  demo
    .description('guest-stub and glasspane together: the viewer window with input on a desktop, a verifying consumer without one')
    .addOption(new Option('--size <WxH>', 'frame size').argParser(demoSize).default({ width: 1920, height: 1080 }, '1920x1080'))
    .option('--fps <n>', 'frame rate', intOption('--fps', 1, 1000), 60)
    .option('--seconds <s>', 'stop after this many seconds (default: until Ctrl-C or the window closes)', numberOption('--seconds', 0, 1e7))
    .option('--headless', 'no window even on a desktop: verify every frame and print statistics')
    .addOption(new Option('--escape-key <name>', 'the capture/escape key, a KeyboardEvent.code or KEY_* name (e.g. Pause, ControlRight on a laptop without ScrollLock)').argParser(keyCodeOption('--escape-key')).default('ScrollLock', 'escapeKey from the config file, else ScrollLock'))
    .option('--config <file>', 'viewer config file: glasspane TOML or a Looking Glass .ini; the window settings apply (default: $XDG_CONFIG_HOME/glasspane/config.toml)')
    .addHelpText('after', `\nExamples:\n  npm start\n  glasspane demo --size 2560x1440 --fps 144 --seconds 10\n  glasspane demo --escape-key Pause\n  glasspane demo -F input:mouseSens=3\n  glasspane demo --headless --seconds 10\nThe demo makes its own region and input: the region and SPICE settings of the config files do not apply.\n${LOOKING_GLASS_HELP}${exitStatusHelp({ 1: 'frames failed verification (--headless)', 3: 'no frame arrived (--headless)' })}`)
    .action(async (longs: string[], o: DemoOptions, cmd: Command) => {
      // The same config sources as `view` (flags given on the command line win).
      const read = readWindowSettings(o.config, shorts, longs);
      if (!read) return; // -l printed the licence
      const cfg = read.settings;
      // Asked for on this command line, they would otherwise be dropped without a word.
      const forView = [...shorts.flatMap((a) => ('short' in a && 'fcps'.includes(a.short) ? [`-${a.short}`] : [])), ...longs.filter((l) => /^(app:shmFile|spice:)/i.test(l))];
      if (forView.length) process.stderr.write(`glasspane demo: ${forView.join(' ')}: the demo makes its own region and input; these are for \`glasspane view\`\n`);
      const escapeKey = cmd.getOptionValueSource('escapeKey') === 'cli' ? o.escapeKey : (cfg.escapeKey ?? o.escapeKey);
      removeStaleDemoRegions();
      const shm = `/dev/shm/glasspane-demo-${process.pid}`;
      const hasDisplay = Boolean(process.env.DISPLAY || process.env.WAYLAND_DISPLAY);
      // A display that is named but does not answer gets the headless demo too, said as such.
      const noWindow = o.headless ? '' : hasDisplay ? await windowUnavailable() : NO_DISPLAY;
      const interactive = !o.headless && !noWindow;
      const { width, height } = o.size;
      process.stderr.write(
        interactive
          ? `glasspane demo: guest-stub draws ${width}x${height} at ${o.fps} fps; ${escapeKey} (tap) captures keyboard and mouse and sends them to the stub, which draws them. Hold ${escapeKey} for help.\n`
          : `${noWindow ?? ''}glasspane demo: guest-stub writes ${width}x${height} at ${o.fps} fps into ${shm}; the consumer verifies every frame and prints statistics (Ctrl-C stops)\n`,
      );
      const stub = await startStub(shm, o, interactive).catch((err: unknown) => {
        rmSync(shm, { force: true });
        throw err;
      });
      try {
        if (interactive) {
          const sink = StubInputSink.connect(stub.url ?? 'ws://127.0.0.1:1');
          const viewer = new Viewer({
            ...lookFromConfig(cfg),
            shm,
            sink,
            inputName: 'guest-stub',
            title: cfg.title ?? 'demo (guest-stub)',
            size: cfg.size ? sizeOption('size')(cfg.size) : { width: Math.min(width, 1280), height: Math.round((Math.min(width, 1280) * height) / width) },
            escapeKey,
            fullscreen: cfg.fullscreen,
            vsync: cfg.vsync,
            integerScale: cfg.integerScale,
            osd: cfg.osd,
            screenshotDir: cfg.screenshotDir && requireOutputDir(cfg.screenshotDir, 'screenshotDir (config)'),
            onMessage: (m) => process.stderr.write(`glasspane: ${m}\n`),
          });
          let stopping = false;
          const stop = () => {
            stopping = true;
            void viewer.close();
          };
          // Left installed through the cleanup below: a Ctrl-C there closes the closed viewer again
          // (nothing) rather than ending the demo before it removed its region.
          onStopSignals(stop);
          const timer = o.seconds !== undefined ? setTimeout(stop, o.seconds * 1000) : null;
          let stubCode: number | null | undefined;
          void stub.exited.then((code) => {
            if (!stopping) stubCode = code;
            stop();
          });
          await viewer.run();
          if (timer) clearTimeout(timer);
          await sink.close();
          if (stubCode !== undefined) throw stubExited(stubCode);
          return;
        }
        // The stub ending first ends the run, and the demo with ERR_DEMO_STUB_EXITED.
        const stubGone = new AbortController();
        let stubCode: number | null | undefined;
        void stub.exited.then((code) => {
          stubCode = code;
          stubGone.abort();
        });
        const r = await runHeadlessView({ shm, headless: true, verify: true, seconds: o.seconds, stop: stubGone.signal }, (l) => process.stdout.write(`${l}\n`));
        if (stubCode !== undefined) throw stubExited(stubCode);
        process.stdout.write(
          `demo: ${r.frames} frames verified with ${r.verifyFailures} failures, ${r.ups} ups, post→copied latency p50 ${r.latencyMs.p50} ms p99 ${r.latencyMs.p99} ms\n`,
        );
        process.exitCode = exitStatusFor(r);
      } finally {
        stub.child.kill('SIGTERM');
        await stub.exited;
        rmSync(shm, { force: true });
      }
    });
}
