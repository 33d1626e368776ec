/**
 * The fix to suggest when a device or region file has the wrong owner, group or mode: the
 * contrib/ files that set them for good (a udev rule for /dev/kvmfrN, a tmpfiles.d entry for
 * /dev/shm regions; docs/vm.md explains both), and the one-off command for right now.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The udev rule that gives /dev/kvmfrN to group kvm, mode 0660 (path inside the package). */
export const UDEV_RULE = 'contrib/udev/99-glasspane-kvmfr.rules';
/**
 * The tmpfiles.d entry that creates a /dev/shm region with group kvm, mode 0660 (path inside the package).
 */
export const TMPFILES_CONF = 'contrib/tmpfiles.d/glasspane.conf';

/** The glasspane folder (where contrib/ lives), found from this module; null if not found. */
function packageDir(): string | null {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    if (existsSync(join(dir, 'contrib')) && existsSync(join(dir, 'package.json'))) return dir;
    dir = dirname(dir);
  }
  return null;
}

const contrib = (file: string) => {
  const dir = packageDir();
  return dir ? join(dir, file) : file;
};

/** What a path is for permissionFix(): /dev/kvm, a kvmfr device, or a /dev/shm region file. */
export type PermissionTarget = 'kvm' | 'kvmfr' | 'shm';

/**
 * Classifies a path by its name only (no file access): `/dev/kvm` → 'kvm', `/dev/kvmfrN` →
 * 'kvmfr', anything else → 'shm'.
 */
export function permissionTargetOf(path: string): PermissionTarget {
  if (/\/dev\/kvm$/.test(path)) return 'kvm';
  return /\/dev\/kvmfr\d+$/.test(path) ? 'kvmfr' : 'shm';
}

/** One sentence: what to run now, and what sets it for good. */
export function permissionFix(path: string, target: PermissionTarget = permissionTargetOf(path)): string {
  switch (target) {
    case 'kvm':
      return 'add yourself to the kvm group (`sudo usermod -aG kvm $USER`, then log in again); the distribution\'s udev rules give /dev/kvm to that group';
    case 'kvmfr':
      return `install the udev rule ${contrib(UDEV_RULE)} into /etc/udev/rules.d/ and run \`sudo udevadm control --reload && sudo udevadm trigger --subsystem-match=kvmfr\` (group kvm, mode 0660), and be in group kvm; see docs/vm.md`;
    case 'shm':
      return `for now \`sudo chgrp kvm ${path} && sudo chmod 0660 ${path}\`; for good install ${contrib(TMPFILES_CONF)} (with your region's name) into /etc/tmpfiles.d/ and run \`sudo systemd-tmpfiles --create\`; see docs/vm.md`;
  }
}
