/**
 * PCI devices and IOMMU groups as sysfs shows them (kernel ABI sysfs-bus-pci).
 * Pure readers over a HostRoot; nothing here writes.
 */
import { GlasspaneError } from '../errors.js';
import type { HostRoot } from './host-root.js';

/**
 * sysfs folders the readers use, as host paths (HostRoot adds --root): the devices, the drivers,
 * the IOMMU groups.
 */
export const PCI_DEVICES = '/sys/bus/pci/devices';
/** See PCI_DEVICES. */
export const PCI_DRIVERS = '/sys/bus/pci/drivers';
/** See PCI_DEVICES. */
export const IOMMU_GROUPS = '/sys/kernel/iommu_groups';

/** One PCI function as sysfs shows it at the time it was read (a snapshot: binding changes it). */
export interface PciDevice {
  /** Full address, domain included: "0000:2f:00.0". */
  address: string;
  /** sysfs form, "0x030000". */
  class: string;
  /** sysfs form, "0x1002". */
  vendor: string;
  device: string;
  /** Bound driver name, null when unbound. */
  driver: string | null;
  /** driver_override, null when unset (sysfs shows "(null)"). */
  driverOverride: string | null;
  bootVga: boolean;
  /** From reset_method (kernel 5.15+); [] when the file is absent or empty. */
  resetMethods: string[];
  /** IOMMU group number, null without an IOMMU. */
  iommuGroup: number | null;
}

const FULL_ADDRESS = /^([0-9a-f]{4}):([0-9a-f]{2}):([0-1][0-9a-f])\.([0-7])$/;
const SHORT_ADDRESS = /^([0-9a-f]{2}):([0-1][0-9a-f])\.([0-7])$/;

/**
 * Accepts "0000:2f:00.0" or lspci's "2f:00.0" (any case); returns the full lower-case form.
 * Throws GlasspaneError ERR_PCI_ADDRESS for anything else (the fix shows the form).
 */
export function normalizePciAddress(input: string): string {
  const s = input.trim().toLowerCase();
  if (FULL_ADDRESS.test(s)) return s;
  if (SHORT_ADDRESS.test(s)) return `0000:${s}`;
  throw new GlasspaneError(
    'ERR_PCI_ADDRESS',
    `"${input}" is not a PCI address`,
    'write it as DOMAIN:BUS:DEVICE.FUNCTION in hex, e.g. 0000:2f:00.0 (see `glasspane iommu` or `lspci -D`)',
  );
}

/** "0000:2f:00.0" → "0000:2f:00": functions sharing a slot are one physical card. */
export function pciSlot(address: string): string {
  return address.slice(0, address.lastIndexOf('.'));
}

/**
 * Xorg's BusID wants decimal numbers: 0000:32:00.0 → "PCI:50:0:0"; a non-zero domain is written
 * "PCI:bus@domain:dev:func".
 */
export function xorgBusId(address: string): string {
  const m = FULL_ADDRESS.exec(normalizePciAddress(address))!;
  const [domain, bus, dev, fn] = m.slice(1).map((h) => parseInt(h, 16));
  return domain === 0 ? `PCI:${bus}:${dev}:${fn}` : `PCI:${bus}@${domain}:${dev}:${fn}`;
}

/** The 24-bit class code (class, subclass, prog-if); 0 when sysfs had none. */
export function classCode(dev: Pick<PciDevice, 'class'>): number {
  return parseInt(dev.class, 16) || 0;
}
/** True for a display controller (class 0x03: VGA, 3D, other display). */
export function isDisplay(dev: Pick<PciDevice, 'class'>): boolean {
  return classCode(dev) >> 16 === 0x03;
}
/** True for a bridge (class 0x06): never passed through, ignored when judging a group. */
export function isBridge(dev: Pick<PciDevice, 'class'>): boolean {
  return classCode(dev) >> 16 === 0x06;
}

/**
 * Reads one device; null when the address is not present. `address` must be a full address
 * (normalizePciAddress): it becomes part of a path. Rejects with the errno error of a read that
 * fails for another reason than absence.
 */
