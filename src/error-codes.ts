/**
 * Every error code glasspane uses, in one list: what it means, the generic fix, and the exit class
 * the CLI turns into its exit status (src/cli/exit-codes.ts). docs/errors.md is generated from this
 * file (`npm run docs:errors`) and test/unit/errors-catalogue.test.ts fails when the two differ, when
 * a source file uses a code missing here, or when a code here is used nowhere.
 *
 * Codes are stable: scripts and tests match on them, so one is never renamed or given another
 * meaning. A throw site may carry a more specific fix than the one here (it wins); the one here is
 * printed where the throw site has none. This module is the bottom layer: it imports nothing.
 */

/**
 * How an error ends a command (docs/cli.md's exit-status table): `check` 1 a check ran and failed,
 * `usage` 2 the user's input is wrong, `nothing` 3 nothing to read, `refused` 4 the host, a device,
 * the guest or the VM refused, `unexpected` 5 a bug in glasspane.
 */
export type ExitClass = 'usage' | 'check' | 'nothing' | 'refused' | 'unexpected';

/** One catalogue entry: `meaning` says what happened, `fix` what the user can do, `exit` the exit class. */
export interface ErrorInfo {
  readonly meaning: string;
  readonly fix: string;
  readonly exit: ExitClass;
}

const GENERAL = {
  ERR_USAGE: { exit: 'usage',
    meaning: 'A command was called with a missing, conflicting or malformed argument.',
    fix: 'correct the arguments as the message says; `glasspane COMMAND --help` lists them' },
  ERR_CONFIG: { exit: 'usage',
    meaning: 'A config file (viewer or VM TOML) is missing, unreadable, not valid TOML, or has an unknown key or a bad value.',
    fix: 'fix the file at the line and key named; docs/viewer.md and docs/vm.md list every key' },
  ERR_OUTPUT: { exit: 'usage',
    meaning: 'An output path (`--screenshot`, `--screenshot-dir`) cannot be written: no such folder, not writable, or a folder where a file is wanted.',
    fix: 'name a file in an existing folder you can write in' },
  ERR_NOT_A_REGION: { exit: 'usage',
    meaning: '`glasspane stub --shm` names an existing file that is not an LGMP region; the stub would overwrite it.',
    fix: 'name a new file (e.g. /dev/shm/looking-glass) or an existing region; add --force only if its content may be destroyed' },
  ERR_INTERNAL: { exit: 'unexpected',
    meaning: 'An unexpected internal error: something failed that glasspane has no code for (a bug).',
    fix: 'run again with GLASSPANE_DEBUG=1 (and NODE_DEBUG=glasspane:*) and report the output' },
} satisfies Record<string, ErrorInfo>;

const REGION = {
  ERR_REGION_OPEN: { exit: 'refused',
    meaning: 'The shared-memory region (/dev/shm/NAME, /dev/kvmfrN or a PCI BAR) does not exist, is not readable and writable by this user, or cannot be mapped.',
    fix: 'start the VM (its ivshmem mem-path) or `glasspane stub` first, check the path, and give your user read and write access (`tools/setup` does)' },
  ERR_REGION_TOO_SMALL: { exit: 'refused',
    meaning: 'The region is too small for the LGMP header, the queues or the frames asked for.',
    fix: 'use a region of at least 32 MiB for 1080p (`glasspane doctor` names the size for a resolution)' },
  ERR_NATIVE_MISSING: { exit: 'refused',
    meaning: 'The native addon (build/Release/glasspane.node) is missing or does not load.',
    fix: 'run `tools/setup` (or `npm run build:native`; it needs g++, make and python3) in the glasspane folder' },
} satisfies Record<string, ErrorInfo>;

const LGMP = {
  ERR_LGMP_MAGIC: { exit: 'refused',
    meaning: 'The region does not start with the LGMP magic: no Looking Glass producer has written it.',
    fix: 'start the Looking Glass B7 guest application (or `glasspane stub`) in the VM' },
  ERR_LGMP_VERSION: { exit: 'refused',
    meaning: 'The producer speaks another LGMP version than 6 (Looking Glass B7).',
    fix: 'install the Looking Glass B7 guest application' },
  ERR_LGMP_CORRUPT: { exit: 'refused',
    meaning: 'An LGMP header or queue field in the region is out of range (user data past the end, too many queues, a ring outside the region).',
    fix: 'restart the guest application' },
  ERR_LGMP_LOCK_TIMEOUT: { exit: 'refused',
    meaning: 'An LGMP queue lock in the region stayed taken past its time budget: the other side hung while holding it, or the region is corrupt.',
    fix: 'restart the guest application; the lock is taken again by the next session' },
  ERR_NO_PRODUCER: { exit: 'nothing',
    meaning: 'No producer is running: the LGMP heartbeat is not moving, or no frame arrived in the time given.',
    fix: 'start the guest application (or `glasspane stub`), or wait longer with --seconds' },
  ERR_PRODUCER_STARTING: { exit: 'refused',
    meaning: 'The producer has not yet offered its frame and cursor queues (it is starting, or it is not a KVMFR producer).',
    fix: 'wait a moment; if it persists, use the Looking Glass B7 guest application' },
  ERR_QUEUE_FULL: { exit: 'refused',
    meaning: 'Every subscriber slot of an LGMP queue is taken by other consumers.',
    fix: 'close other viewers; the slots of dead ones are reclaimed after about a second' },
} satisfies Record<string, ErrorInfo>;

