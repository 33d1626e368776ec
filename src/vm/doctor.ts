/**
 * Host checks for GPU passthrough, each with a verdict and the fix (docs/vm.md "doctor" lists
 * them). Reads sysfs, /proc and /dev through a HostRoot (never dmesg, never a command), so
 * `--root` trees give the same answers as the live host. Check ids are stable: scripts and
 * `vm up` match on them.
 */
import { GlasspaneError } from '../errors.js';
import { vcpuCount, regionBytes, passthroughAddresses, type VmConfig } from './config.js';
import { configFilesCheck } from './config-files.js';
import type { HostRoot } from './host-root.js';
import { readFramebufferOwners } from './iomem.js';
import { isDisplay, listPciDevices, readPciDevice, type PciDevice } from './pci.js';
import { formatSize, parseSize } from './region-size.js';
import { kvmChecks, type KvmProbe } from './kvm-check.js';
import { permissionFix } from '../permission-fix.js';
import type { Check } from './check.js';

const ok = (id: string, message: string): Check => ({ id, status: 'ok', message, fix: null });
const warn = (id: string, message: string, fix: string): Check => ({ id, status: 'warn', message, fix });
const fail = (id: string, message: string, fix: string): Check => ({ id, status: 'fail', message, fix });

/** AMD GPU device-id ranges vendor-reset handles (Polaris, Vega, Navi 10/12/14). */
const VENDOR_RESET_RANGES: [number, number][] = [
  [0x67c0, 0x67ff], [0x6980, 0x699f], // Polaris 10/11/12
  [0x6860, 0x687f], [0x66a0, 0x66af], // Vega 10/20
  [0x7310, 0x731f], [0x7340, 0x734f], [0x7360, 0x736f], // Navi 10/14/12
];

function cmdlineHas(cmdline: string[], key: string): string | undefined {
  return cmdline.find((w) => w === key || w.startsWith(`${key}=`));
}

async function iommuChecks(host: HostRoot, intel: boolean, cmdline: string[]): Promise<Check[]> {
  const out: Check[] = [];
  const dmar = await host.exists('/sys/firmware/acpi/tables/DMAR');
  const ivrs = await host.exists('/sys/firmware/acpi/tables/IVRS');
  if (dmar || ivrs) out.push(ok('firmware-iommu', `firmware IOMMU table ${dmar ? 'DMAR (Intel VT-d)' : 'IVRS (AMD-Vi)'} present`));
  else out.push(fail('firmware-iommu', 'no DMAR or IVRS ACPI table: the firmware does not expose an IOMMU', 'enable VT-d (Intel) or IOMMU/AMD-Vi (AMD) in the firmware setup'));

  const groups = (await host.list('/sys/kernel/iommu_groups')).length;
  if (groups > 0) out.push(ok('iommu-active', `${groups} IOMMU groups`));
  else out.push(fail('iommu-active', 'the kernel created no IOMMU groups', intel ? 'boot with intel_iommu=on (add it to GRUB_CMDLINE_LINUX and update-grub)' : 'enable the IOMMU in the firmware setup'));

  if (await host.exists('/dev/vfio/vfio')) out.push(ok('vfio-device', '/dev/vfio/vfio present'));
  else out.push(warn('vfio-device', '/dev/vfio/vfio is missing', 'run `modprobe vfio-pci`'));

  if (intel) {
    if (cmdline.includes('intel_iommu=on')) out.push(ok('cmdline-intel-iommu', 'intel_iommu=on is set'));
    else if (groups > 0) out.push(ok('cmdline-intel-iommu', 'intel_iommu=on is not set, but the kernel enables the IOMMU by default'));
    else out.push(fail('cmdline-intel-iommu', 'intel_iommu=on is missing from the kernel command line', 'add intel_iommu=on to the kernel command line'));
  }
  if (cmdline.includes('iommu=pt')) out.push(ok('cmdline-iommu-pt', 'iommu=pt is set'));
  else out.push(warn('cmdline-iommu-pt', 'iommu=pt is not set: host devices go through IOMMU translation too', 'add iommu=pt to the kernel command line (passthrough mode for host devices, less overhead)'));

  if (cmdline.includes('amd_iommu=on')) {
    out.push(warn('cmdline-amd-iommu', 'amd_iommu=on is not a valid value (the AMD IOMMU is on whenever the firmware enables it)', 'remove amd_iommu=on from the kernel command line'));
  } else {
    out.push(ok('cmdline-amd-iommu', 'no invalid amd_iommu=on'));
  }
  const acs = cmdlineHas(cmdline, 'pcie_acs_override');
  if (acs) out.push(warn('acs-override', `${acs} splits IOMMU groups the hardware does not isolate: devices can reach each other's memory (a security downgrade)`, 'prefer a slot with its own group; keep the override only if you accept that risk'));
  else out.push(ok('acs-override', 'no pcie_acs_override'));

  const notes = ['vfio-pci.ids', 'video', 'initcall_blacklist'].map((k) => cmdlineHas(cmdline, k)).filter((x): x is string => !!x);
  if (notes.length) out.push(ok('cmdline-notes', `also set: ${notes.join(' ')}`));

  const unsafe = await host.read('/sys/module/vfio_iommu_type1/parameters/allow_unsafe_interrupts');
  if (unsafe === 'N') out.push(ok('interrupt-remapping', 'unsafe interrupts are not allowed (interrupt remapping in use)'));
  else if (unsafe === 'Y') out.push(warn('interrupt-remapping', 'vfio_iommu_type1 allows unsafe interrupts: a guest could inject interrupts into the host', 'enable interrupt remapping in the firmware and drop allow_unsafe_interrupts=1'));
  else out.push(warn('interrupt-remapping', 'vfio_iommu_type1 is not loaded, so interrupt remapping cannot be checked', 'run `modprobe vfio_iommu_type1` and check again'));

  const mod = await host.exists('/sys/module/vfio_pci');
  const drv = await host.exists('/sys/bus/pci/drivers/vfio-pci');
  if (mod || drv) out.push(ok('vfio-modules', 'vfio-pci is loaded'));
  else out.push(warn('vfio-modules', 'vfio-pci is not loaded', 'run `modprobe vfio-pci` and add vfio-pci to /etc/modules-load.d/vfio.conf'));
  return out;
}

