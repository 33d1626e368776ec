/**
 * The escape key and the window title in the real viewer under Xvfb (typed with xdotool, seen
 * with xprop and xwd): a tap toggles capture, a hold shows the help and its release toggles
 * nothing; the title is plain ASCII in WM_NAME and names the escape key in capture; the demo takes
 * its escape key from --escape-key or the config file (a laptop without ScrollLock).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startXvfb, findWindow, xdotool, type Xvfb } from '../support/xvfb.js';
import { screenshot } from '../support/xwd.js';
import { type CliRun, killAll, removeShm, shmPath, startCli, waitFor } from '../support/helpers.js';
import { needs, WINDOW_PARTS } from '../support/system.js';
import { BAR_COLOURS } from '../../src/scenes/bars.js';

let x: Xvfb;
const procs: CliRun[] = [];
const dir = mkdtempSync(join(tmpdir(), 'glasspane-esc-'));
beforeAll(async () => {
  x = await startXvfb();
});
afterAll(async () => {
  await x?.stop();
  removeShm();
  rmSync(dir, { recursive: true, force: true });
});
afterEach(async () => {
  await killAll(procs);
});
const start = (args: string[], env: NodeJS.ProcessEnv = x.env) => {
  const p = startCli(args, env);
  procs.push(p);
  return p;
};

const capture = (view: CliRun): boolean | undefined => {
  const lines = view.stdout().trim().split('\n').filter(Boolean);
  return lines.length ? (JSON.parse(lines.at(-1)!) as { capture: boolean }).capture : undefined;
};
/** WM_NAME as xprop prints it: its type and value. */
const wmName = (id: string) => execFileSync('xprop', ['-id', id, 'WM_NAME'], { env: x.env, encoding: 'utf8' }).trim();
/** Whether any window's title matches (with `mapped`, a window that is mapped: on screen, able to take focus). */
const titled = (pattern: string, mapped = false) => {
  try {
    return xdotool(x, 'search', ...(mapped ? ['--onlyvisible'] : []), '--name', pattern).length > 0;
  } catch {
    return false;
  }
};
/** The number of --stats lines the viewer has printed. */
const statsLines = (view: CliRun) => view.stdout().split('\n').filter((l) => l.startsWith('{')).length;
/** Pixels of the help panel's background (#202040) along the window's middle row. */
function helpPixels(win: { x: number; y: number; width: number; height: number }): number {
  const img = screenshot(x.display);
  let n = 0;
  for (let px = win.x; px < win.x + win.width; px++) {
    const [r, g, b] = img.rgb(px, win.y + Math.floor(win.height / 2));
    if (r === 0x20 && g === 0x20 && b === 0x40) n++;
  }
  return n;
}

/** Whether the window shows a guest frame (the stub's bars along a row below the input scene's panel): escape+S needs one. */
function showsFrame(win: { x: number; y: number; width: number; height: number }): boolean {
  const img = screenshot(x.display);
  const y = win.y + Math.floor(win.height * 0.7);
  let n = 0;
  for (let px = win.x; px < win.x + win.width; px++) {
    const [r, g, b] = img.rgb(px, y);
    if (BAR_COLOURS.some(([br, bg, bb]) => br === r && bg === g && bb === b)) n++;
  }
  return n > win.width / 2;
}

