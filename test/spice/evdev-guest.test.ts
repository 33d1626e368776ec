/**
 * End to end with a real Linux guest: Debian's kernel + a busybox initramfs under TCG (see
 * guest.ts). `glasspane send` types and clicks; the guest's evdev devices must report the
 * Linux key codes keymaps.csv gives for those keys, and the mouse events in order.
 * Needs the packages linux-image-amd64 and busybox-static (tools/setup installs them); skipped with the
 * reason when they are missing.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../support/helpers.js';
import { buildInitramfs, findGuestParts, parseSerial, type InputEvent } from './guest.js';
import { sleep, startQemu, type QemuHandle } from './qemu.js';
import { GUEST_PARTS, needs } from '../support/system.js';
import { progressLog } from '../support/progress.js';

const parts = findGuestParts();

const EV_KEY = 1;
const EV_REL = 2;

describe.skipIf(needs(...GUEST_PARTS))('real Linux guest (evdev over PS/2)', () => {
  let q: QemuHandle | undefined;
  let dir: string | undefined;
  afterAll(async () => {
    await q?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const serialLog = () => (dir && existsSync(join(dir, 'serial.log')) ? readFileSync(join(dir, 'serial.log'), 'utf8') : '');
  async function events(device: RegExp, want: number): Promise<InputEvent[]> {
    const end = Date.now() + 30_000;
    for (;;) {
      const ev = parseSerial(serialLog()).events.filter((e) => device.test(e.device) && (e.type === EV_KEY || e.type === EV_REL));
      if (ev.length >= want || Date.now() > end) return ev;
      await sleep(100);
    }
  }

  it('boots and shows a PS/2 keyboard and mouse', async () => {
    if (typeof parts === 'string') throw new Error(parts);
    dir = mkdtempSync(join(tmpdir(), 'glasspane-guest-'));
    const initrd = buildInitramfs(parts, dir);
    const progress = progressLog('evdev guest');
    progress('booting the guest under TCG');
    q = await startQemu({
      transport: 'unix',
      extraArgs: ['-m', '256', '-kernel', parts.kernel, '-initrd', initrd, '-append', 'console=ttyS0 quiet loglevel=1 panic=-1', '-no-reboot', '-serial', `file:${join(dir, 'serial.log')}`],
    });
    const end = Date.now() + 240_000;
    while (!parseSerial(serialLog()).ready && Date.now() < end) await sleep(200);
    const { devices, ready } = parseSerial(serialLog());
    progress(ready ? 'the guest is up' : 'the guest did not come up');
    expect(ready, serialLog().slice(-2000)).toBe(true);
    expect([...devices.values()]).toEqual(expect.arrayContaining([expect.stringMatching(/keyboard/), expect.stringMatching(/PS\/2/)]));
  }, 300_000);

  it('keys sent with glasspane send arrive as the right evdev key codes', async () => {
    expect(q, 'guest did not boot').toBeDefined();
    const r = await runCli(['send', '--spice', q!.address, 'key', 'KeyA', 'ControlRight', 'NumpadEnter', 'Pause', 'PrintScreen', 'ArrowUp']);
    expect(r.stderr).toMatch(/^glasspane: sent 6 keys /);
    expect(r.code).toBe(0);
    // Linux keycodes from keymaps.csv: KEY_A 30, KEY_RIGHTCTRL 97, KEY_KPENTER 96, KEY_PAUSE 119,
    // KEY_SYSRQ 99, KEY_UP 103.
    const want = [30, 97, 96, 119, 99, 103].flatMap((k) => [`1:${k}:1`, `1:${k}:0`]);
    const got = (await events(/keyboard/, want.length)).map((e) => `${e.type}:${e.code}:${e.value}`);
    expect(got).toEqual(want);
  }, 120_000);

  it('mouse actions arrive in order: motion (10, -5), left/right/middle/side buttons, wheel up and down', async () => {
    expect(q, 'guest did not boot').toBeDefined();
    const r = await runCli(['send', '--spice', q!.address, 'mouse', 'move', '10', '-5', 'click', 'left', 'click', 'right', 'click', 'middle', 'click', 'side', 'wheel', 'up', 'wheel', 'down']);
    expect(r.stderr).toMatch(/^glasspane: sent 7 mouse actions /);
    expect(r.code).toBe(0);
    // REL_X 0, REL_Y 1, REL_WHEEL 8; BTN_LEFT 272, BTN_RIGHT 273, BTN_MIDDLE 274, BTN_SIDE 275.
    const want = ['2:0:10', '2:1:-5', ...[272, 273, 274, 275].flatMap((b) => [`1:${b}:1`, `1:${b}:0`]), '2:8:1', '2:8:-1'];
    const got = (await events(/PS\/2/, want.length)).map((e) => `${e.type}:${e.code}:${e.value}`);
    expect(got).toEqual(want);
  }, 120_000);
});
