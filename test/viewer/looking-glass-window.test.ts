/**
 * The real viewer under Xvfb as a Looking Glass B7 user meets it: the OSD drawn at the window's
 * resolution (a 3840x2160 guest in a 1280x720 window keeps text at least 12 px high; a 640x360
 * guest in a 1920x1080 window does not blow it up), WM_CLASS "glasspane" (xprop), and a B7
 * client.ini's window options (appId, title, position, size) taking effect.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startXvfb, findWindow, type Xvfb } from '../support/xvfb.js';
import { screenshot } from '../support/xwd.js';
import { type CliRun, killAll, removeShm, shmPath, startCli, waitFor } from '../support/helpers.js';
import { needs, WINDOW_PARTS } from '../support/system.js';
import { progressLog } from '../support/progress.js';

const progress = progressLog('looking-glass-window');

let x: Xvfb;
const procs: CliRun[] = [];
const home = mkdtempSync(join(tmpdir(), 'glasspane-lgwin-'));
beforeAll(async () => {
  if (!needs(...WINDOW_PARTS)) x = await startXvfb(1920, 1200);
});
afterEach(async () => {
  await killAll(procs);
});
afterAll(async () => {
  await x?.stop();
  removeShm();
  rmSync(home, { recursive: true, force: true });
});
/** The Xvfb's environment with a home of our own: no B7 or glasspane config of the machine's. */
const env = () => ({ ...x.env, HOME: home, XDG_CONFIG_HOME: join(home, '.config'), GLASSPANE_B7_SYSTEM_INI: join(home, 'etc.ini') });
const start = (args: string[]) => {
  const p = startCli(args, env());
  procs.push(p);
  return p;
};
const framesShown = (p: CliRun) => {
  const last = p.stdout().trim().split('\n').filter(Boolean).at(-1);
  return last ? (JSON.parse(last) as { frames: number }).frames : 0;
};

/** The OSD's background colour (#101018). */
const OSD_BG: [number, number, number] = [0x10, 0x10, 0x18];

/**
 * The OSD panel in a screenshot of window `win`: its box (window pixels) and the ink height of
 * its tallest text line (rows holding anything but background, counted in runs), or null.
 */
function osdPanel(win: { x: number; y: number; width: number; height: number }): { x: number; y: number; width: number; height: number; tallestLine: number } | null {
  const img = screenshot(x.display);
  const isBg = (px: number, py: number) => {
    const [r, g, b] = img.rgb(win.x + px, win.y + py);
    return r === OSD_BG[0] && g === OSD_BG[1] && b === OSD_BG[2];
  };
  let x0 = Infinity, y0 = Infinity, x1 = -1, y1 = -1;
  for (let py = 0; py < Math.min(win.height, 500); py++) {
    for (let px = 0; px < Math.min(win.width, 900); px++) {
      if (!isBg(px, py)) continue;
      x0 = Math.min(x0, px);
      y0 = Math.min(y0, py);
      x1 = Math.max(x1, px);
      y1 = Math.max(y1, py);
    }
  }
  if (x1 < 0 || x1 - x0 < 20) return null;
  let run = 0;
  let tallest = 0;
  for (let py = y0; py <= y1; py++) {
    let ink = false;
    for (let px = x0; px <= x1 && !ink; px++) ink = !isBg(px, py);
    run = ink ? run + 1 : 0;
    tallest = Math.max(tallest, run);
  }
  return { x: x0, y: y0, width: x1 - x0 + 1, height: y1 - y0 + 1, tallestLine: tallest };
}

describe.skipIf(needs(...WINDOW_PARTS, 'xprop'))('a B7 user\'s window under Xvfb', () => {
  it.each([
    [3840, 2160, 1280, 720],
    [640, 360, 1920, 1080],
  ])('a %ix%i guest in a %ix%i window: the OSD is drawn at the window\'s resolution (text 12..20 px high, at window pixel 8,8)', async (gw, gh, ww, wh) => {
    const shm = shmPath(`osd-${gw}`);
    const title = `osd${gw}`;
    progress(`OSD: ${gw}x${gh} guest in a ${ww}x${wh} window`);
    start(['stub', '--shm', shm, '--width', String(gw), '--height', String(gh), '--fps', '2', '--quiet']);
    const view = start(['view', '--shm', shm, '--size', `${ww}x${wh}`, '--title', title, '--stats']);
    await waitFor(() => framesShown(view) > 0, 60_000, `the viewer to show a ${gw}x${gh} frame`).catch((e: Error) => {
      throw new Error(`${e.message}; viewer said: ${view.stderr()}`);
    });
    const win = findWindow(x, title);
    expect([win.width, win.height]).toEqual([ww, wh]);
    let panel: ReturnType<typeof osdPanel> = null;
    await waitFor(() => (panel = osdPanel(win)) !== null, 30_000, 'the OSD panel on screen');
    const p = panel!;
    expect([p.x, p.y]).toEqual([8, 8]); // placed in window pixels, not scaled with the frame
    expect(p.tallestLine, `tallest OSD text line ${p.tallestLine} px`).toBeGreaterThanOrEqual(12);
    expect(p.tallestLine, `tallest OSD text line ${p.tallestLine} px`).toBeLessThanOrEqual(20);
    expect(p.width).toBeGreaterThanOrEqual(400); // 420 window pixels wide, whatever the guest's size
    expect(p.width).toBeLessThanOrEqual(440);
  }, 180_000);

  it('WM_CLASS is "glasspane"; a B7 client.ini\'s appId, title, position and size apply', async () => {
    const shm = shmPath('wmclass');
    start(['stub', '--shm', shm, '--size', '8', '--width', '320', '--height', '200', '--fps', '5', '--quiet']);
    const plain = start(['view', '--shm', shm, '--size', '320x200', '--title', 'wmclass-plain', '--stats']);
    await waitFor(() => framesShown(plain) > 0, 60_000, 'the plain viewer');
    const wmClass = (id: string) => execFileSync('xprop', ['-id', id, 'WM_CLASS'], { env: x.env, encoding: 'utf8' }).trim();
    expect(wmClass(findWindow(x, 'wmclass-plain').id)).toBe('WM_CLASS(STRING) = "glasspane", "glasspane"');

    mkdirSync(join(home, '.config', 'looking-glass'), { recursive: true });
    writeFileSync(join(home, '.config', 'looking-glass', 'client.ini'), `[app]\nshmFile=${shm}\n\n[win]\nappId=lg-test\ntitle=b7-client-ini\nposition=50x60\nsize=400x250\n`);
    const b7 = start(['view', '--stats']);
    try {
      await waitFor(() => framesShown(b7) > 0, 60_000, 'the viewer configured by client.ini');
      const win = findWindow(x, 'b7-client-ini');
      expect(wmClass(win.id)).toBe('WM_CLASS(STRING) = "lg-test", "lg-test"');
      expect([win.x, win.y, win.width, win.height]).toEqual([50, 60, 400, 250]);
    } finally {
      rmSync(join(home, '.config', 'looking-glass'), { recursive: true, force: true });
    }
  }, 180_000);
});
