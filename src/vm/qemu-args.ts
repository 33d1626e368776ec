/**
 * The QEMU 7.2 command line as a pure function of the VM config and the runtime paths: no I/O,
 * no environment, so `vm up --dry-run` prints exactly what `vm up` runs and tests check it
 * without QEMU. Always an argument array: QEMU is spawned without a shell.
 *
 * Modern spellings only (docs/vm.md "The VM file"): `-machine ...,memory-backend=`, `hv-*` with
 * dashes, `password-secret` for SPICE, `server=on,wait=off`; none of `-soundhw`, `kvm=off`,
 * `hv_vendor_id`, `-enable-kvm`. Passed-through cards sit behind their own pcie-root-port, as
 * libvirt does on q35, so guest drivers see a PCIe link.
 */
import path from 'node:path';
import { pciSlot } from './pci.js';
import { formatSize, parseSize } from './region-size.js';
import { regionBytes, vcpuCount, type VmConfig } from './config.js';

/** Where the VM's sockets live; derived from the state directory unless the config names them. */
export interface RuntimePaths {
  /** QMP for `vm status` / `vm down` and the user. */
  qmpSocket: string;
  /** Second QMP monitor held by the supervisor to see SHUTDOWN and crashes. */
  watchSocket: string;
  spiceSocket: string | null;
  /**
   * With spice.password_file: the private copy QEMU reads (mode 0600, written by `vm up`). QEMU's
   * secret object takes a file raw, newline and all, while glasspane (and `echo pw > file`) treat
   * one trailing newline as the end of the line: the copy holds the password without it.
   */
  spicePasswordCopy?: string;
}

/**
 * The VM's socket paths: the config's QMP socket or NAME.qmp in `stateDir`, NAME.watch.qmp for
 * the supervisor, the SPICE socket (NAME.spice when `socket = true`, the path given, or none), and
 * the password copy when the config has a password file. Pure: creates nothing.
 */
export function runtimePaths(c: VmConfig, stateDir: string): RuntimePaths {
  const sock = c.spice?.socket;
  return {
    qmpSocket: c.qmp.socket ?? path.join(stateDir, `${c.name}.qmp`),
    watchSocket: path.join(stateDir, `${c.name}.watch.qmp`),
    spiceSocket: sock === true ? path.join(stateDir, `${c.name}.spice`) : (sock ?? null),
    ...(c.spice?.password_file ? { spicePasswordCopy: spicePasswordCopyPath(stateDir, c.name) } : {}),
  };
}

/** Where `vm up` writes the SPICE password copy QEMU reads: NAME.spice-password in `stateDir`. */
export function spicePasswordCopyPath(stateDir: string, name: string): string {
  return path.join(stateDir, `${name}.spice-password`);
}

const HYPERV_FLAGS = ['hv-relaxed', 'hv-vapic', 'hv-spinlocks=0x1fff', 'hv-vpindex', 'hv-runtime', 'hv-synic', 'hv-stimer', 'hv-frequencies', 'hv-time', 'hv-tlbflush', 'hv-ipi'];

/** Commas inside an option value are escaped by doubling (QEMU's option syntax). */
function esc(value: string): string {
  return value.replace(/,/g, ',,');
}

/** A flag and its value, kept together so --dry-run can print one flag per line. */
export type QemuFlag = [flag: string, value?: string];

/**
 * The QEMU flags for `c` (validated by the schema, paths absolute) and `paths`, in command-line
 * order, each flag with its value. Pure and total for a valid config: it throws nothing and reads
 * nothing (the files named are checked by doctor and `vm up`).
 */
