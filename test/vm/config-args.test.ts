import { describe, expect, it } from 'vitest';
import { parse } from 'smol-toml';
import { loadVmConfig, parseVmConfig, passthroughAddresses, regionBytes } from '../../src/vm/config.js';
import { buildQemuArgs, buildQemuFlags, formatCommand, runtimePaths } from '../../src/vm/qemu-args.js';
import { MiB, parseSize, regionBytesFor } from '../../src/vm/region-size.js';

const paths = { qmpSocket: '/run/glasspane/x.qmp', watchSocket: '/run/glasspane/x.watch.qmp', spiceSocket: null };
/** The value following each occurrence of a flag. */
const values = (args: string[], flag: string) => args.flatMap((a, i) => (a === flag ? [args[i + 1]] : []));

describe('region size (Looking Glass B7 rule)', () => {
  it('gives the documented sizes', () => {
    expect(regionBytesFor(1920, 1080)).toBe(32 * MiB);
    expect(regionBytesFor(2560, 1440)).toBe(64 * MiB);
    expect(regionBytesFor(3840, 2160)).toBe(128 * MiB);
    expect(regionBytesFor(3840, 2160, true)).toBe(256 * MiB);
    expect(parseSize('16G')).toBe(16 * 1024 * MiB);
    expect(parseSize('512MiB')).toBe(512 * MiB);
    expect(parseSize('lots')).toBeNull();
  });
});

describe('vm config', () => {
  it('loads the AMD dual-GPU example', async () => {
    const { config } = await loadVmConfig('examples/vm-amd-dual-gpu.toml');
    expect(passthroughAddresses(config)).toEqual(['0000:2f:00.0', '0000:2f:00.1', '0000:23:00.0', '0000:34:00.3']);
    expect(regionBytes(config)).toBe(64 * MiB);
  });

  const bad: [string, string, RegExp][] = [
    ['unknown key', 'name="a"\ncpu={cores=2}\nmemory={size="1G"}\nfoo=1', /\(top level\): unknown key "foo"/],
    ['missing memory', 'name="a"\ncpu={cores=2}', /memory: missing/],
    ['bad size', 'name="a"\ncpu={cores=2}\nmemory={size="lots"}', /memory\.size: expected a size/],
    ['bad PCI address', 'name="a"\ncpu={cores=2}\nmemory={size="1G"}\ngpu={functions=["2f:00"]}', /gpu\.functions\.0: "2f:00" is not a PCI address/],
    ['vcpus mismatch', 'name="a"\ncpu={vcpus=10,cores=4,threads=2}\nmemory={size="1G"}', /cpu: vcpus must equal sockets × cores × threads/],
    ['region too small', 'name="a"\ncpu={cores=2}\nmemory={size="1G"}\nregion={path="/dev/shm/x",width=2560,height=1440,size="32M"}', /region\.size: 32M is below the 64M/],
    ['spice both', 'name="a"\ncpu={cores=2}\nmemory={size="1G"}\nspice={port=5900,socket="/tmp/s"}', /spice: give exactly one of port/],
    ['disk without source', 'name="a"\ncpu={cores=2}\nmemory={size="1G"}\n[[disk]]\nbus="virtio"', /disk\.0: give exactly one of file/],
    ['bad name', 'name="my vm"\ncpu={cores=2}\nmemory={size="1G"}', /name: use letters/],
    ['hyperv on tcg', 'name="a"\nqemu={accel="tcg"}\ncpu={cores=2,hyperv=true}\nmemory={size="1G"}', /cpu\.hyperv: Hyper-V enlightenments need KVM/],
  ];
  for (const [name, toml, re] of bad) {
    it(`names the key and the fix: ${name}`, () => {
      let err: any;
      try {
        parseVmConfig(parse(toml), 'x.toml');
      } catch (e) {
        err = e;
      }
      expect(err?.code).toBe('ERR_CONFIG');
      expect(err.message).toMatch(re);
      expect(err.fix).toMatch(/docs\/vm\.md/);
    });
  }

  it('reports TOML syntax errors and missing files as config errors', async () => {
    const e1 = await loadVmConfig('does/not/exist.toml').catch((e) => e);
    expect(e1.code).toBe('ERR_CONFIG');
    expect(e1.message).toBe('the VM config does/not/exist.toml does not exist');
  });
});

