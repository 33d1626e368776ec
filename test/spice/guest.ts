/**
 * Test helper: a real Linux guest for end-to-end input tests. Debian's kernel (package
 * linux-image-amd64) boots under TCG with a tiny initramfs built here: busybox-static as /init's
 * shell, evdev.ko and psmouse.ko from the same kernel, and an /init that prints the input devices
 * and then dumps every /dev/input/event* (struct input_event, 24 bytes on x86-64) as hex lines
 * on the serial port: `EV<n> <48 hex digits>`.
 */
import { existsSync, readdirSync, readFileSync, accessSync, constants as fsc, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { startQemu, type QemuHandle } from './qemu.js';
import { moduleClosure } from '../vm/guest-image.js';

export interface GuestParts {
  kernel: string;
  modules: string[];
  busybox: string;
  /** /lib/modules/<version>, for optional modules (virtio for the agent test). */
  moduleDir: string;
}

/** Modules for a virtio-serial port, in load order (dependencies first). */
export const VIRTIO_SERIAL_MODULES = [
  'drivers/virtio/virtio_ring.ko',
  'drivers/virtio/virtio.ko',
  'drivers/virtio/virtio_pci_modern_dev.ko',
  'drivers/virtio/virtio_pci_legacy_dev.ko',
  'drivers/virtio/virtio_pci.ko',
  'drivers/char/virtio_console.ko',
];

/** Finds the kernel, modules and busybox, or says what is missing. */
export function findGuestParts(): GuestParts | string {
  const busybox = ['/bin/busybox', '/usr/bin/busybox'].find((p) => existsSync(p));
  if (!busybox) return 'busybox-static is not installed';
  if (!existsSync('/boot')) return 'no /boot (install linux-image-amd64)';
  const kernels = readdirSync('/boot').filter((f) => /^vmlinuz-.*-amd64$/.test(f)).sort();
  if (!kernels.length) return 'no Debian kernel in /boot (install linux-image-amd64)';
  for (const k of kernels.reverse()) {
    const version = k.slice('vmlinuz-'.length);
    const kernel = join('/boot', k);
    const mods = ['kernel/drivers/input/evdev.ko', 'kernel/drivers/input/mouse/psmouse.ko'].map((m) => join('/lib/modules', version, m));
    if (!mods.every((m) => existsSync(m))) continue;
    try {
      accessSync(kernel, fsc.R_OK);
    } catch {
      return `${kernel} is not readable by this user`;
    }
    return { kernel, modules: mods, busybox, moduleDir: join('/lib/modules', version) };
  }
  return 'no kernel in /boot with evdev.ko and psmouse.ko under /lib/modules';
}

const INIT = `#!/bin/busybox sh
/bin/busybox mkdir -p /proc /sys /dev /tmp
/bin/busybox --install -s /bin
export PATH=/bin
mount -t devtmpfs dev /dev
mount -t proc proc /proc
mount -t sysfs sys /sys
exec >/dev/ttyS0 2>&1
insmod /evdev.ko
insmod /psmouse.ko
if [ -e /fake-vdagent ]; then
  for m in $(cat /virtio.list); do insmod /$m; done
  /fake-vdagent &
fi
if [ -e /guest-audio ]; then
  for m in $(cat /sound.list); do insmod /$m; done
  /guest-audio play $(cat /tone.hz) &
  /guest-audio record &
fi
i=0
while [ $i -lt 300 ]; do
  if grep -q 'Handlers=.*kbd.*event' /proc/bus/input/devices && grep -q 'Handlers=mouse.*event' /proc/bus/input/devices; then break; fi
  sleep 0.1
  i=$((i+1))
done
grep -E '^(N|H):' /proc/bus/input/devices | sed 's/^/DEV /'
for d in /dev/input/event*; do
  n=\${d#/dev/input/event}
  hexdump -v -e "\\"EV$n \\" 24/1 \\"%02x\\" \\"\\\\n\\"" $d &
done
sleep 0.5
echo GLASSPANE-READY
while true; do sleep 1000; done
`;

/** newc cpio archive of the given entries (files, dirs, char devices). */
function cpio(entries: Array<{ name: string; mode: number; data?: Buffer; rdev?: [number, number] }>): Buffer {
  const parts: Buffer[] = [];
  const pad = (n: number) => Buffer.alloc((4 - (n % 4)) % 4);
  let ino = 1;
  const push = (name: string, mode: number, data: Buffer, rdev: [number, number] = [0, 0]) => {
    const fields = [ino++, mode, 0, 0, 1, 0, data.length, 0, 0, rdev[0], rdev[1], name.length + 1, 0];
    const header = Buffer.from('070701' + fields.map((f) => f.toString(16).padStart(8, '0')).join(''), 'latin1');
    const nameBuf = Buffer.from(name + '\0', 'latin1');
    parts.push(header, nameBuf, pad(header.length + nameBuf.length), data, pad(data.length));
  };
  for (const e of entries) push(e.name, e.mode, e.data ?? Buffer.alloc(0), e.rdev);
  push('TRAILER!!!', 0, Buffer.alloc(0));
  return Buffer.concat(parts);
}

/** Sound modules for QEMU's intel-hda + hda-duplex with OSS emulation (/dev/dsp), dependencies first. */
export const SOUND_MODULES = ['snd-hda-codec-generic', 'snd-hda-intel', 'snd-pcm-oss'];

/**
 * Writes the initramfs into `dir` and returns its path. With `agent` (a static binary), the
 * virtio-serial modules go in too and /init starts the agent before GLASSPANE-READY. With
 * `audio` (fixtures/guest-audio.c built static), the sound modules go in and /init starts a
 * tone of `audio.toneHz` playing and a recorder reporting what it hears (see guest-audio.c).
 */
export function buildInitramfs(parts: GuestParts, dir: string, opts: { agent?: string; audio?: { bin: string; toneHz: number } } = {}): string {
  const path = join(dir, 'initramfs.cpio');
  const extra: Array<{ name: string; mode: number; data?: Buffer }> = [];
  if (opts.agent) {
    const names = VIRTIO_SERIAL_MODULES.map((m) => m.split('/').pop()!);
    VIRTIO_SERIAL_MODULES.forEach((m, i) => extra.push({ name: names[i]!, mode: 0o100644, data: readFileSync(join(parts.moduleDir, 'kernel', m)) }));
    extra.push({ name: 'virtio.list', mode: 0o100644, data: Buffer.from(names.join(' ') + '\n') });
    extra.push({ name: 'fake-vdagent', mode: 0o100755, data: readFileSync(opts.agent) });
  }
  if (opts.audio) {
    const version = basename(parts.moduleDir);
    const mods = moduleClosure(version, SOUND_MODULES);
    for (const m of mods) extra.push({ name: basename(m), mode: 0o100644, data: readFileSync(join(parts.moduleDir, m)) });
    extra.push({ name: 'sound.list', mode: 0o100644, data: Buffer.from(mods.map((m) => basename(m)).join(' ') + '\n') });
    extra.push({ name: 'guest-audio', mode: 0o100755, data: readFileSync(opts.audio.bin) });
    extra.push({ name: 'tone.hz', mode: 0o100644, data: Buffer.from(`${opts.audio.toneHz}\n`) });
  }
  writeFileSync(
    path,
    cpio([
      { name: 'bin', mode: 0o040755 },
      { name: 'dev', mode: 0o040755 },
      { name: 'dev/console', mode: 0o020600, rdev: [5, 1] },
      { name: 'bin/busybox', mode: 0o100755, data: readFileSync(parts.busybox) },
      { name: 'init', mode: 0o100755, data: Buffer.from(INIT) },
      { name: 'evdev.ko', mode: 0o100644, data: readFileSync(parts.modules[0]!) },
      { name: 'psmouse.ko', mode: 0o100644, data: readFileSync(parts.modules[1]!) },
      ...extra,
    ]),
  );
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