export function buildQemuFlags(c: VmConfig, paths: RuntimePaths): QemuFlag[] {
  const f: QemuFlag[] = [];
  const kvm = c.qemu.accel === 'kvm';
  const memBytes = parseSize(c.memory.size)!;

  f.push(['-name', `${esc(c.name)},debug-threads=on`]);
  const machine = [c.qemu.machine, `accel=${c.qemu.accel}`];
  if (c.memory.hugepages) machine.push('memory-backend=mem');
  f.push(['-machine', machine.join(',')]);

  const cpu = [c.cpu.model ?? (kvm ? 'host' : 'max')];
  if (c.cpu.topoext) cpu.push('topoext=on');
  if (c.cpu.hyperv ?? kvm) cpu.push(...HYPERV_FLAGS);
  f.push(['-cpu', cpu.join(',')]);
  f.push(['-smp', `${vcpuCount(c)},sockets=${c.cpu.sockets},cores=${c.cpu.cores},threads=${c.cpu.threads}`]);
  f.push(['-m', formatSize(memBytes)]);
  if (c.memory.hugepages) {
    f.push(['-object', `memory-backend-file,id=mem,size=${formatSize(memBytes)},mem-path=/dev/hugepages,share=on,prealloc=on`]);
  }

  // No default devices: the passed-through GPU is the display, the viewer reads the region.
  f.push(['-nodefaults'], ['-no-user-config'], ['-display', 'none'], ['-vga', 'none']);
  if (c.clock.localtime) f.push(['-rtc', 'base=localtime']);

  if (c.firmware) {
    f.push(['-drive', `if=pflash,format=raw,unit=0,readonly=on,file=${esc(c.firmware.code)}`]);
    f.push(['-drive', `if=pflash,format=raw,unit=1,file=${esc(c.firmware.vars)}`]);
  }

  // Disks: images on virtio-blk, virtio-scsi or the q35 AHCI (cdrom); NVMe by vfio below.
  let scsi = false;
  let ide = 0;
  c.disk.forEach((d, i) => {
    if (!d.file) return;
    const id = `disk${i}`;
    const boot = d.boot ? ',bootindex=1' : '';
    if (d.bus === 'cdrom') {
      f.push(['-drive', `file=${esc(d.file)},if=none,id=${id},media=cdrom,readonly=on`]);
      f.push(['-device', `ide-cd,bus=ide.${ide++},drive=${id}${boot}`]);
      return;
    }
    const format = d.format ?? (d.file.endsWith('.qcow2') ? 'qcow2' : 'raw');
    f.push(['-drive', `file=${esc(d.file)},if=none,id=${id},format=${format},discard=unmap${d.readonly ? ',readonly=on' : ''}`]);
    if (d.bus === 'scsi') {
      if (!scsi) f.push(['-device', 'virtio-scsi-pci,id=scsi0']);
      scsi = true;
      f.push(['-device', `scsi-hd,bus=scsi0.0,drive=${id}${boot}`]);
    } else {
      f.push(['-device', `virtio-blk-pci,drive=${id}${boot}`]);
    }
  });

  // PCI passthrough: one root port per physical card; functions of a card share it.
  const slots = new Map<string, string[]>();
  const romFor = new Map<string, string>();
  const bootNvme = new Set(c.disk.filter((d) => d.nvme && d.boot).map((d) => d.nvme!));
  const addresses = [...(c.gpu?.functions ?? []), ...c.disk.flatMap((d) => (d.nvme ? [d.nvme] : [])), ...(c.usb?.controllers ?? [])];
  if (c.gpu?.romfile) romFor.set(c.gpu.functions[0], c.gpu.romfile);
  for (const a of addresses) {
    const s = pciSlot(a);
    slots.set(s, [...(slots.get(s) ?? []), a]);
  }
  let port = 0;
  for (const functions of slots.values()) {
    port += 1;
    const bus = `rp${port}`;
    f.push(['-device', `pcie-root-port,id=${bus},chassis=${port},slot=${port}`]);
    functions.forEach((a, i) => {
      const opts = [`vfio-pci,host=${a},bus=${bus},addr=0x0.${i}`];
      if (i === 0 && functions.length > 1) opts.push('multifunction=on');
      const rom = romFor.get(a);
      if (rom) opts.push(`romfile=${esc(rom)}`);
      if (bootNvme.has(a)) opts.push('bootindex=1');
      f.push(['-device', opts.join(',')]);
    });
  }

  if (c.network.mode === 'user') f.push(['-nic', `user,model=virtio-net-pci${c.network.mac ? `,mac=${c.network.mac}` : ''}`]);
  if (c.network.mode === 'bridge') f.push(['-nic', `bridge,br=${c.network.bridge},model=virtio-net-pci${c.network.mac ? `,mac=${c.network.mac}` : ''}`]);

  // virtio input: what SPICE's keys and motion reach once the guest driver is up (PS/2, always
  // there on the PC machines, until then and for guests without the driver).
  if (c.input.virtio_keyboard) f.push(['-device', 'virtio-keyboard-pci,id=glasspane-keyboard']);
  if (c.input.virtio_mouse) f.push(['-device', 'virtio-mouse-pci,id=glasspane-mouse']);
  if (c.input.virtio_tablet) f.push(['-device', 'virtio-tablet-pci,id=glasspane-tablet']);

  // evdev passthrough: the keyboard object grabs all devices and toggles with both Ctrl keys;
  // other keyboard interfaces (a gaming mouse's "-event-kbd") get key repeat too.
  const evdevs: [string, string, string][] = [];
  if (c.input.keyboard) evdevs.push(['kbd', c.input.keyboard, ',grab_all=on,repeat=on']);
  if (c.input.mouse) evdevs.push(['mouse', c.input.mouse, '']);
  c.input.extra.forEach((p, i) => evdevs.push([`evdev${i}`, p, /-event-kbd$/.test(p) ? ',repeat=on' : '']));
  for (const [id, p, opts] of evdevs) f.push(['-object', `input-linux,id=${id},evdev=${esc(p)}${opts}`]);

  if (c.region) {
    f.push(['-object', `memory-backend-file,id=lgmem,mem-path=${esc(c.region.path)},size=${formatSize(regionBytes(c)!)},share=on`]);
    f.push(['-device', 'ivshmem-plain,memdev=lgmem']);
  }

  if (c.spice) {
    const spice = paths.spiceSocket ? [`unix=on,addr=${esc(paths.spiceSocket)}`] : [`port=${c.spice.port}`, `addr=${c.spice.addr}`];
    if (c.spice.password_file) {
      f.push(['-object', `secret,id=spicepw,file=${esc(paths.spicePasswordCopy ?? c.spice.password_file)},format=raw`]);
      spice.push('password-secret=spicepw');
    } else {
      spice.push('disable-ticketing=on');
    }
    f.push(['-spice', spice.join(',')]);
    if (c.spice.agent) {
      f.push(['-device', 'virtio-serial-pci'], ['-chardev', 'spicevmc,id=vdagent,name=vdagent'], ['-device', 'virtserialport,chardev=vdagent,name=com.redhat.spice.0']);
    }
    if (c.spice.audio) f.push(...audioFlags(c.qemu.machine));
  }

  f.push(['-qmp', `unix:${esc(paths.qmpSocket)},server=on,wait=off`]);
  f.push(['-chardev', `socket,id=glasspane-watch,path=${esc(paths.watchSocket)},server=on,wait=off`]);
  f.push(['-mon', 'chardev=glasspane-watch,mode=control']);
  for (const a of c.qemu.extra_args) f.push([a]);
  return f;
}

