/**
 * The VM description: a TOML file validated by a zod schema. Every key is checked; an error names
 * the key, what was wrong and what to write instead. Relative paths are taken relative to the
 * TOML file's directory, so a VM folder can be moved as a whole.
 *
 * Key reference with examples: docs/vm.md and examples/*.toml.
 */
import path from 'node:path';
import { z } from 'zod';
import { GlasspaneError } from '../errors.js';
import { parseTomlText, readConfigText, whereIs } from '../config-file.js';
import { normalizePciAddress } from './pci.js';
import { formatSize, parseSize, regionBytesFor } from './region-size.js';

const pciAddress = z.string().transform((s, ctx) => {
  try {
    return normalizePciAddress(s);
  } catch {
    ctx.addIssue({ code: 'custom', message: `"${s}" is not a PCI address; write it like 0000:2f:00.0 (see \`glasspane iommu\`)` });
    return z.NEVER;
  }
});
const size = z.string().refine((s) => parseSize(s) !== null, { message: 'expected a size such as "16G" or "512M"' });
const count = z.number().int().min(1);

const disk = z
  .strictObject({
    /** Image file (raw/qcow2) or ISO for bus = "cdrom". */
    file: z.string().optional(),
    format: z.enum(['raw', 'qcow2']).optional(),
    bus: z.enum(['virtio', 'scsi', 'cdrom']).default('virtio'),
    /** A whole NVMe controller passed through by PCI address, instead of an image. */
    nvme: pciAddress.optional(),
    boot: z.boolean().default(false),
    readonly: z.boolean().default(false),
  })
  .refine((d) => (d.file === undefined) !== (d.nvme === undefined), { message: 'give exactly one of file = "PATH" or nvme = "0000:23:00.0"' });

/**
 * The VM file's schema (docs/vm.md "The VM file"): strict objects (unknown keys are errors),
 * defaults filled in, PCI addresses normalized, and the cross-key rules (a region size that fits
 * its resolution and is a power of two). Paths stay as written; parseVmConfig() makes them
 * absolute.
 */