const KVMFR = {
  ERR_KVMFR_MAGIC: { exit: 'refused',
    meaning: 'The LGMP producer does not carry KVMFR frames (its user data has another magic).',
    fix: 'use the Looking Glass B7 guest application' },
  ERR_KVMFR_VERSION: { exit: 'refused',
    meaning: 'The producer speaks another KVMFR version than 20 (Looking Glass B7).',
    fix: 'install the Looking Glass B7 guest application' },
  ERR_KVMFR_CORRUPT: { exit: 'refused',
    meaning: 'The KVMFR header or one of its records is malformed (too short, a record running past the user data).',
    fix: 'restart the guest application; if it persists, use the Looking Glass B7 guest application' },
  ERR_BAD_FRAME: { exit: 'refused',
    meaning: 'A frame from the producer has a field out of range (type, size, pitch, offset, damage rectangles); the frame is skipped.',
    fix: 'restart the guest application; if it persists, report it with the producer version' },
  ERR_BAD_CURSOR: { exit: 'refused',
    meaning: 'A cursor shape or position from the producer has a field out of range; the cursor update is skipped.',
    fix: 'restart the guest application' },
} satisfies Record<string, ErrorInfo>;

const RELAY = {
  ERR_FRAME_STALLED: { exit: 'refused',
    meaning: 'The producer stopped writing a frame part way through; the frame is dropped, never shown half-written.',
    fix: 'nothing to do if it is rare; if it repeats, the guest is starved of CPU' },
  ERR_REGION_TRUNCATED: { exit: 'refused',
    meaning: 'The region file shrank while glasspane had it mapped; glasspane opens it again.',
    fix: 'do not resize or delete the region while it is in use' },
  ERR_REGION_REPLACED: { exit: 'refused',
    meaning: 'The region file was deleted or re-created while glasspane had it mapped; glasspane opens the new one.',
    fix: 'nothing to do if the VM or the guest application is restarting; otherwise do not re-create the region while it is in use' },
  ERR_SESSION_ENDED: { exit: 'refused',
    meaning: 'The producer restarted (a new LGMP session); glasspane follows it by itself.',
    fix: 'nothing to do: the viewer picks up the new session' },
  ERR_SUBSCRIPTION_LOST: { exit: 'refused',
    meaning: 'The producer dropped glasspane\'s queue subscription (it was too slow, or was unsubscribed); glasspane subscribed again.',
    fix: 'nothing to do if it is rare; if it repeats, the host is too busy to keep up' },
  ERR_PRODUCER_STALLED: { exit: 'refused',
    meaning: 'The producer\'s heartbeat stopped for over a second; glasspane waits for it to come back.',
    fix: 'nothing to do if the guest is paused, rebooting or restarting its application' },
  ERR_FRAMES_HELD: { exit: 'refused',
    meaning: 'No frame buffer was released in time; frames are skipped until one is.',
    fix: 'the window is not presenting: check that it is not frozen or minimised on a stalled compositor' },
  ERR_FRAME_LISTENER: { exit: 'unexpected',
    meaning: 'Code listening to the relay\'s events threw; the relay carried on (a bug).',
    fix: 'report it with the stack trace from NODE_DEBUG=glasspane:relay' },
  ERR_RELAY_THREAD: { exit: 'unexpected',
    meaning: 'The relay\'s worker thread failed or stopped; glasspane starts it again (a bug).',
    fix: 'report it with the output of NODE_DEBUG=glasspane:relay' },
} satisfies Record<string, ErrorInfo>;

