/**
 * Finding the ivshmem device inside a guest: QEMU's `-device ivshmem-plain` is a PCI device with
 * vendor:device 1af4:1110 whose BAR 2 is the shared memory, mapped by Linux as
 * /sys/bus/pci/devices/<address>/resource2 (needs root). This module picks the device and reports
 * the BAR's path and size; mapping it is openRegion()'s job.
 *
 * Contract: `sysRoot` is a directory standing for "/" (a fake tree in tests, "/" in a guest); all
 * reads are synchronous sysfs attribute reads, which return at once. Every failure is a
 * GlasspaneError with code ERR_IVSHMEM_DEVICE that names what was found and the fix.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { GlasspaneError } from '../src/errors.js';

/** The ivshmem PCI vendor id (Red Hat, virtio range). */
export const IVSHMEM_VENDOR = 0x1af4;
/** ivshmem-plain; ivshmem-doorbell has the same id and its BAR 2 is the shared memory too. */
export const IVSHMEM_DEVICE = 0x1110;
/** The shared memory is BAR 2 (BAR 0 holds ivshmem's registers). */
export const IVSHMEM_BAR = 2;

/**
 * The ivshmem device findIvshmemDevice() chose: its address and the BAR 2 file to map, with the
 * BAR's size.
 */
export interface IvshmemDevice {
  /** PCI address, e.g. 0000:00:05.0 */
  address: string;
  /** The BAR file to map (under sysRoot). */
  resourcePath: string;
  /** BAR size in bytes, from the device's `resource` table. */
  bytes: number;
}

/** Where findIvshmemDevice() looks, and whether it may enable a disabled device. */
export interface FindIvshmemOptions {
  /** Directory standing for "/" (default "/"). */
  sysRoot?: string;
  /** Write 1 to the device's `enable` when it is disabled (memory decoding off); default true. */
  enable?: boolean;
}

