/** `glasspane capture`: inside a Linux guest, write the X11 desktop into the region in the B7 format. */
import type { Command } from 'commander';
import { CaptureProducer } from '../../../guest-stub/x11-producer.js';
import { producerRegion } from '../../../guest-stub/ivshmem-device.js';
import { intOption, numberOption } from '../options.js';
import { exitStatusHelp } from '../exit-codes.js';
import { claimRegionFile } from '../stub-region.js';
import { checkRegionPath } from '../../region.js';
import { onStopSignals } from '../stop-signals.js';

interface CaptureFlags {
  shm?: string;
  device?: string;
  sysRoot?: string;
  display?: string;
  size?: number;
  fps: number;
  seconds?: number;
  uuid?: string;
  force?: boolean;
  quiet?: boolean;
}

/**
 * Adds `glasspane capture` to `program` (registered only when the user names it, see
 * ../program.ts). Its action writes status lines to stderr and throws GlasspaneErrors that main()
 * turns into a message and an exit status; it runs until --seconds, a signal, or a fatal error
 * (the X server gone: ERR_X11_LOST).
 */
export function registerCapture(program: Command): void {
  program
    .command('capture')
    .description('inside a Linux guest: show its X11 desktop to glasspane or Looking Glass B7 (writes it into the region in the B7 format)')
    .option('--device <address>', 'write to the ivshmem device\'s BAR 2 (auto = the only 1af4:1110 device, or a PCI address like 0000:00:05.0)')
    .option('--shm <path>', 'write to this region instead: /dev/shm/NAME (created if missing) or a PCI BAR resource file')
    .option('--sys-root <dir>', 'with --device: a directory standing for / when looking in /sys (a copy of a guest\'s sysfs)')
    .option('--display <name>', 'the X display to capture (default: $DISPLAY)')
    .option('--size <MiB>', 'region size in MiB when creating a --shm file (default: the B7 rule for the screen)', intOption('--size', 1, 65536))
    .option('--fps <n>', 'at most this many frames a second (0 = as fast as the desktop changes); nothing is sent while nothing changes', numberOption('--fps', 0, 1000), 60)
    .option('--seconds <s>', 'stop after this many seconds', numberOption('--seconds', 0, 1e7))
    .option('--uuid <uuid>', 'VM UUID to advertise in the VMINFO record (default: random)')
    .option('--force', 'write into an existing --shm file even if it is not an LGMP region (its content is lost)')
    .option('--quiet', 'no statistics line every second')
    .addHelpText(
      'after',
      `
Examples:
  glasspane capture --device auto                 # in the guest's desktop session (docs/linux-guest.md)
  glasspane capture --device 0000:00:05.0 --fps 144
  glasspane capture --shm /dev/shm/looking-glass --display :1    # any local X display, e.g. for a test
Then on the host: glasspane view --shm /dev/shm/looking-glass (or looking-glass-client).
It needs read and write access to the device's resource2 file (docs/linux-guest.md has the udev
rule), no root. Pixels are copied by the X server straight into the region, only where the screen
changed (XDamage); the cursor comes from XFixes, a resolution change becomes a new frame format.${exitStatusHelp()}`,
    )
    .action(async (o: CaptureFlags) => {
      if (o.shm) checkRegionPath(o.shm, '--shm');
      const { shmPath, mapBytes, device } = producerRegion(o);
      if (device) process.stderr.write(`glasspane capture: ivshmem device ${device.address}, BAR 2 ${device.bytes >> 20} MiB (${device.resourcePath})\n`);
      const file = o.shm ? await claimRegionFile(o.shm, Boolean(o.force)) : null;
      let capture: CaptureProducer;
      try {
        capture = new CaptureProducer({
          shmPath,
          mapBytes,
          display: o.display,
          sizeMiB: o.size,
          fps: o.fps,
          seconds: o.seconds,
          uuid: o.uuid,
          onProblem: (m) => process.stderr.write(`glasspane capture: ${m}\n`),
        });
      } catch (err) {
        file?.discardIfCreated(); // nothing is left behind by a capture that could not start
        throw err;
      }
      const s = capture.stats;
      process.stderr.write(`glasspane capture: ${o.display ?? process.env.DISPLAY} ${s.width}x${s.height}${file && !o.quiet ? `, region ${file.describe()}` : ''}\n`);
      if (s.truncated) process.stderr.write(`glasspane capture: the region is too small for ${s.width}x${s.height}: frames are TRUNCATED to ${s.dataHeight} rows\n`);
      const offSignals = onStopSignals(() => void capture.stop());
      // A line only for a second in which something was sent: an idle desktop leaves the log alone.
      let last = { frames: 0, pixels: 0, cursor: 0 };
      const ticker = o.quiet
        ? null
        : setInterval(() => {
            if (s.framesPosted === last.frames && s.cursorMessages === last.cursor) return;
            const mpx = (s.pixelsCopied - last.pixels) / 1e6;
            process.stderr.write(`capture: ${s.framesPosted - last.frames} fps, ${mpx.toFixed(1)} Mpx copied, ${s.framesPosted} frames posted, ${s.cursorMessages} cursor messages\n`);
            last = { frames: s.framesPosted, pixels: s.pixelsCopied, cursor: s.cursorMessages };
          }, 1000);
      try {
        await capture.run();
      } finally {
        if (ticker) clearInterval(ticker);
        offSignals();
        await capture.stop();
      }
    });
}