const VIEWER = {
  ERR_NO_DISPLAY: { exit: 'usage',
    meaning: 'A window was asked for, but there is no display (DISPLAY and WAYLAND_DISPLAY are unset).',
    fix: 'run inside a desktop session, or add --headless to consume frames without a window' },
  ERR_NO_SDL: { exit: 'refused',
    meaning: 'The SDL window library could not be loaded.',
    fix: 'install libsdl2-dev and run `npm run build:sdl` in the glasspane folder, or use --headless' },
  ERR_PRESENTER: { exit: 'refused',
    meaning: 'Frames cannot be presented in this window: SDL or its renderer refuses, the window is gone, or the presenter is closed or used from another thread.',
    fix: 'rebuild the window addon against the system SDL 2 (`npm run build:sdl`), or use --headless' },
  ERR_PRESENT_GEOMETRY: { exit: 'unexpected',
    meaning: 'The presenter was given a frame, overlay or rectangle that does not fit its size (a bug in the caller).',
    fix: 'report it with the message' },
  ERR_FORMAT: { exit: 'refused',
    meaning: 'The guest frame\'s pixel format or geometry cannot be shown or saved (e.g. a screenshot of a format glasspane cannot convert).',
    fix: 'set the guest to an 8-bit-per-channel desktop format (BGRA/RGBA), or report the format' },
  ERR_AUDIO_DEVICE: { exit: 'usage',
    meaning: 'The sound device named with --audio-device or --microphone-device does not exist.',
    fix: 'use a name from the list in the message, or leave the option out for the default device' },
} satisfies Record<string, ErrorInfo>;

const SPICE = {
  ERR_SPICE_ADDRESS: { exit: 'usage',
    meaning: 'The SPICE address given cannot be parsed.',
    fix: 'write HOST:PORT (e.g. 127.0.0.1:5900) or unix:/path/to/spice.sock' },
  ERR_SPICE_CONNECT: { exit: 'refused',
    meaning: 'The TCP or unix connection to the SPICE server failed (refused, no such socket, unreachable).',
    fix: 'check the address and that QEMU is running with -spice' },
  ERR_SPICE_MAGIC: { exit: 'refused',
    meaning: 'The peer did not answer with "REDQ": it is not a SPICE server.',
    fix: 'use the port or socket of QEMU\'s -spice option, not VNC, QMP or a serial port' },
  ERR_SPICE_VERSION: { exit: 'refused',
    meaning: 'The SPICE server speaks another major protocol version than 2.',
    fix: 'use a SPICE server with protocol 2.2 (QEMU with spice-server 0.12 or newer)' },
  ERR_SPICE_LINK: { exit: 'refused',
    meaning: 'The SPICE server refused to link a channel (a link error other than a wrong password).',
    fix: 'check the SPICE server log (QEMU stderr) for the reason the message names' },
  ERR_SPICE_AUTH: { exit: 'refused',
    meaning: 'The SPICE server refused the password (wrong, or the server has none set).',
    fix: 'put the password of -spice password-secret= in the file given to --spice-password-file or in GLASSPANE_SPICE_PASSWORD' },
  ERR_SPICE_PASSWORD: { exit: 'usage',
    meaning: 'The SPICE password is over 60 bytes (the server\'s limit), or its file cannot be read.',
    fix: 'use a shorter password, in a readable file of one line' },
  ERR_SPICE_PROTOCOL: { exit: 'refused',
    meaning: 'A SPICE message is malformed: a size or field the protocol does not allow.',
    fix: 'check that the address is a SPICE server; otherwise report it with NODE_DEBUG=glasspane:spice output' },
  ERR_SPICE_CLOSED: { exit: 'refused',
    meaning: 'The SPICE connection or channel ended (between messages or in the middle of one), or is not open.',
    fix: 'check that QEMU is still running; another SPICE client connecting takes the session over' },
  ERR_SPICE_TIMEOUT: { exit: 'refused',
    meaning: 'The SPICE server did not answer in time (a link step, or the MOTION_ACK for mouse motion sent), stopped reading what the client sent, or the guest agent did not answer.',
    fix: 'check that the address is QEMU\'s -spice port and that QEMU is not paused or hung' },
  ERR_SPICE_NO_INPUTS: { exit: 'refused',
    meaning: 'The SPICE server offers no inputs channel.',
    fix: 'check that the address is the right VM (QEMU with -spice always has one)' },
  ERR_SPICE_NO_AUDIO: { exit: 'refused',
    meaning: 'Guest audio was asked for, but the SPICE server has no playback or record channel.',
    fix: 'give the VM SPICE audio: -audiodev spice,id=snd0 and a sound device using it' },
  ERR_SPICE_KEY: { exit: 'usage',
    meaning: 'A key name, mouse action or button that glasspane does not know.',
    fix: 'name keys by KeyboardEvent.code (KeyA, ControlLeft, F5, ...); `glasspane send --help` lists the mouse actions' },
} satisfies Record<string, ErrorInfo>;