const PCI_ADDRESS = /^[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$/;

function readHex(file: string): number | null {
  try {
    const v = Number.parseInt(readFileSync(file, 'utf8').trim(), 16);
    return Number.isFinite(v) ? v : null;
  } catch {
    return null;
  }
}

/** `which` = "auto" (the only 1af4:1110 device) or a PCI address ("0000:00:05.0"; "00:05.0" gets domain 0000). */
export function findIvshmemDevice(which: string, opts: FindIvshmemOptions = {}): IvshmemDevice {
  const root = path.resolve(opts.sysRoot ?? '/');
  const devicesDir = path.join(root, 'sys/bus/pci/devices');
  let entries: string[];
  try {
    entries = readdirSync(devicesDir).sort();
  } catch (err) {
    throw new GlasspaneError('ERR_IVSHMEM_DEVICE', `cannot list PCI devices in ${devicesDir}: ${(err as Error).message}`, 'run inside a Linux guest with sysfs mounted (or pass --sys-root to a copy of /sys)', { cause: err });
  }
  const id = (addr: string) => ({ vendor: readHex(path.join(devicesDir, addr, 'vendor')), device: readHex(path.join(devicesDir, addr, 'device')) });
  let address: string;
  if (which === 'auto') {
    const found = entries.filter((a) => {
      const d = id(a);
      return d.vendor === IVSHMEM_VENDOR && d.device === IVSHMEM_DEVICE;
    });
    if (found.length === 0) {
      const seen = entries.map((a) => {
        const d = id(a);
        return `${a} ${hex4(d.vendor)}:${hex4(d.device)}`;
      });
      throw new GlasspaneError(
        'ERR_IVSHMEM_DEVICE',
        `no ivshmem device (1af4:1110) among the ${entries.length} PCI devices in ${devicesDir}${seen.length ? `: ${seen.join(', ')}` : ''}`,
        'give the VM `-object memory-backend-file,id=lg,share=on,mem-path=/dev/shm/NAME,size=32M -device ivshmem-plain,memdev=lg`',
      );
    }
    if (found.length > 1) {
      throw new GlasspaneError('ERR_IVSHMEM_DEVICE', `${found.length} ivshmem devices (1af4:1110): ${found.join(', ')}`, `pick one with --device ${found[0]}`);
    }
    address = found[0]!;
  } else {
    address = /^[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$/i.test(which) ? `0000:${which.toLowerCase()}` : which.toLowerCase();
    if (!PCI_ADDRESS.test(address)) throw new GlasspaneError('ERR_USAGE', `--device ${which} is not a PCI address`, 'use --device auto or an address like 0000:00:05.0');
    if (!entries.includes(address)) {
      throw new GlasspaneError('ERR_IVSHMEM_DEVICE', `no PCI device ${address} in ${devicesDir}`, 'use --device auto, or an address from `lspci -D -d 1af4:1110`');
    }
    const d = id(address);
    if (d.vendor !== IVSHMEM_VENDOR || d.device !== IVSHMEM_DEVICE) {
      throw new GlasspaneError('ERR_IVSHMEM_DEVICE', `PCI device ${address} is ${hex4(d.vendor)}:${hex4(d.device)}, not an ivshmem device (1af4:1110)`, 'use --device auto, or an address from `lspci -D -d 1af4:1110`');
    }
  }
  const devDir = path.join(devicesDir, address);
  const bytes = barSize(devDir, IVSHMEM_BAR);
  if (!bytes) {
    throw new GlasspaneError('ERR_IVSHMEM_DEVICE', `ivshmem device ${address} has no BAR ${IVSHMEM_BAR} in ${path.join(devDir, 'resource')}`, 'use ivshmem-plain with a memdev (the shared memory is BAR 2)');
  }
  if (opts.enable !== false) enableDevice(devDir, address);
  return { address, resourcePath: path.join(devDir, `resource${IVSHMEM_BAR}`), bytes };
}

/**
 * Where a producer command (`stub`, `capture`) writes: `--shm PATH` as given, or the BAR file of
 * the `--device` findIvshmemDevice() picks (with its size to map, and the device to report).
 * Throws GlasspaneError ERR_USAGE unless exactly one of the two is given, and
 * findIvshmemDevice()'s errors.
 */
export function producerRegion(o: { shm?: string; device?: string; sysRoot?: string }): { shmPath: string; mapBytes?: number; device?: IvshmemDevice } {
  if (Boolean(o.shm) === Boolean(o.device)) {
    throw new GlasspaneError('ERR_USAGE', o.shm ? 'pass either --shm or --device, not both' : 'no region given', 'pass --shm /dev/shm/NAME on a host, or --device auto inside a guest with an ivshmem device');
  }
  if (o.shm) return { shmPath: o.shm };
  const device = findIvshmemDevice(o.device!, { sysRoot: o.sysRoot });
  return { shmPath: device.resourcePath, mapBytes: device.bytes, device };
}

/** Size of BAR `bar` from the `resource` table ("start end flags" per line, hex); 0 when unassigned. */
export function barSize(devDir: string, bar: number): number {
  let table: string;
  try {
    table = readFileSync(path.join(devDir, 'resource'), 'utf8');
  } catch {
    return 0;
  }
  const fields = table.split('\n')[bar]?.trim().split(/\s+/);
  if (!fields || fields.length < 2) return 0;
  const start = BigInt(fields[0]!);
  const end = BigInt(fields[1]!);
  return start === 0n && end === 0n ? 0 : Number(end - start + 1n);
}

/**
 * Whether the device decodes memory (bit 1 of the PCI command register, in the first bytes of its
 * world-readable `config`); null when that cannot be read (no attribute, a fake tree).
 */
function memoryDecodingOn(devDir: string): boolean | null {
  try {
    const config = readFileSync(path.join(devDir, 'config'));
    return config.length >= 6 ? (config.readUInt16LE(4) & 0x2) !== 0 : null;
  } catch {
    return null;
  }
}

/**
 * The BAR reads as all ones while the device's memory decoding is off. Firmware normally turns
 * it on, and then nothing is written (so an unprivileged producer works); when it is off and
 * `enable` says 0 (no driver ever enabled it), turn it on, which needs root.
 */
function enableDevice(devDir: string, address: string): void {
  if (memoryDecodingOn(devDir) === true) return;
  const file = path.join(devDir, 'enable');
  let state: string;
  try {
    state = readFileSync(file, 'utf8').trim();
  } catch {
    return; // no attribute (a fake tree): nothing to do
  }
  if (state !== '0') return;
  try {
    writeFileSync(file, '1');
  } catch (err) {
    throw new GlasspaneError('ERR_IVSHMEM_DEVICE', `ivshmem device ${address} is disabled and writing 1 to ${file} failed: ${(err as Error).message}`, 'run it as root inside the guest once (or give the VM firmware that enables PCI devices, as SeaBIOS and OVMF do)', { cause: err });
  }
}

function hex4(v: number | null): string {
  return v === null ? '????' : v.toString(16).padStart(4, '0');
}