export const vmConfigSchema = z
  .strictObject({
    name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/, { message: 'use letters, digits, ".", "_" or "-" (at most 63), e.g. name = "win11"' }),
    qemu: z
      .strictObject({
        binary: z.string().default('qemu-system-x86_64'),
        accel: z.enum(['kvm', 'tcg']).default('kvm'),
        machine: z.string().default('q35'),
        extra_args: z.array(z.string()).default([]),
      })
      .prefault({}),
    cpu: z
      .strictObject({
        /** Defaults to "host" with KVM, "max" with TCG. */
        model: z.string().optional(),
        vcpus: count.optional(),
        sockets: count.default(1),
        cores: count,
        threads: count.default(1),
        /** Hyper-V enlightenments for Windows guests; default on with KVM, off with TCG. */
        hyperv: z.boolean().optional(),
        /** AMD hosts: expose SMT topology to the guest. */
        topoext: z.boolean().default(false),
      })
      .refine((c) => c.vcpus === undefined || c.vcpus === c.sockets * c.cores * c.threads, {
        message: 'vcpus must equal sockets × cores × threads',
      }),
    memory: z.strictObject({ size, hugepages: z.boolean().default(false) }),
    /** OVMF (UEFI). Without it QEMU boots SeaBIOS. */
    firmware: z
      .strictObject({
        code: z.string().default('/usr/share/OVMF/OVMF_CODE_4M.fd'),
        vars_template: z.string().default('/usr/share/OVMF/OVMF_VARS_4M.fd'),
        /** This VM's private copy of the variable store; created from vars_template when missing. */
        vars: z.string(),
      })
      .optional(),
    disk: z.array(disk).default([]),
    gpu: z
      .strictObject({
        functions: z.array(pciAddress).min(1),
        romfile: z.string().optional(),
      })
      .optional(),
    usb: z.strictObject({ controllers: z.array(pciAddress).default([]) }).optional(),
    /**
     * The keyboard and pointers the guest sees. The virtio devices take SPICE's input (the
     * viewer's) once the guest's virtio-input driver is up (PS/2 before that); evdev passthrough
     * goes through QEMU input-linux objects (paths under /dev/input/by-id).
     */
    input: z
      .strictObject({
        /** virtio-keyboard-pci: PS/2 drops key events when the guest is slow; virtio queues them. */
        virtio_keyboard: z.boolean().default(true),
        /** virtio-mouse-pci: relative motion (the viewer's default SPICE server mouse mode). */
        virtio_mouse: z.boolean().default(true),
        /** virtio-tablet-pci: the absolute pointer `--spice-mouse client` needs. */
        virtio_tablet: z.boolean().default(true),
        keyboard: z.string().optional(),
        mouse: z.string().optional(),
        extra: z.array(z.string()).default([]),
      })
      .prefault({}),
    region: z
      .strictObject({
        /** /dev/shm/NAME (file, created with the right size) or /dev/kvmfrN (kvmfr module). */
        path: z.string(),
        width: count,
        height: count,
        hdr: z.boolean().default(false),
        /** Optional explicit size; must not be below what the resolution needs. */
        size: size.optional(),
      })
      .optional(),
    spice: z
      .strictObject({
        port: z.number().int().min(1).max(65535).optional(),
        /** Unix socket path, or true for one in the state directory. */
        socket: z.union([z.string(), z.literal(true)]).optional(),
        addr: z.string().default('127.0.0.1'),
        password_file: z.string().optional(),
        /** virtio-serial + spicevmc channel for the SPICE guest agent (clipboard). */
        agent: z.boolean().default(true),
        /**
         * Guest sound both ways over SPICE (what `glasspane view` plays and, with --microphone,
         * records): `-audiodev spice` with an emulated HDA controller and duplex codec. Off unless
         * asked for: it adds a sound card the guest will see.
         */
        audio: z.boolean().default(false),
      })
      .refine((s) => (s.port === undefined) !== (s.socket === undefined), { message: 'give exactly one of port = 5900 or socket = "PATH" (or socket = true)' })
      .optional(),
    qmp: z.strictObject({ socket: z.string().optional() }).prefault({}),
    network: z
      .strictObject({
        mode: z.enum(['user', 'bridge', 'none']).default('user'),
        bridge: z.string().optional(),
        mac: z.string().regex(/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/i, { message: 'write the MAC as 52:54:00:12:34:56' }).optional(),
      })
      .refine((n) => n.mode !== 'bridge' || n.bridge !== undefined, { message: 'mode = "bridge" needs bridge = "br0"' })
      .prefault({}),
    clock: z.strictObject({ localtime: z.boolean().default(false) }).prefault({}),
    lifecycle: z
      .strictObject({
        /** Seconds `vm down` waits for the guest to power off before `quit`. */
        shutdown_timeout_s: z.number().min(0).default(120),
        unbind_console: z.boolean().default(false),
        force_boot_gpu: z.boolean().default(false),
      })
      .prefault({}),
  })
  .superRefine((c, ctx) => {
    if (c.qemu.accel === 'tcg' && c.cpu.hyperv === true) ctx.addIssue({ code: 'custom', path: ['cpu', 'hyperv'], message: 'Hyper-V enlightenments need KVM: set hyperv = false with accel = "tcg"' });
  })
  .superRefine((c, ctx) => {
    if (!c.region) return;
    const need = regionBytesFor(c.region.width, c.region.height, c.region.hdr);
    const have = c.region.size ? parseSize(c.region.size)! : need;
    if (have < need) {
      ctx.addIssue({
        code: 'custom',
        path: ['region', 'size'],
        message: `${c.region.size} is below the ${formatSize(need)} that ${c.region.width}x${c.region.height}${c.region.hdr ? ' HDR' : ''} needs (Looking Glass B7 rule); remove size or set size = "${formatSize(need)}"`,
      });
    }
    if ((have & (have - 1)) !== 0) {
      ctx.addIssue({ code: 'custom', path: ['region', 'size'], message: `${c.region.size} is not a power of two; IVSHMEM needs one, e.g. "${formatSize(need)}"` });
    }
  });

/** A validated VM config, defaults filled in (what parseVmConfig() and loadVmConfig() return). */
export type VmConfig = z.output<typeof vmConfigSchema>;

/** A VM config with the file it came from. */
export interface LoadedVmConfig {
  config: VmConfig;
  /** Absolute path of the TOML file. */
  file: string;
}

/** The value at an issue's path in the raw TOML object (undefined when the key is absent). */
function valueAt(raw: unknown, at: PropertyKey[]): unknown {
  let v = raw;
  for (const k of at) v = v && typeof v === 'object' ? (v as Record<PropertyKey, unknown>)[k] : undefined;
  return v;
}