async function hugepageCheck(host: HostRoot, config?: VmConfig): Promise<Check> {
  const meminfo = (await host.read('/proc/meminfo')) ?? '';
  const num = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(meminfo)?.[1] ?? 0);
  const total = num('HugePages_Total');
  const free = num('HugePages_Free');
  const pageKiB = num('Hugepagesize') || 2048;
  if (!config?.memory.hugepages) return ok('hugepages', `${total} hugepages of ${pageKiB} KiB (${free} free); this VM does not ask for them`);
  const need = Math.ceil(parseSize(config.memory.size)! / (pageKiB * 1024));
  if (free >= need) return ok('hugepages', `${free} free hugepages of ${pageKiB} KiB cover the ${config.memory.size} guest`);
  return fail('hugepages', `the guest needs ${need} hugepages of ${pageKiB} KiB, ${free} are free`, `reserve them: echo ${need} > /sys/kernel/mm/hugepages/hugepages-${pageKiB}kB/nr_hugepages (or hugepages=${need} on the kernel command line)`);
}

/** Reset checks for the GPUs in `devices`; the boot-GPU check looks at every device on the host. */
async function gpuChecks(host: HostRoot, devices: PciDevice[], all: PciDevice[], config?: VmConfig): Promise<Check[]> {
  const out: Check[] = [];
  const gpus = devices.filter(isDisplay);
  const vendorReset = await host.exists('/sys/module/vendor_reset');
  for (const g of gpus) {
    const id = `gpu-reset:${g.address}`;
    const devId = parseInt(g.device, 16);
    const methods = g.resetMethods.join(' ') || 'none';
    if (g.vendor === '0x1002' && VENDOR_RESET_RANGES.some(([a, b]) => devId >= a && devId <= b)) {
      if (vendorReset && g.resetMethods[0] === 'device_specific') out.push(ok(id, `AMD GPU resets through vendor-reset (${methods})`));
      else out.push(warn(id, `this AMD GPU (Polaris/Vega/Navi 1x) does not reset cleanly without vendor-reset (reset methods: ${methods})`, `install and load vendor-reset, then \`echo device_specific > /sys/bus/pci/devices/${g.address}/reset_method\``));
    } else if (g.resetMethods.length === 0) {
      out.push(warn(id, 'no reset method: the GPU may keep state between guest boots', 'expect to reboot the host between guest boots, or use a card with FLR'));
    } else if (g.vendor === '0x1002') {
      out.push(ok(id, `reset methods: ${methods}; if the card stays unusable after a guest shutdown (AMD reset bug), suspending and resuming the host resets it (never done automatically)`));
    } else {
      out.push(ok(id, `reset methods: ${methods}`));
    }
  }
  const boot = all.filter((g) => isDisplay(g) && g.bootVga).map((g) => g.address);
  const fb = await readFramebufferOwners(host);
  const lent = new Set(config ? passthroughAddresses(config) : []);
  const taken = [...boot, ...(fb ?? [])].filter((a) => lent.has(a));
  const fbText = fb === null ? 'framebuffer owner unknown (/proc/iomem needs root)' : fb.size ? `framebuffer on ${[...fb].join(', ')}` : 'no firmware framebuffer';
  const msg = `boot GPU ${boot.join(', ') || 'none'}; ${fbText}`;
  if (taken.length) out.push(fail('boot-gpu', `${msg}: the VM would take ${[...new Set(taken)].join(', ')} from the host display`, 'pass through the other GPU, change the boot GPU in the firmware setup, or set lifecycle.force_boot_gpu = true if the host has another screen'));
  else out.push(ok('boot-gpu', msg));
  return out;
}