describe('qemu args', () => {
  it('AMD dual GPU: modern 7.2 command line', async () => {
    const { config } = await loadVmConfig('examples/vm-amd-dual-gpu.toml');
    const args = buildQemuArgs(config, paths);
    expect(values(args, '-machine')).toEqual(['q35,accel=kvm']);
    expect(values(args, '-cpu')[0]).toMatch(/^host,topoext=on,hv-relaxed,hv-vapic,hv-spinlocks=0x1fff,.*hv-ipi$/);
    expect(values(args, '-smp')).toEqual(['10,sockets=1,cores=5,threads=2']);
    expect(values(args, '-m')).toEqual(['16G']);
    expect(values(args, '-drive')).toContain('if=pflash,format=raw,unit=0,readonly=on,file=/usr/share/OVMF/OVMF_CODE_4M.fd');
    expect(values(args, '-drive')).toContain('if=pflash,format=raw,unit=1,file=/var/lib/glasspane/win-gaming/OVMF_VARS_4M.fd');
    const devices = values(args, '-device');
    expect(devices).toContain('virtio-blk-pci,drive=disk0,bootindex=1');
    expect(devices).toContain('vfio-pci,host=0000:2f:00.0,bus=rp1,addr=0x0.0,multifunction=on');
    expect(devices).toContain('vfio-pci,host=0000:2f:00.1,bus=rp1,addr=0x0.1');
    expect(devices).toContain('vfio-pci,host=0000:23:00.0,bus=rp2,addr=0x0.0');
    expect(devices).toContain('vfio-pci,host=0000:34:00.3,bus=rp3,addr=0x0.0');
    expect(devices.filter((d) => d.startsWith('pcie-root-port'))).toHaveLength(3);
    expect(values(args, '-object')).toContain('memory-backend-file,id=lgmem,mem-path=/dev/shm/looking-glass,size=64M,share=on');
    expect(devices).toContain('ivshmem-plain,memdev=lgmem');
    expect(values(args, '-spice')).toEqual(['port=5900,addr=127.0.0.1,disable-ticketing=on']);
    expect(values(args, '-qmp')).toEqual(['unix:/run/glasspane/x.qmp,server=on,wait=off']);
    expect(values(args, '-rtc')).toEqual(['base=localtime']);
    for (const legacy of ['-soundhw', '-enable-kvm', 'kvm=off', 'hv_vendor_id', 'hv_relaxed', 'x-vga']) {
      expect(args.join(' ')).not.toContain(legacy);
    }
  });

  it('NVIDIA raw QEMU: evdev, ISO on AHCI, qcow2 on virtio-scsi, kvmfr', async () => {
    const { config } = await loadVmConfig('examples/vm-nvidia-raw-qemu.toml');
    const args = buildQemuArgs(config, paths);
    expect(values(args, '-smp')).toEqual(['4,sockets=1,cores=2,threads=2']);
    expect(values(args, '-m')).toEqual(['8G']);
    const objects = values(args, '-object');
    expect(objects).toContain('input-linux,id=kbd,evdev=/dev/input/by-id/usb-04d9_USB-HID_Keyboard-event-kbd,grab_all=on,repeat=on');
    expect(objects).toContain('input-linux,id=mouse,evdev=/dev/input/by-id/usb-Logitech_G102_Prodigy_Gaming_Mouse_017F36743435-event-mouse');
    expect(objects).toContain('input-linux,id=evdev0,evdev=/dev/input/by-id/usb-Logitech_G102_Prodigy_Gaming_Mouse_017F36743435-if01-event-kbd,repeat=on');
    expect(objects).toContain('memory-backend-file,id=lgmem,mem-path=/dev/kvmfr0,size=64M,share=on');
    const devices = values(args, '-device');
    expect(devices).toContain('ide-cd,bus=ide.0,drive=disk0');
    expect(values(args, '-drive')).toContain('file=/tank/vm/win10.iso,if=none,id=disk0,media=cdrom,readonly=on');
    expect(devices).toContain('virtio-scsi-pci,id=scsi0');
    expect(devices).toContain('scsi-hd,bus=scsi0.0,drive=disk1,bootindex=1');
    expect(devices).toContain('vfio-pci,host=0000:01:00.0,bus=rp1,addr=0x0.0,multifunction=on');
  });

  it('smoke: TCG, no hyperv, unix SPICE in the state dir, watch monitor, hugepages and password when asked', async () => {
    const { config } = await loadVmConfig('examples/vm-smoke.toml');
    const p = runtimePaths(config, '/tmp/state');
    expect(p).toEqual({ qmpSocket: '/tmp/state/smoke.qmp', watchSocket: '/tmp/state/smoke.watch.qmp', spiceSocket: '/tmp/state/smoke.spice' });
    const args = buildQemuArgs(config, p);
    expect(values(args, '-cpu')).toEqual(['max']);
    expect(values(args, '-spice')).toEqual(['unix=on,addr=/tmp/state/smoke.spice,disable-ticketing=on']);
    expect(values(args, '-mon')).toEqual(['chardev=glasspane-watch,mode=control']);
    expect(args).not.toContain('-nic');
    const withPw = parseVmConfig({ ...parse('name="a"\ncpu={cores=2}\nmemory={size="4G",hugepages=true}\nspice={port=5901,password_file="/etc/pw"}') }, '/x/a.toml');
    const a2 = buildQemuArgs(withPw, paths);
    expect(values(a2, '-machine')).toEqual(['q35,accel=kvm,memory-backend=mem']);
    expect(values(a2, '-object')).toContain('memory-backend-file,id=mem,size=4G,mem-path=/dev/hugepages,share=on,prealloc=on');
    expect(values(a2, '-object')).toContain('secret,id=spicepw,file=/etc/pw,format=raw');
    expect(values(a2, '-spice')).toEqual(['port=5901,addr=127.0.0.1,password-secret=spicepw']);
  });

  it('audio = true under [spice]: -audiodev spice with the chipset\'s HDA controller and a duplex codec; nothing without it', async () => {
    const { config } = await loadVmConfig('examples/vm-amd-dual-gpu.toml');
    const args = buildQemuArgs(config, paths);
    expect(values(args, '-audiodev')).toEqual(['spice,id=glasspane-audio']);
    expect(values(args, '-device')).toContain('ich9-intel-hda,id=sound0');
    expect(values(args, '-device')).toContain('hda-duplex,bus=sound0.0,audiodev=glasspane-audio');
    const pc = parseVmConfig(parse('name="a"\ncpu={cores=2}\nmemory={size="1G"}\nqemu={machine="pc"}\nspice={port=5901,audio=true}'), '/x/a.toml');
    expect(values(buildQemuArgs(pc, paths), '-device')).toContain('intel-hda,id=sound0');
    const silent = parseVmConfig(parse('name="a"\ncpu={cores=2}\nmemory={size="1G"}\nspice={port=5901}'), '/x/a.toml');
    expect(buildQemuArgs(silent, paths).join(' ')).not.toMatch(/audiodev|hda/);
  });

  it('virtio keyboard, mouse and tablet are on by default, and each can be turned off under [input]', () => {
    const base = 'name="a"\ncpu={cores=2}\nmemory={size="1G"}\n';
    const on = buildQemuArgs(parseVmConfig(parse(base), 'a.toml'), paths);
    expect(values(on, '-device')).toEqual(expect.arrayContaining(['virtio-keyboard-pci,id=glasspane-keyboard', 'virtio-mouse-pci,id=glasspane-mouse', 'virtio-tablet-pci,id=glasspane-tablet']));
    const off = buildQemuArgs(parseVmConfig(parse(`${base}input={virtio_keyboard=false,virtio_tablet=false}`), 'a.toml'), paths);
    expect(values(off, '-device').filter((d) => d.startsWith('virtio-') && /keyboard|mouse|tablet/.test(d))).toEqual(['virtio-mouse-pci,id=glasspane-mouse']);
  });

  it('prints one flag per line, escaping commas in paths', () => {
    const c = parseVmConfig(parse('name="a"\ncpu={cores=2}\nmemory={size="1G"}\nregion={path="/dev/shm/a,b",width=800,height=600}'), '/x/a.toml');
    const text = formatCommand('qemu-system-x86_64', buildQemuFlags(c, paths));
    expect(text.split('\n')[0]).toBe('qemu-system-x86_64 \\');
    expect(text).toContain('  -object memory-backend-file,id=lgmem,mem-path=/dev/shm/a,,b,size=16M,share=on \\');
    expect(text.split('\n').every((l, i) => i === 0 || l.startsWith('  -'))).toBe(true);
  });
});
