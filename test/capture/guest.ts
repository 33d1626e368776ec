/**
 * A Linux guest with a desktop for the capture test: QEMU under TCG booting the host's kernel with
 * a busybox initramfs (test/support/initramfs.ts), an ivshmem-plain device on a fresh /dev/shm
 * file, SPICE on a unix socket, and /usr plus this project shared read-only over 9p. /init starts
 * a real X server as a user's desktop has one — Xorg with the dummy video driver and the evdev
 * input driver on the guest's PS/2 keyboard and mouse — draws a known picture with x-draw
 * (fixtures/x-draw.c; its window repaints itself on key presses), and runs
 * `glasspane capture --device auto` as user nobody: the only privilege it gets is the BAR file
 * made readable and writable, as docs/linux-guest.md's udev rule does. Lines /init prints on the
 * serial port start with "CAP ".
 *
 * Contract (test/e2e/guest.ts bootIvshmemGuest): startCaptureGuest() returns a running guest or
 * throws with the reason; stop() kills QEMU and removes the temp dir and the /dev/shm file, and is
 * safe to call twice.
 */
import { readFileSync } from 'node:fs';
import { initLoadModules, initWaitForInput, INIT_START } from '../support/initramfs.js';
import { bootIvshmemGuest, type E2eGuest } from '../e2e/guest.js';
import { buildXDraw } from './x-support.js';

/** The picture x-draw draws: the root in ROOT_RGB, a RECT window in RECT_RGB that takes the keys. */
export const GUEST_SCREEN = { width: 640, height: 480 };
export const ROOT_RGB: [number, number, number] = [0x33, 0x66, 0x99];
export const RECT = { x: 40, y: 30, width: 100, height: 60 };
export const RECT_RGB: [number, number, number] = [0xff, 0x80, 0x00];

const XORG_CONF = `Section "ServerFlags"
  Option "AutoAddDevices" "false"
  Option "AutoEnableDevices" "false"
  Option "DontVTSwitch" "true"
  Option "BlankTime" "0"
EndSection
Section "Device"
  Identifier "dummy"
  Driver "dummy"
  VideoRam 8192
EndSection
Section "Monitor"
  Identifier "monitor"
  HorizSync 5.0 - 1000.0
  VertRefresh 5.0 - 200.0
  Modeline "640x480" 23.75 640 664 720 800 480 483 487 500 -hsync +vsync
EndSection
Section "Screen"
  Identifier "screen"
  Device "dummy"
  Monitor "monitor"
  DefaultDepth 24
  SubSection "Display"
    Depth 24
    Modes "640x480"
  EndSubSection
EndSection
Section "InputDevice"
  Identifier "keyboard"
  Driver "evdev"
  Option "Device" "/dev/input/KBD"
EndSection
Section "InputDevice"
  Identifier "mouse"
  Driver "evdev"
  Option "Device" "/dev/input/MOUSE"
EndSection
Section "ServerLayout"
  Identifier "layout"
  Screen "screen"
  InputDevice "keyboard" "CoreKeyboard"
  InputDevice "mouse" "CorePointer"
EndSection
`;

function initScript(guestNode: string, share: string): string {
  const hex = (rgb: number[]) => rgb.map((v) => v.toString(16).padStart(2, '0')).join('');
  const draw = `root ${hex(ROOT_RGB)}\\nrect ${RECT.x} ${RECT.y} ${RECT.width} ${RECT.height} ${hex(RECT_RGB)}\\nkeys\\n`;
  return `${INIT_START}${initLoadModules('CAP')}${initWaitForInput('CAP dev')}${share}
ev() { grep -E "^H:.*$1" /proc/bus/input/devices | head -1 | sed 's/.*\\(event[0-9]*\\).*/\\1/'; }
mkdir -p /newroot/var/log /newroot/var/lib/xkb /newroot/etc/X11 /newroot/tmp/.X11-unix
chmod 1777 /newroot/tmp /newroot/tmp/.X11-unix
sed -e "s/KBD/$(ev kbd)/" -e "s/MOUSE/$(ev mouse)/" /xorg.conf > /newroot/etc/X11/xorg.conf
cp /x-draw /newroot/tmp/x-draw
echo 'nobody:x:65534:65534:nobody:/tmp:/bin/sh' > /newroot/etc/passwd
echo 'nogroup:x:65534:' > /newroot/etc/group
# What docs/linux-guest.md's udev rule does: the BAR file for the desktop user, nothing more.
chmod 0666 /sys/bus/pci/devices/0000:00:05.0/resource2
chroot /newroot /usr/lib/xorg/Xorg :0 -config /etc/X11/xorg.conf -noreset -nolisten tcp -ac -logfile /var/log/Xorg.0.log > /dev/null 2>&1 &
i=0
while [ ! -e /newroot/tmp/.X11-unix/X0 ] && [ $i -lt 1200 ]; do sleep 0.1; i=$((i+1)); done
if [ -e /newroot/tmp/.X11-unix/X0 ]; then echo "CAP xorg up"; else echo "CAP xorg down"; tail -30 /newroot/var/log/Xorg.0.log | sed 's/^/CAP log /'; fi
printf '${draw}' | chroot /newroot /usr/bin/env DISPLAY=:0 /tmp/x-draw > /dev/null &  # x-draw stays after its input ends
echo "CAP capture-start $(cut -d' ' -f1 /proc/uptime)"
chroot /newroot /usr/bin/setpriv --reuid=65534 --regid=65534 --clear-groups /usr/bin/env DISPLAY=:0 HOME=/tmp ${guestNode} /glasspane/dist/src/cli/main.js capture --device auto --fps 30 --quiet 2>&1 | sed 's/^/CAP out /'
echo "CAP capture-exit"
poweroff -f
`;
}

/** Boots the guest (see the module comment); throws when a part is missing or QEMU does not start. */
export function startCaptureGuest(): Promise<E2eGuest> {
  return bootIvshmemGuest({
    tag: 'CAP',
    modules: ['evdev', 'psmouse'],
    regionMiB: 8,
    init: (share) => initScript(share.guestNode, share.init),
    files: [
      { name: 'x-draw', data: readFileSync(buildXDraw()), executable: true },
      { name: 'xorg.conf', data: Buffer.from(XORG_CONF) },
    ],
  });
}