async function sharedMemoryCheck(host: HostRoot, config?: VmConfig): Promise<Check> {
  const regionPath = config?.region?.path ?? ((await host.exists('/dev/kvmfr0')) ? '/dev/kvmfr0' : null);
  if (!regionPath) return ok('shared-memory', 'no shared-memory region configured');
  const need = config ? regionBytes(config)! : 0;
  const st = await host.stat(regionPath);
  if (/^\/dev\/kvmfr\d+$/.test(regionPath)) {
    if (!st) return fail('shared-memory', `${regionPath} is missing`, `load the module: \`modprobe kvmfr static_size_mb=${Math.max(need / 1048576, 32)}\``);
    if (!st.isCharacterDevice()) return fail('shared-memory', `${regionPath} is a regular file, not the kvmfr device (QEMU ran before the module was loaded)`, `delete it, \`modprobe kvmfr\`, and start the VM again`);
  } else if (!st) {
    return ok('shared-memory', `${regionPath} does not exist yet; \`vm up\` creates it with ${formatSize(need)}, mode 0660`);
  } else if (st.size < need) {
    return fail('shared-memory', `${regionPath} is ${formatSize(st.size)}, the resolution needs ${formatSize(need)}`, `delete ${regionPath} (with the VM stopped); \`vm up\` recreates it at the right size`);
  }
  if ((st.mode & 0o060) !== 0o060 || !(await host.writable(regionPath))) {
    // QEMU (often in group kvm) and the viewer's user must both map it: group read-write.
    return warn('shared-memory', `${regionPath} is not readable and writable for its group (mode ${(st.mode & 0o777).toString(8).padStart(4, '0')}, gid ${st.gid})`, permissionFix(regionPath));
  }
  return ok('shared-memory', `${regionPath} ready (mode ${(st.mode & 0o777).toString(8)})`);
}

function configChecks(config: VmConfig, amd: boolean): Check[] {
  const out: Check[] = [];
  const cores = config.cpu.sockets * config.cpu.cores;
  const n = vcpuCount(config);
  if (cores < 2) out.push(warn('vcpu-topology', `${n} vCPU(s) on ${cores} core: Looking Glass-style capture misbehaves with a single-core guest`, 'give the guest at least 2 cores (4 or more vCPUs preferred) in [cpu]'));
  else if (amd && config.cpu.threads > 1 && !config.cpu.topoext && config.qemu.accel === 'kvm') out.push(warn('vcpu-topology', `${n} vCPUs with ${config.cpu.threads} threads per core on an AMD host without topoext`, 'set topoext = true in [cpu] so the guest sees SMT siblings'));
  else out.push(ok('vcpu-topology', `${n} vCPUs: ${config.cpu.sockets} socket(s) x ${config.cpu.cores} cores x ${config.cpu.threads} threads`));
  if (config.region) {
    out.push(ok('region-size', `${formatSize(regionBytes(config)!)} region for ${config.region.width}x${config.region.height}${config.region.hdr ? ' HDR' : ''} (Looking Glass B7 rule)`));
  }
  return out;
}

