/**
 * Which PCI device owns the active firmware framebuffer, from /proc/iomem.
 *
 * /proc/iomem nests resources by indentation; a framebuffer claimed by efifb, simpledrm or the
 * firmware's BOOTFB shows up inside the memory BAR of the GPU that scans it out. Unbinding that GPU
 * kills the console the user is looking at, so vfio refuses it by default.
 */
import type { HostRoot } from './host-root.js';

const FRAMEBUFFER_NAMES = /^(BOOTFB|efifb|simpledrm|simple-framebuffer|vesafb|vesa-framebuffer)/i;
const PCI_NAME = /^[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$/;

interface Range {
  start: bigint;
  end: bigint;
  name: string;
}

/**
 * The ranges of /proc/iomem text, in file order (nesting is not kept: containment is by address).
 * Lines that do not parse are skipped.
 */
export function parseIomem(text: string): Range[] {
  const out: Range[] = [];
  for (const line of text.split('\n')) {
    const m = /^\s*([0-9a-f]+)-([0-9a-f]+) : (.+)$/i.exec(line);
    if (m) out.push({ start: BigInt(`0x${m[1]}`), end: BigInt(`0x${m[2]}`), name: m[3].trim() });
  }
  return out;
}

/**
 * Addresses of PCI devices whose ranges contain a framebuffer. Returns null when the addresses
 * are hidden (non-root readers see every range as 0-0), so callers can say "unknown".
 */
export function framebufferOwners(text: string): Set<string> | null {
  const ranges = parseIomem(text);
  const fbs = ranges.filter((r) => FRAMEBUFFER_NAMES.test(r.name));
  if (fbs.length > 0 && fbs.every((r) => r.start === 0n && r.end === 0n)) return null;
  const owners = new Set<string>();
  for (const fb of fbs) {
    for (const r of ranges) {
      if (PCI_NAME.test(r.name) && r.start <= fb.start && fb.end <= r.end) owners.add(r.name.toLowerCase());
    }
  }
  return owners;
}

/**
 * framebufferOwners() of the host's /proc/iomem; an empty set when the file is absent (a fake tree
 * without it), null when the addresses are hidden (not root).
 */
export async function readFramebufferOwners(host: HostRoot): Promise<Set<string> | null> {
  const text = await host.read('/proc/iomem');
  return text === null ? new Set() : framebufferOwners(text);
}