const VM = {
  ERR_PCI_ADDRESS: { exit: 'usage',
    meaning: 'A PCI address is malformed.',
    fix: 'write it as DOMAIN:BUS:DEVICE.FUNCTION in hex, e.g. 0000:2f:00.0 (see `glasspane iommu` or `lspci -D`)' },
  ERR_PCI_NOT_FOUND: { exit: 'usage',
    meaning: 'No PCI device has the address given (or it left the bus).',
    fix: 'list the devices with `glasspane iommu`; a removed one comes back with `echo 1 > /sys/bus/pci/rescan`' },
  ERR_NOT_A_BRIDGE: { exit: 'usage',
    meaning: 'The device given to `vfio remove-bridge` is not a PCI bridge.',
    fix: 'give the bridge above the card (see `glasspane iommu`)' },
  ERR_HOST_NOT_READY: { exit: 'check',
    meaning: 'The host checks before `vm up` failed (IOMMU, KVM, vfio, region size, ...).',
    fix: 'run `glasspane doctor` and fix what it reports' },
  ERR_NO_IOMMU_GROUP: { exit: 'refused',
    meaning: 'A device has no IOMMU group: the IOMMU is off.',
    fix: 'enable VT-d/AMD-Vi in the firmware and boot with intel_iommu=on (Intel); check with `glasspane doctor`' },
  ERR_GROUP_NOT_VIABLE: { exit: 'refused',
    meaning: 'The IOMMU group holds devices that were not named; QEMU would refuse the group.',
    fix: 'lend the whole group (name every device in it), or move the card to another slot' },
  ERR_BOOT_GPU: { exit: 'refused',
    meaning: 'The device is the host\'s boot GPU; taking it would leave the host without a display.',
    fix: 'pass through the other GPU, make the other card the boot GPU in the firmware, or add --force-boot-gpu if the host has another screen' },
  ERR_VFIO_DRIVER_MISSING: { exit: 'refused',
    meaning: 'The vfio-pci driver is not loaded.',
    fix: 'run `modprobe vfio-pci` (and add it to /etc/modules-load.d)' },
  ERR_VFIO_NOT_BOUND: { exit: 'refused',
    meaning: 'A device did not end up on vfio-pci after the bind; the host was rolled back.',
    fix: 'check `dmesg` for vfio-pci errors (is the module loaded and the IOMMU on?)' },
  ERR_UNBIND_FAILED: { exit: 'refused',
    meaning: 'Devices could not be unbound from their drivers.',
    fix: 'see `dmesg`; stop whatever uses the device, then try again' },
  ERR_RESTORE_DRIVER: { exit: 'refused',
    meaning: 'A device did not return to its original driver when the host was restored.',
    fix: 'load the driver (`modprobe DRIVER`) or bind the device by hand, then run `glasspane vfio restore`' },
  ERR_RESTORE_FAILED: { exit: 'refused',
    meaning: 'Restoring the host from the journal left some devices as they were; the journal is kept.',
    fix: 'fix the cause the message names (see `dmesg`), then run `glasspane vfio restore` again' },
  ERR_ROLLBACK_FAILED: { exit: 'refused',
    meaning: 'A step failed and putting the host back also failed; the journal is kept.',
    fix: 'fix the cause, then run `glasspane vfio restore` (with the journal named in the message)' },
  ERR_JOURNAL_EXISTS: { exit: 'refused',
    meaning: 'A journal from an earlier run exists: its devices may still be on vfio-pci.',
    fix: 'run `glasspane vfio restore` first (or `glasspane vm down NAME` for a VM)' },
  ERR_JOURNAL_ROOT: { exit: 'refused',
    meaning: 'The journal was written for another --root than the one given.',
    fix: 'run again with the --root the message names' },
  ERR_JOURNAL_CORRUPT: { exit: 'refused',
    meaning: 'The journal file cannot be read or has an unknown layout.',
    fix: 'restore the devices by hand (`glasspane vfio unbind ADDR`), then delete the file' },
  ERR_SYSFS_WRITE: { exit: 'refused',
    meaning: 'A sysfs write (bind, unbind, driver_override, remove) failed with an errno.',
    fix: 'run as root; for EBUSY, stop what uses the device; see `dmesg`' },
  ERR_SYSFS_STUCK: { exit: 'refused',
    meaning: 'A sysfs write did not return: the kernel is blocked in it (the device is in use).',
    fix: 'stop what still uses the device (QEMU holding vfio-pci, a host driver in use), then run `glasspane vfio restore`' },
  ERR_QEMU_SPAWN: { exit: 'refused',
    meaning: 'The QEMU binary could not be started.',
    fix: 'install QEMU (Debian: apt install qemu-system-x86) or set qemu.binary in the VM config' },
  ERR_QEMU_EXITED: { exit: 'refused',
    meaning: 'QEMU exited (or never answered on QMP) while the VM was coming up.',
    fix: 'fix what the QEMU log in the state directory says; `glasspane vm up FILE --dry-run` shows the command' },
  ERR_QMP_CONNECT: { exit: 'refused',
    meaning: 'The QMP socket could not be reached.',
    fix: 'check that the VM is running (`glasspane vm status NAME`) and read the QEMU log' },
  ERR_QMP_BUSY: { exit: 'refused',
    meaning: 'The QMP socket sent no greeting: another client holds the monitor, or it is not a QMP socket.',
    fix: 'close the other QMP client (a monitor serves one at a time) and try again' },
  ERR_QMP_CLOSED: { exit: 'refused',
    meaning: 'QEMU closed the QMP connection, or it was already closed.',
    fix: 'check whether QEMU is still running (`glasspane vm status NAME`)' },
  ERR_QMP_COMMAND: { exit: 'refused',
    meaning: 'QEMU answered a QMP command with an error.',
    fix: 'see the QEMU log in the state directory' },
  ERR_VM_RUNNING: { exit: 'refused',
    meaning: 'The VM is already running.',
    fix: 'stop it first with `glasspane vm down NAME`' },
  ERR_VM_NOT_RUNNING: { exit: 'nothing',
    meaning: 'QEMU is up but the VM does not reach the running state.',
    fix: 'see the QEMU log in the state directory' },
  ERR_VM_UNKNOWN: { exit: 'nothing',
    meaning: 'No VM of that name has run from the state directory.',
    fix: 'check the name (the name key of its TOML file), or pass the --state-dir that `vm up` used' },
  ERR_VM_STATE: { exit: 'refused',
    meaning: 'The VM\'s state file in the state directory cannot be read.',
    fix: 'delete the file if no QEMU of that VM is running' },
  ERR_VM_STUCK: { exit: 'refused',
    meaning: 'QEMU survived SIGKILL: it is stuck in the kernel (often a device reset).',
    fix: 'the host may need a reboot' },
} satisfies Record<string, ErrorInfo>;