/**
 * Guest sound over SPICE: the spice audiodev (QEMU hands playback to and takes recording from the
 * SPICE client) behind an HDA controller, the chipset's own on q35 (ich9-intel-hda, as libvirt
 * picks) or ICH6's on i440fx, with the duplex codec (line out and line in).
 */
export function audioFlags(machine: string): QemuFlag[] {
  const controller = /q35/.test(machine) ? 'ich9-intel-hda' : 'intel-hda';
  return [
    ['-audiodev', 'spice,id=glasspane-audio'],
    ['-device', `${controller},id=sound0`],
    ['-device', 'hda-duplex,bus=sound0.0,audiodev=glasspane-audio'],
  ];
}

/** buildQemuFlags() flattened into the argv QEMU is spawned with (after the binary). */
export function buildQemuArgs(c: VmConfig, paths: RuntimePaths): string[] {
  return buildQemuFlags(c, paths).flat().filter((x): x is string => x !== undefined);
}

function shellQuote(s: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/** The command for humans: one flag per line with shell continuations (copy-pastable). */
export function formatCommand(binary: string, flags: QemuFlag[]): string {
  const lines = [binary, ...flags.map(([flag, value]) => (value === undefined ? shellQuote(flag) : `${shellQuote(flag)} ${shellQuote(value)}`))];
  return lines.map((l, i) => (i === 0 ? l : `  ${l}`)).join(' \\\n');
}