export async function readPciDevice(host: HostRoot, address: string): Promise<PciDevice | null> {
  const dir = `${PCI_DEVICES}/${address}`;
  const vendor = await host.read(`${dir}/vendor`);
  if (vendor === null) return null;
  const override = await host.read(`${dir}/driver_override`);
  const group = await host.linkName(`${dir}/iommu_group`);
  const reset = await host.read(`${dir}/reset_method`);
  return {
    address,
    class: (await host.read(`${dir}/class`)) ?? '0x000000',
    vendor,
    device: (await host.read(`${dir}/device`)) ?? '0x0000',
    driver: await host.linkName(`${dir}/driver`),
    driverOverride: override === null || override === '' || override === '(null)' ? null : override,
    bootVga: (await host.read(`${dir}/boot_vga`)) === '1',
    resetMethods: reset ? reset.split(/\s+/).filter(Boolean) : [],
    iommuGroup: group === null ? null : Number(group),
  };
}

/**
 * Reads a device that must exist; rejects with GlasspaneError ERR_PCI_NOT_FOUND naming the
 * address and how to find the right one.
 */
export async function requirePciDevice(host: HostRoot, address: string): Promise<PciDevice> {
  const dev = await readPciDevice(host, address);
  if (!dev) {
    throw new GlasspaneError(
      'ERR_PCI_NOT_FOUND',
      `no PCI device ${address} under ${host.resolve(PCI_DEVICES)}`,
      'list the devices with `glasspane iommu` (or `lspci -D`); if it was removed, `echo 1 > /sys/bus/pci/rescan` brings it back',
    );
  }
  return dev;
}

/**
 * Every PCI function under /sys/bus/pci/devices, in address order; [] when sysfs is absent.
 * Rejects with the errno error of a read that fails for another reason than absence (EACCES…).
 */
export async function listPciDevices(host: HostRoot): Promise<PciDevice[]> {
  const out: PciDevice[] = [];
  for (const name of await host.list(PCI_DEVICES)) {
    if (!FULL_ADDRESS.test(name)) continue;
    const dev = await readPciDevice(host, name);
    if (dev) out.push(dev);
  }
  return out;
}

/** One IOMMU group: its number and its PCI functions (bridges included). */
export interface IommuGroup {
  id: number;
  devices: PciDevice[];
}

/** All IOMMU groups, numerically ordered, each with its devices; [] when the IOMMU is off. */
export async function listIommuGroups(host: HostRoot): Promise<IommuGroup[]> {
  const groups: IommuGroup[] = [];
  for (const name of await host.list(IOMMU_GROUPS)) {
    if (!/^\d+$/.test(name)) continue;
    const devices: PciDevice[] = [];
    for (const addr of await host.list(`${IOMMU_GROUPS}/${name}/devices`)) {
      const dev = await readPciDevice(host, addr);
      if (dev) devices.push(dev);
    }
    groups.push({ id: Number(name), devices });
  }
  return groups.sort((a, b) => a.id - b.id);
}

/** Members of one group (the device itself included). */
export async function groupMembers(host: HostRoot, group: number): Promise<PciDevice[]> {
  const devices: PciDevice[] = [];
  for (const addr of await host.list(`${IOMMU_GROUPS}/${group}/devices`)) {
    const dev = await readPciDevice(host, addr);
    if (dev) devices.push(dev);
  }
  return devices;
}

/** Drivers that leave a group viable for VFIO: vfio-pci itself, pci-stub, or none at all. */
export const VFIO_SAFE_DRIVERS: readonly (string | null)[] = ['vfio-pci', 'pci-stub', null];

/**
 * A group "can be passed through whole" when its endpoints (bridges aside) are all functions of a
 * single card: giving the card to a guest then takes nothing else from the host.
 */
export function isWholePassthroughGroup(group: IommuGroup): boolean {
  const endpoints = group.devices.filter((d) => !isBridge(d));
  if (endpoints.length === 0) return false;
  const slot = pciSlot(endpoints[0].address);
  return endpoints.every((d) => pciSlot(d.address) === slot);
}
