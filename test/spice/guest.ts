/**
 * Test helper: a real Linux guest for end-to-end input tests. Debian's kernel (package
 * linux-image-amd64) boots under TCG with a tiny initramfs built here: busybox-static as /init's
 * shell, evdev.ko and psmouse.ko from the same kernel, and an /init that prints the input devices
 * and then dumps every /dev/input/event* (struct input_event, 24 bytes on x86-64) as hex lines
 * on the serial port: `EV<n> <48 hex digits>`.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { startQemu, type QemuHandle } from './qemu.js';
import { progressLog } from '../support/progress.js';
import { findBusybox, hostKernel, initLoadModules, initWaitForInput, INIT_START, moduleClosure, writeInitramfs, type ExtraFile } from '../support/initramfs.js';

/** The host's kernel and busybox, which the test guest boots (see findGuestParts). */
export interface GuestParts {
  /** /boot/vmlinuz-<version>. */
  kernel: string;
  /** Its version: the modules come from /lib/modules/<version>. */
  version: string;
  busybox: string;
}

/** Modules for the PS/2 keyboard and mouse as evdev devices. */
const INPUT_MODULES = ['evdev', 'psmouse'];

/** Modules for a virtio-serial port (the agent's), dependencies come with them. */
const VIRTIO_SERIAL_MODULES = ['virtio_pci', 'virtio_console'];

/** Sound modules for QEMU's intel-hda + hda-duplex with OSS emulation (/dev/dsp), dependencies come with them. */
export const SOUND_MODULES = ['snd-hda-codec-generic', 'snd-hda-intel', 'snd-pcm-oss'];

/** Finds the kernel (with evdev.ko and psmouse.ko) and busybox, or says what is missing. */
export function findGuestParts(): GuestParts | string {
  const busybox = findBusybox();
  if (!busybox) return 'busybox-static is not installed';
  const kernel = hostKernel();
  if (typeof kernel === 'string') return kernel;
  const missing = INPUT_MODULES.filter((m) => !moduleClosure(kernel.version, [m]).length);
  if (missing.length) return `no ${missing.join(' or ')} module under /lib/modules/${kernel.version}`;
  return { kernel: kernel.vmlinuz, version: kernel.version, busybox };
}

/**
 * The guest's /init: loads the modules, starts what the test added, waits for the keyboard and
 * the mouse (printing them as "DEV N:"/"DEV H:" lines), then dumps every /dev/input/event* as
 * "EV<n> <hex>" lines and says GLASSPANE-READY.
 */
function initScript(o: { agent: boolean; toneHz?: number }): string {
  const added = [
    o.agent ? '/fake-vdagent &\n' : '',
    o.toneHz !== undefined ? `/guest-audio play ${o.toneHz} &\n/guest-audio record &\n` : '',
  ];
  const dump = `for d in /dev/input/event*; do
  n=\${d#/dev/input/event}
  hexdump -v -e "\\"EV$n \\" 24/1 \\"%02x\\" \\"\\\\n\\"" $d &
done
sleep 0.5
echo GLASSPANE-READY
while true; do sleep 1000; done
`;
  return [INIT_START, initLoadModules('GUEST'), ...added, initWaitForInput('DEV'), dump].join('');
}

/**
 * Writes the initramfs into `dir` and returns its path. With `agent` (a static binary), the
 * virtio-serial modules go in too and /init starts the agent before GLASSPANE-READY. With
 * `audio` (fixtures/guest-audio.c built static), the sound modules go in and /init starts a
 * tone of `audio.toneHz` playing and a recorder reporting what it hears (see guest-audio.c).
 */
export function buildInitramfs(parts: GuestParts, dir: string, opts: { agent?: string; audio?: { bin: string; toneHz: number } } = {}): string {
  const path = join(dir, 'initramfs.cpio');
  const targets = [...INPUT_MODULES];
  const files: ExtraFile[] = [];
  if (opts.agent) {
    targets.push(...VIRTIO_SERIAL_MODULES);
    files.push({ name: 'fake-vdagent', data: readFileSync(opts.agent), executable: true });
  }
  if (opts.audio) {
    targets.push(...SOUND_MODULES);
    files.push({ name: 'guest-audio', data: readFileSync(opts.audio.bin), executable: true });
  }
  writeInitramfs(path, {
    busybox: parts.busybox,
    version: parts.version,
    modules: moduleClosure(parts.version, targets),
    init: initScript({ agent: !!opts.agent, toneHz: opts.audio?.toneHz }),
    files,
  });
  return path;
}