function formatIssues(file: string, issues: z.core.$ZodIssue[], raw: unknown, text?: string): string {
  return issues
    .map((i) => {
      const where = text === undefined ? file : whereIs(file, text, i.code === 'unrecognized_keys' ? [...i.path, i.keys[0]!] : i.path);
      const at = i.path.length ? i.path.map(String).join('.') : '(top level)';
      if (i.code === 'unrecognized_keys') return [where, `${at}: unknown key ${i.keys.map((k) => `"${k}"`).join(', ')}`] as const;
      if (i.code === 'invalid_type' && valueAt(raw, i.path) === undefined) return [where, `${at}: missing (${i.expected} expected)`] as const;
      if (i.code === 'invalid_type') return [where, `${at}: ${JSON.stringify(valueAt(raw, i.path))} is not a ${i.expected}`] as const;
      return [where, `${at}: ${i.message}`] as const;
    })
    .map(([where, line]) => `  ${where}: ${line}`)
    .join('\n');
}

/**
 * Validates an already-parsed TOML object; `file` is used in messages and for relative paths,
 * `text` (the file's text, when there is one) to point at FILE:LINE:COLUMN. Returns the config
 * with defaults filled in and every path absolute. Throws GlasspaneError ERR_CONFIG listing every
 * problem found (unknown keys, missing or mistyped values, bad PCI addresses, a region size that
 * is too small or not a power of two). Checks the file only, not the host (runDoctor does).
 */
export function parseVmConfig(raw: unknown, file: string, text?: string): VmConfig {
  const result = vmConfigSchema.safeParse(raw);
  if (!result.success) {
    throw new GlasspaneError(
      'ERR_CONFIG',
      `the VM config has ${result.error.issues.length} problem(s):\n${formatIssues(file, result.error.issues, raw, text)}`,
      'fix the keys named above; docs/vm.md lists every key and examples/*.toml show working files',
    );
  }
  return resolvePaths(result.data, path.dirname(path.resolve(file)));
}

function resolvePaths(c: VmConfig, dir: string): VmConfig {
  const abs = (p: string) => (path.isAbsolute(p) ? p : path.resolve(dir, p));
  return {
    ...c,
    firmware: c.firmware && { ...c.firmware, code: abs(c.firmware.code), vars_template: abs(c.firmware.vars_template), vars: abs(c.firmware.vars) },
    disk: c.disk.map((d) => (d.file ? { ...d, file: abs(d.file) } : d)),
    gpu: c.gpu && { ...c.gpu, romfile: c.gpu.romfile && abs(c.gpu.romfile) },
    input: { ...c.input, keyboard: c.input.keyboard && abs(c.input.keyboard), mouse: c.input.mouse && abs(c.input.mouse), extra: c.input.extra.map(abs) },
    region: c.region && { ...c.region, path: abs(c.region.path) },
    spice: c.spice && {
      ...c.spice,
      socket: typeof c.spice.socket === 'string' ? abs(c.spice.socket) : c.spice.socket,
      password_file: c.spice.password_file && abs(c.spice.password_file),
    },
    qmp: { socket: c.qmp.socket && abs(c.qmp.socket) },
  };
}

/**
 * Reads, parses and validates the VM file at `file` (synchronous reads; async for the callers'
 * sake). Throws GlasspaneError ERR_CONFIG when it is missing, unreadable, not TOML or not valid
 * (see parseVmConfig), naming FILE:LINE:COLUMN where it can.
 */
export async function loadVmConfig(file: string): Promise<LoadedVmConfig> {
  const text = readConfigText(file, 'the VM config', 'give the path of a .toml file (see examples/vm-smoke.toml)');
  return { config: parseVmConfig(parseTomlText(file, text), file, text), file: path.resolve(file) };
}

/** Every PCI address the VM lends to vfio-pci, in binding order (GPU functions first), normalized. */
export function passthroughAddresses(c: VmConfig): string[] {
  return [...(c.gpu?.functions ?? []), ...c.disk.flatMap((d) => (d.nvme ? [d.nvme] : [])), ...(c.usb?.controllers ?? [])];
}

/**
 * The region's size in bytes: `region.size` when given (validated by the schema), else the B7 rule
 * for its resolution; null without a region.
 */
export function regionBytes(c: VmConfig): number | null {
  if (!c.region) return null;
  return c.region.size ? parseSize(c.region.size)! : regionBytesFor(c.region.width, c.region.height, c.region.hdr);
}

/** Virtual CPUs: sockets × cores × threads. */
export function vcpuCount(c: VmConfig): number {
  return c.cpu.sockets * c.cpu.cores * c.cpu.threads;
}