async function passthroughCheck(host: HostRoot, config: VmConfig): Promise<Check | null> {
  const addrs = passthroughAddresses(config);
  if (addrs.length === 0) return null;
  const missing: string[] = [];
  for (const a of addrs) if (!(await readPciDevice(host, a))) missing.push(a);
  if (missing.length) return fail('passthrough-devices', `not on this host: ${missing.join(', ')}`, 'correct the addresses in the config (see `glasspane iommu`)');
  return ok('passthrough-devices', `present: ${addrs.join(', ')}`);
}

/**
 * Every host check, or with a VM config only those that VM needs: KVM with accel = "kvm", the
 * IOMMU, VFIO and GPU checks with passthrough (GPU resets only for its own GPUs), hugepages when
 * it asks for them, the region when it has one, then the config's own checks.
 */
export async function runDoctor(host: HostRoot, config?: VmConfig, options: { probeKvm?: KvmProbe } = {}): Promise<Check[]> {
  const cpuinfo = await host.read('/proc/cpuinfo');
  const intel = /GenuineIntel/.test(cpuinfo ?? '');
  const amd = /AuthenticAMD/.test(cpuinfo ?? '');
  const cmdline = ((await host.read('/proc/cmdline')) ?? '').split(/\s+/).filter(Boolean);
  const devices = await listPciDevices(host);
  const lent = config ? new Set(passthroughAddresses(config)) : null;
  const needs = {
    kvm: !config || config.qemu.accel === 'kvm',
    passthrough: !lent || lent.size > 0,
    hugepages: !config || config.memory.hugepages,
    region: !config || Boolean(config.region),
  };
  const checks: Check[] = [];
  if (needs.kvm) checks.push(...(await kvmChecks(host, cpuinfo, true, options.probeKvm)));
  if (needs.passthrough) checks.push(...(await iommuChecks(host, intel, cmdline)));
  if (needs.hugepages) checks.push(await hugepageCheck(host, config));
  if (needs.passthrough) checks.push(...(await gpuChecks(host, lent ? devices.filter((d) => lent.has(d.address)) : devices, devices, config)));
  if (needs.region) checks.push(await sharedMemoryCheck(host, config));
  if (config) {
    checks.push(...configChecks(config, amd));
    const pt = await passthroughCheck(host, config);
    if (pt) checks.push(pt);
    // The files are this machine's: a --root tree is another machine's sysfs, not its disks.
    if (host.root === '/') checks.push(configFilesCheck(config));
  }
  return checks;
}

/**
 * The checks `vm up` must pass for this config: /dev/kvm only with accel = "kvm", IOMMU/VFIO
 * ones only with passthrough, the region ones with a region. Throws on the first failure.
 */
export async function requireHostReady(host: HostRoot, config: VmConfig, options: { probeKvm?: KvmProbe } = {}): Promise<Check[]> {
  const checks = await runDoctor(host, config, options);
  const passthrough = passthroughAddresses(config).length > 0;
  const relevant = (c: Check) =>
    // /dev/kvm decides KVM; the CPU flags are information only (nested virtualisation hides them).
    (config.qemu.accel === 'kvm' && c.id === 'kvm-device') ||
    (passthrough && ['firmware-iommu', 'iommu-active', 'cmdline-intel-iommu', 'passthrough-devices', 'boot-gpu'].includes(c.id) && !(c.id === 'boot-gpu' && config.lifecycle.force_boot_gpu)) ||
    c.id === 'hugepages' ||
    // a /dev/shm file that is too small is recreated by vm up; a missing kvmfr device is fatal
    (c.id === 'shared-memory' && /^\/dev\/kvmfr\d+$/.test(config.region?.path ?? ''));
  const failed = checks.filter((c) => c.status === 'fail' && relevant(c));
  if (failed.length) {
    throw new GlasspaneError('ERR_HOST_NOT_READY', `the host is not ready for ${config.name}: ${failed.map((c) => `${c.id}: ${c.message}`).join('; ')}`, failed[0].fix ?? 'run `glasspane doctor`');
  }
  return checks;
}