export interface InputEvent {
  device: string;
  type: number;
  code: number;
  value: number;
}

/** Parses the serial log: device names per event number, and the events in order. */
export function parseSerial(log: string): { devices: Map<string, string>; events: InputEvent[]; ready: boolean } {
  const devices = new Map<string, string>();
  const events: InputEvent[] = [];
  let name = '';
  for (const raw of log.split(/\r?\n/)) {
    const line = raw.trim();
    let m;
    if ((m = /^DEV N: Name="(.*)"$/.exec(line))) name = m[1]!;
    else if ((m = /^DEV H: Handlers=.*\bevent(\d+)/.exec(line))) devices.set(m[1]!, name);
    else if ((m = /^EV(\d+) ([0-9a-f]{48})$/.exec(line))) {
      const b = Buffer.from(m[2]!, 'hex');
      events.push({ device: devices.get(m[1]!) ?? `event${m[1]}`, type: b.readUInt16LE(16), code: b.readUInt16LE(18), value: b.readInt32LE(20) });
    }
  }
  return { devices, events, ready: log.includes('GLASSPANE-READY') };
}

/** Builds a fixture C program static into `dir` (gcc), or throws with the compiler's message. */
function buildFixture(dir: string, name: string, libs: string[] = []): string {
  const bin = join(dir, name);
  const cc = spawnSync('gcc', ['-static', '-O1', '-o', bin, join(import.meta.dirname, 'fixtures', `${name}.c`), ...libs], { encoding: 'utf8' });
  if (cc.status !== 0) throw new Error(`cannot build the test guest's ${name}: ${cc.stderr}`);
  return bin;
}

/** Boots the test guest from `initrd` under TCG with `extraArgs`; its serial output goes to a file read by `serial()`. */
async function bootGuest(parts: GuestParts, dir: string, initrd: string, extraArgs: string[], append = ''): Promise<{ qemu: QemuHandle; serial: () => string }> {
  const serialPath = join(dir, 'serial.log');
  progressLog('test guest')('booting the guest under TCG');
  const qemu = await startQemu({
    transport: 'unix',
    extraArgs: [
      '-m', '256', '-kernel', parts.kernel, '-initrd', initrd, '-append', `console=ttyS0 quiet loglevel=1 panic=-1${append}`, '-no-reboot',
      '-serial', `file:${serialPath}`,
      ...extraArgs,
    ],
  });
  return { qemu, serial: () => (existsSync(serialPath) ? readFileSync(serialPath, 'utf8') : '') };
}

/**
 * Boots the test guest with the minimal SPICE agent (fixtures/fake-vdagent.c) on QEMU's vdagent
 * port. Needs gcc, busybox-static and the Debian kernel.
 */
export async function startAgentGuest(parts: GuestParts, dir: string): Promise<{ qemu: QemuHandle; serial: () => string }> {
  const initrd = buildInitramfs(parts, dir, { agent: buildFixture(dir, 'fake-vdagent') });
  return bootGuest(parts, dir, initrd, [
    '-device', 'virtio-serial-pci', '-chardev', 'spicevmc,id=vdagent,name=vdagent',
    '-device', 'virtserialport,chardev=vdagent,name=com.redhat.spice.0',
  ]);
}

/**
 * Boots the test guest with QEMU's SPICE audio (intel-hda + hda-duplex on `-audiodev spice`)
 * and fixtures/guest-audio.c playing `toneHz` and recording; QEMU also traces the guest's
 * keyboard LED state (ps2_set_ledstate) into the trace log. Needs gcc, busybox-static and the
 * Debian kernel with its sound modules.
 */
export async function startAudioGuest(parts: GuestParts, dir: string, toneHz: number): Promise<{ qemu: QemuHandle; serial: () => string }> {
  const initrd = buildInitramfs(parts, dir, { audio: { bin: buildFixture(dir, 'guest-audio', ['-lm']), toneHz } });
  return bootGuest(
    parts,
    dir,
    initrd,
    ['-audiodev', 'spice,id=snd0', '-device', 'intel-hda', '-device', 'hda-duplex,audiodev=snd0', '-trace', 'ps2_set_ledstate'],
    // A loaded TCG host can fail the IO-APIC timer check and panic (as in test/e2e/guest.ts).
    ' no_timer_check',
  );
}
