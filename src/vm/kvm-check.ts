/**
 * Whether this host can run a VM with accel = "kvm", decided the way QEMU finds out: open
 * /dev/kvm read-write and ask KVM_GET_API_VERSION. The CPU flags in /proc/cpuinfo are only
 * information: inside a VM with nested virtualisation they show neither vmx nor svm while
 * /dev/kvm works, and a host whose firmware disabled virtualisation shows them while it does not.
 *
 * A captured --root tree holds no working device: there /dev/kvm is only checked for presence.
 */
import { userInfo } from 'node:os';
import { native } from '../native.js';
import type { HostRoot } from './host-root.js';
import type { Check, CheckStatus } from './check.js';
import { permissionFix } from '../permission-fix.js';

/** Opens a KVM device and returns its API version; throws an errno error (code, syscall, path). */
export type KvmProbe = (path: string) => number;
/** The real probe: the addon opens the device and asks (synchronous: open(2) and one ioctl). */
export const probeKvm: KvmProbe = (p) => native.kvmApiVersion(p);

/** The API version every KVM since Linux 2.6.22 reports (QEMU refuses any other). */
export const KVM_API_VERSION = 12;

const check = (id: string, status: CheckStatus, message: string, fix: string | null = null): Check => ({ id, status, message, fix });

/**
 * The `kvm-device` check (fail only when `needKvm`; warn otherwise) and the informational
 * `cpu-virtualization` check, which never fails.
 */
export async function kvmChecks(host: HostRoot, cpuinfo: string | null, needKvm: boolean, probe: KvmProbe = probeKvm): Promise<Check[]> {
  const bad = (message: string, fix: string) => check('kvm-device', needKvm ? 'fail' : 'warn', needKvm ? message : `${message} (this VM uses TCG, so it can still run, slowly)`, fix);
  const loadFix = 'load the module (`modprobe kvm_intel` or `modprobe kvm_amd`) after enabling virtualisation (VT-x / SVM) in the firmware setup';
  let kvm: Check;
  let works = false;
  const st = await host.stat('/dev/kvm');
  const devicePath = host.resolve('/dev/kvm');
  if (!st) {
    kvm = bad('/dev/kvm is missing', loadFix);
  } else if (!st.isCharacterDevice() && !host.isLiveHost) {
    // A captured tree: a placeholder file says the host had one, not that it worked.
    kvm = (await host.writable('/dev/kvm')) ? check('kvm-device', 'ok', '/dev/kvm present (captured tree: not opened)') : bad('/dev/kvm is not writable by this user', permissionFix(devicePath, 'kvm'));
  } else {
    try {
      const version = probe(devicePath);
      if (version === KVM_API_VERSION) {
        works = true;
        kvm = check('kvm-device', 'ok', `/dev/kvm answers KVM_GET_API_VERSION with ${version}: KVM works`);
      } else {
        kvm = bad(`/dev/kvm reports KVM API version ${version}, QEMU needs ${KVM_API_VERSION}`, 'update the kernel');
      }
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      switch (e.code) {
        case 'EACCES':
        case 'EPERM':
          kvm = bad(`/dev/kvm is not readable and writable by ${userInfo().username} (mode ${(st.mode & 0o777).toString(8).padStart(4, '0')}, uid ${st.uid}, gid ${st.gid})`, permissionFix(devicePath, 'kvm'));
          break;
        case 'ENODEV':
        case 'ENXIO':
          kvm = bad('/dev/kvm exists but no KVM module answers behind it', loadFix);
          break;
        case 'ENOTTY':
        case 'EINVAL':
          kvm = bad(`/dev/kvm is not a KVM device (${st.isCharacterDevice() ? 'a device that does not know KVM_GET_API_VERSION' : 'not a character device'})`, 'remove it and reload the kvm module');
          break;
        default:
          kvm = bad(`/dev/kvm cannot be used: ${e.syscall ?? 'open'} failed with ${e.code ?? e.message}`, loadFix);
      }
    }
  }

  const flags = /^flags\s*:(.*)$/m.exec(cpuinfo ?? '')?.[1]?.split(/\s+/) ?? [];
  const flag = flags.includes('vmx') ? 'Intel VT-x (vmx)' : flags.includes('svm') ? 'AMD-V (svm)' : null;
  let cpu: Check;
  if (flag) cpu = check('cpu-virtualization', 'ok', `${flag} in /proc/cpuinfo`);
  else if (works) cpu = check('cpu-virtualization', 'ok', '/proc/cpuinfo shows neither vmx nor svm (usual inside a VM with nested virtualisation); /dev/kvm works, which is what counts');
  else cpu = check('cpu-virtualization', 'warn', '/proc/cpuinfo shows neither vmx nor svm', 'enable Intel VT-x or AMD SVM in the firmware setup (inside a VM: enable nested virtualisation on its host)');
  return [cpu, kvm];
}
