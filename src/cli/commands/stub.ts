/** `glasspane stub`: run guest-stub, the test-scene producer, on a shared-memory region. */
import type { Command } from 'commander';
import { StubProducer } from '../../../guest-stub/producer.js';
import { SCENE_NAMES, type SceneName } from '../../scenes/bars.js';
import { choiceOption, intOption, numberOption } from '../options.js';
import { regionSizeMiB } from '../../kvmfr/sizing.js';
import { producerRegion } from '../../../guest-stub/ivshmem-device.js';
import { checkRegionPath } from '../../region.js';
import { exitStatusHelp } from '../exit-codes.js';
import { claimRegionFile } from '../stub-region.js';
import { onStopSignals } from '../stop-signals.js';

/**
 * Adds `glasspane stub` to `program` (see ./program.ts: registered only when the user names it).
 * Its action writes to stdout/stderr, sets process.exitCode for the outcomes that are not errors,
 * and throws GlasspaneErrors that main() turns into a message and an exit status (exit-codes.ts).
 * Runs until --seconds, a signal, or a fatal error; the region file is claimed first
 * (claimRegionFile).
 */
export function registerStub(program: Command): void {
  program
    .command('stub')
    .description('produce an animated, verifiable test scene in the Looking Glass B7 format (guest-stub)')
    .option('--shm <path>', 'region to write: /dev/shm/NAME (created if missing), /dev/kvmfrN, or a PCI BAR resource file')
    .option('--device <address>', 'inside a guest: write to the ivshmem device\'s BAR 2 (auto = the only 1af4:1110 device, or a PCI address like 0000:00:05.0)')
    .option('--sys-root <dir>', 'with --device: a directory standing for / when looking in /sys (a copy of a guest\'s sysfs)')
    .option('--evdev <paths...>', 'input-echo scene: event devices to read (default: every /dev/input/event*)')
    .option('--size <MiB>', 'region size in MiB when creating it (default: the B7 rule for the frame size)', intOption('--size', 1, 65536))
    .option('--width <pixels>', 'frame width', intOption('--width', 8, 16384), 1920)
    .option('--height <pixels>', 'frame height', intOption('--height', 2, 16384), 1080)
    .option('--fps <n>', 'frame rate cap (0 = as fast as the consumer acknowledges)', numberOption('--fps', 0, 1000), 60)
    .option('--scene <name>', `test scene (${SCENE_NAMES.join(', ')})`, choiceOption('--scene', SCENE_NAMES), 'bars')
    .option('--format <format>', 'pixel format: bgra, rgba, or B7\'s 24-bit bgr_32 / rgb_24 (bars scene only)', choiceOption('--format', ['bgra', 'rgba', 'bgr_32', 'rgb_24'] as const), 'bgra')
    .option('--seconds <s>', 'stop after this many seconds', numberOption('--seconds', 0, 1e7))
    .option('--uuid <uuid>', 'VM UUID to advertise in the VMINFO record (default: random)')
    .option('--frames <n>', 'post this many frames, then only keep the session alive', intOption('--frames', 1, 2 ** 31))
    .option('--input-port <port>', 'accept viewer input on ws://127.0.0.1:PORT (0 = any free port; the address is printed)', intOption('--input-port', 0, 65535))
    .option('--input-log', 'print every input message received as a JSON line on stdout')
    .option('--force', 'write into an existing file even if it is not an LGMP region (its content is lost) or another producer is writing it')
    .option('--quiet', 'no live statistics')
    .addHelpText(
      'after',
      `
Examples:
  glasspane stub --shm /dev/shm/looking-glass --size 32 --width 1920 --height 1080 --fps 60
  glasspane stub --shm /dev/shm/test --width 2560 --height 1440 --format rgba --seconds 30
  glasspane stub --shm /dev/shm/demo --scene input --input-port 0    # then: glasspane view --shm /dev/shm/demo --input stub:ws://…
  glasspane stub --device auto --scene input-echo --width 640 --height 360    # in a guest with ivshmem-plain, as root
The official Looking Glass B7 client can show it: looking-glass-client -f /dev/shm/looking-glass
A region file the stub creates gets mode 0660 (owner and group may map it, e.g. QEMU in group kvm);
an existing file is used only if it already is a region (or all zeros) that no live producer is
writing (its heartbeat still), unless --force.
With --input-port the input address is printed on stdout (the one line before any --input-log).${exitStatusHelp()}`,
    )
    .action(async (o: { shm?: string; device?: string; sysRoot?: string; evdev?: string[]; size?: number; width: number; height: number; fps: number; scene: SceneName; format: 'bgra' | 'rgba' | 'bgr_32' | 'rgb_24'; seconds?: number; uuid?: string; quiet?: boolean; force?: boolean; frames?: number; inputPort?: number; inputLog?: boolean }) => {
      if (o.shm) checkRegionPath(o.shm, '--shm');
      const { shmPath, mapBytes, device } = producerRegion(o);
      if (device) process.stderr.write(`glasspane stub: ivshmem device ${device.address}, BAR 2 ${device.bytes >> 20} MiB (${device.resourcePath})\n`);
      const file = o.shm ? await claimRegionFile(o.shm, Boolean(o.force)) : null;
      let stub: StubProducer;
      try {
        stub = new StubProducer({
          shmPath,
          mapBytes,
          evdevPaths: o.evdev,
          sizeMiB: o.size ?? regionSizeMiB(o.width, o.height),
          width: o.width,
          height: o.height,
          fps: o.fps,
          scene: o.scene,
          format: o.format,
          seconds: o.seconds,
          uuid: o.uuid,
          frames: o.frames,
          onInput: o.inputLog ? (m) => process.stdout.write(`${JSON.stringify(m)}\n`) : undefined,
          onProblem: (m) => process.stderr.write(`glasspane stub: ${m}\n`),
        });
      } catch (err) {
        file?.discardIfCreated(); // e.g. --size 1: too small for the frames, and nothing left behind
        throw err;
      }
      if (file && !o.quiet) process.stderr.write(`glasspane stub: region ${file.describe()}\n`);
      if (o.inputPort !== undefined) {
        // Data for the user or a script (the viewer's --input stub:URL): stdout.
        process.stdout.write(`${await stub.listenForInput(o.inputPort)}\n`);
      }
      if (stub.stats.truncated) {
        process.stderr.write(
          `glasspane stub: the region is too small for ${o.width}x${o.height}: frames are TRUNCATED to ${stub.stats.dataHeight} rows (use --size ${regionSizeMiB(o.width, o.height)})\n`,
        );
      }
      const stop = () => void stub.stop();
      const offSignals = onStopSignals(stop);
      // Started by `glasspane demo` over an IPC channel: stop when the demo is gone, however it
      // went (the channel alone must not keep this process alive).
      process.channel?.unref();
      process.once('disconnect', stop);
      let last = 0;
      const ticker = o.quiet
        ? null
        : setInterval(() => {
            const s = stub.stats;
            process.stderr.write(`stub: ${s.framesPosted - last} fps, ${s.framesPosted} frames posted, waited on the consumer ${s.waitsForConsumer}x\n`);
            last = s.framesPosted;
          }, 1000);
      try {
        await stub.run();
      } finally {
        if (ticker) clearInterval(ticker);
        offSignals();
        process.off('disconnect', stop);
        await stub.stop();
      }
    });
}