const GUEST_STUB = {
  ERR_IVSHMEM_DEVICE: { exit: 'usage',
    meaning: 'Inside the guest, the ivshmem device is missing, ambiguous, not ivshmem, without its BAR 2, or cannot be enabled.',
    fix: 'give the VM `-device ivshmem-plain` with a memdev, pick one with --device ADDRESS, and run the stub as root' },
  ERR_EVDEV: { exit: 'refused',
    meaning: 'Inside the guest, the input event devices cannot be listed, opened or read.',
    fix: 'load evdev (modprobe evdev), mount devtmpfs on /dev, and run the stub as root (or in group input)' },
} satisfies Record<string, ErrorInfo>;

/** The catalogue's sections, in the order docs/errors.md shows them: a title and its codes. */
export const ErrorSections = [
  { title: 'General and command line', codes: GENERAL },
  { title: 'Region and native addon', codes: REGION },
  { title: 'LGMP (shared-memory protocol)', codes: LGMP },
  { title: 'KVMFR (frames and cursor)', codes: KVMFR },
  { title: 'Frame relay', codes: RELAY },
  { title: 'Viewer', codes: VIEWER },
  { title: 'SPICE (input, clipboard, audio)', codes: SPICE },
  { title: 'VM: vfio, QEMU, QMP', codes: VM },
  { title: 'Guest stub', codes: GUEST_STUB },
] as const;

/** Every error code → its meaning, generic fix and exit class. */
export const ErrorCatalogue = { ...GENERAL, ...REGION, ...LGMP, ...KVMFR, ...RELAY, ...VIEWER, ...SPICE, ...VM, ...GUEST_STUB };

/** A code glasspane uses: a closed union, so the compiler rejects an unknown one. */
export type ErrorCode = keyof typeof ErrorCatalogue;

/** The catalogue entry of `code`; ERR_INTERNAL's for a string that is not a code (only a cast can make one). */
export function errorInfo(code: ErrorCode): ErrorInfo {
  return (ErrorCatalogue as Record<string, ErrorInfo>)[code] ?? ErrorCatalogue.ERR_INTERNAL;
}