describe.skipIf(needs(...WINDOW_PARTS, 'xprop'))('escape key and title under Xvfb', () => {
  it('a tap toggles capture; a hold shows the help, and releasing it toggles nothing', async () => {
    const shm = shmPath('hold');
    start(['stub', '--shm', shm, '--size', '8', '--width', '640', '--height', '360', '--fps', '30', '--frames', '5', '--quiet']);
    const view = start(['view', '--shm', shm, '--size', '640x360', '--no-osd', '--stats', '--title', 'holdtest']);
    await waitFor(() => capture(view) !== undefined, 30_000, 'the viewer to run');
    await waitFor(() => titled('holdtest', true), 30_000, 'the window to be mapped', 100);
    const win = findWindow(x, 'holdtest');
    xdotool(x, 'windowfocus', '--sync', win.id);
    expect(helpPixels(win)).toBe(0);

    // Held: the help shows while held (the viewer shows it only once the hold time has passed,
    // so the release after it is a hold's; the threshold itself is KeyRouter's unit test on a
    // hand-driven clock), and capture is unchanged after the release.
    xdotool(x, 'keydown', 'Scroll_Lock');
    await waitFor(() => helpPixels(win) > 100, 10_000, 'the help panel while the key is held', 100);
    xdotool(x, 'keyup', 'Scroll_Lock');
    await waitFor(() => helpPixels(win) === 0, 10_000, 'the help panel to go on the release', 100);
    // The release has been handled: the next --stats line (once a second) tells its capture state.
    const lines = statsLines(view);
    await waitFor(() => statsLines(view) > lines, 10_000, 'a --stats line after the release');
    expect(capture(view)).toBe(false);

    // Tapped: capture on, and the title says which key releases it.
    xdotool(x, 'key', 'Scroll_Lock');
    await waitFor(() => capture(view) === true, 10_000, 'capture on');
    expect(wmName(win.id)).toBe('WM_NAME(STRING) = "glasspane - holdtest (capture: ScrollLock releases)"');
    xdotool(x, 'key', 'Scroll_Lock');
    await waitFor(() => capture(view) === false, 10_000, 'capture off');
  }, 60_000);

  it('the title is printable ASCII in WM_NAME, whatever --title holds', async () => {
    const shm = shmPath('title');
    start(['stub', '--shm', shm, '--size', '8', '--width', '320', '--height', '200', '--fps', '30', '--frames', '2', '--quiet']);
    const view = start(['view', '--shm', shm, '--size', '320x200', '--title', 'Büro – “Windows” 11']);
    await waitFor(() => titled('Buro'), 30_000, 'the window', 100).catch((e: Error) => {
      throw new Error(`${e.message}; the viewer said: ${view.stderr()}`);
    });
    expect(wmName(findWindow(x, 'Buro').id)).toBe('WM_NAME(STRING) = "glasspane - Buro - "Windows" 11"');
  }, 40_000);

  it('demo: --escape-key Pause captures with Pause, and so does escapeKey in config.toml', async () => {
    const demo = start(['demo', '--size', '640x360', '--fps', '30', '--escape-key', 'Pause']);
    await waitFor(() => titled('demo \\(guest-stub\\)', true), 30_000, 'the demo window to be mapped', 100).catch((e: Error) => {
      throw new Error(`${e.message}; demo said: ${demo.stderr()}`);
    });
    let win = findWindow(x, 'demo \\(guest-stub\\)');
    xdotool(x, 'windowfocus', '--sync', win.id);
    // ScrollLock is an ordinary key now. The viewer handles keys in order, so once Pause's capture
    // shows, ScrollLock was handled before it: had it toggled capture on, Pause would have turned
    // it off again and the title would not name Pause.
    xdotool(x, 'key', 'Scroll_Lock');
    expect(wmName(win.id)).not.toMatch(/capture/);
    xdotool(x, 'key', 'Pause');
    await waitFor(() => /capture: Pause releases/.test(wmName(win.id)), 10_000, 'capture by Pause', 100);
    expect(demo.stderr()).toMatch(/Pause \(tap\) captures keyboard and mouse/);
    demo.child.kill('SIGTERM');
    await demo.exited;

    const config = join(dir, 'xdg', 'glasspane');
    mkdirSync(config, { recursive: true });
    const shots = join(dir, 'shots');
    mkdirSync(shots);
    writeFileSync(join(config, 'config.toml'), `escapeKey = "Pause"\nscreenshotDir = "${shots}"\n`);
    const demo2 = start(['demo', '--size', '640x360', '--fps', '30'], { ...x.env, XDG_CONFIG_HOME: join(dir, 'xdg') });
    await waitFor(() => titled('demo \\(guest-stub\\)', true), 30_000, 'the demo window (config) to be mapped', 100).catch((e: Error) => {
      throw new Error(`${e.message}; demo said: ${demo2.stderr()}`);
    });
    win = findWindow(x, 'demo \\(guest-stub\\)');
    xdotool(x, 'windowfocus', '--sync', win.id);
    xdotool(x, 'key', 'Pause');
    await waitFor(() => /capture: Pause releases/.test(wmName(win.id)), 10_000, 'capture by Pause (from config.toml)', 100);
    const shown = win;
    await waitFor(() => showsFrame(shown), 30_000, 'a guest frame on screen (escape+S saves the frame shown)', 100);
    // escape+S says where the screenshot went (the config's folder), on stderr.
    xdotool(x, 'keydown', 'Pause', 'key', 's', 'keyup', 'Pause');
    await waitFor(() => /screenshot saved: /.test(demo2.stderr()), 10_000, 'the screenshot message').catch((e: Error) => {
      throw new Error(`${e.message}; demo said: ${demo2.stderr()}`);
    });
    const saved = /screenshot saved: (\S+\.png)/.exec(demo2.stderr())![1]!;
    expect(saved.startsWith(`${shots}/`)).toBe(true);
    expect(existsSync(saved)).toBe(true);
  }, 90_000);
});
