/**
 * Looking Glass B7's option model, table-driven: the table holds B7's 86 --help options in their
 * 7 sections with B7's 22 short flags (and the 15 module-dependent ones); every honoured option's
 * example becomes the glasspane setting written here, every refused one is told by name with why
 * and instead; docs/coming-from-looking-glass.md's tables are the table's. Then B7's INI dialect,
 * the files' order and the precedence against config.toml and the command line, bare booleans
 * flipping, unknown names with suggestions, key names, and the CLI (no more "--shm required").
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { B7_OPTIONS } from '../../src/viewer/b7-option-table.js';
import { optionId } from '../../src/viewer/b7-option-types.js';
import { parseB7Ini } from '../../src/viewer/b7-ini.js';
import { b7IniFiles, fragmentFor, isB7IniFile, readB7Sources, resolveViewerSettings } from '../../src/viewer/b7-config.js';
import { hidForCode, keyName, similarKeyNames } from '../../src/input/key-names.js';
import { defaultRegion } from '../../src/cli/looking-glass-args.js';
import { B7_DOC_PATH, withB7Tables } from '../../tools/b7-doc.js';
import { ROOT, runCli, shmPath } from '../support/helpers.js';
import { coded } from '../support/errors.js';

const dir = mkdtempSync(join(tmpdir(), 'glasspane-b7-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
/** An environment with no B7 files and no config.toml of the machine's. */
const emptyEnv = (home = join(dir, 'nobody')): NodeJS.ProcessEnv => ({ HOME: home, XDG_CONFIG_HOME: join(home, '.config'), GLASSPANE_B7_SYSTEM_INI: join(home, 'etc.ini') });
const write = (path: string, text: string) => {
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, text);
  return path;
};

/** B7's sections and their option counts in `looking-glass-client --help` (client/src/config.c and the modules, at tag B7). */
const HELP_SECTIONS = { app: 7, win: 28, input: 14, spice: 13, audio: 5, egl: 15, opengl: 4 };
/** B7's short flags and their options. */
const SHORT_FLAGS = {
  C: 'app:configFile', g: 'app:renderer', l: 'app:license', f: 'app:shmFile', a: 'win:autoResize', n: 'win:allowResize', r: 'win:keepAspect', d: 'win:borderless',
  F: 'win:fullScreen', T: 'win:maximize', K: 'win:fpsMin', Q: 'win:ignoreQuit', S: 'win:noScreensaver', q: 'win:alerts', k: 'win:showFPS', G: 'input:grabKeyboard',
  m: 'input:escapeKey', M: 'input:hideCursor', s: 'spice:enable', c: 'spice:host', p: 'spice:port', j: 'spice:scaleCursor',
};

/** What each honoured option's example becomes in glasspane's settings (B7's meaning, glasspane's names). */
const HONOURED: Record<string, object> = {
  'app:configFile': {}, 'app:license': {}, 'app:shmFile': { shm: 'kvmfr0' },
  'win:title': { title: 'Windows 11' }, 'win:appId': { appId: 'lg-win11' }, 'win:position': { position: '100x100' }, 'win:size': { size: '1920x1080' },
  'win:autoResize': { autoResize: true }, 'win:allowResize': { resizable: false }, 'win:keepAspect': { keepAspect: false }, 'win:dontUpscale': { dontUpscale: true },
  'win:intUpscale': { integerScale: true }, 'win:shrinkOnUpscale': { shrinkOnUpscale: true }, 'win:borderless': { borderless: true }, 'win:fullScreen': { fullscreen: true },
  'win:maximize': { maximize: true }, 'win:minimizeOnFocusLoss': { minimizeOnFocusLoss: true }, 'win:ignoreQuit': { ignoreQuit: true }, 'win:noScreensaver': { inhibitScreensaver: true },
  'win:alerts': { alerts: false }, 'win:rotate': { rotate: 90 }, 'win:uiFont': { uiFont: 'Noto Sans Mono' }, 'win:uiSize': { uiSize: 18 }, 'win:showFPS': { osd: true },
  'input:captureOnFocus': { captureOnFocus: true }, 'input:grabKeyboard': { grabKeyboard: false }, 'input:escapeKey': { escapeKey: 'ControlRight' },
  'input:ignoreWindowsKeys': { ignoreWindowsKeys: true }, 'input:hideCursor': { hideCursor: true }, 'input:mouseSens': { mouseSens: 3 }, 'input:rawMouse': {},
  'input:autoCapture': { autoCapture: true }, 'input:captureOnly': {}, 'input:helpMenuDelay': { helpDelayMs: 300 },
  'spice:enable': { spice: '' }, 'spice:host': { spice: 'unix:/run/win11/spice.sock' }, 'spice:port': { spice: '127.0.0.1:5901' }, 'spice:input': { spiceInput: false },
  'spice:clipboard': { clipboard: false }, 'spice:clipboardToVM': { clipboardToGuest: false }, 'spice:clipboardToLocal': { clipboardToHost: false }, 'spice:audio': { audio: false },
  'spice:captureOnStart': { captureOnStart: true },
  'audio:periodSize': { audioPeriodFrames: 512 }, 'audio:bufferLatency': { audioBufferMs: 20 }, 'audio:micDefault': { micDefault: 'allow' }, 'audio:micShowIndicator': { micIndicator: false },
  'audio:syncVolume': { syncVolume: false },
  'egl:vsync': { vsync: true }, 'egl:scale': { scaling: 'nearest' }, 'opengl:vsync': { vsync: true },
  'pipewire:outDevice': { audioDevice: 'alsa_output.pci-0000_00_1f.3.analog-stereo' }, 'pipewire:recDevice': { microphoneDevice: 'alsa_input.usb-mic' },
};

describe('the B7 option table', () => {
  it('holds the 86 options of B7 --help in 7 sections with its 22 short flags, and 15 more', () => {
    const help = B7_OPTIONS.filter((o) => o.inHelp);
    expect(help).toHaveLength(86);
    const bySection: Record<string, number> = {};
    for (const o of help) bySection[o.section] = (bySection[o.section] ?? 0) + 1;
    expect(bySection).toEqual(HELP_SECTIONS);
    expect(Object.fromEntries(B7_OPTIONS.filter((o) => o.short).map((o) => [o.short, optionId(o)]))).toEqual(SHORT_FLAGS);
    expect(B7_OPTIONS.filter((o) => !o.inHelp).map(optionId).sort()).toEqual(
      ['eglFilter:downscale', 'eglFilter:downscaleFilter', 'eglFilter:downscaleHOffset', 'eglFilter:downscalePixelSize', 'eglFilter:downscaleVOffset', 'eglFilter:ffxCAS', 'eglFilter:ffxCASSharpness', 'eglFilter:ffxFSR', 'eglFilter:ffxFSRSharpness', 'eglFilter:order', 'i3:globalFullScreen', 'pipewire:outDevice', 'pipewire:recDevice', 'wayland:fractionScale', 'wayland:warpSupport'].sort(),
    );
    expect(new Set(B7_OPTIONS.map((o) => optionId(o).toLowerCase())).size).toBe(B7_OPTIONS.length);
    // Every option is decided one way or the other, with the words the user will read.
    for (const o of B7_OPTIONS) {
      expect(o.glasspane.length, optionId(o)).toBeGreaterThan(5);
      if (o.status === 'refused') expect(o.instead, optionId(o)).toBeTruthy();
      else expect(o.apply, optionId(o)).toBeTypeOf('function');
    }
    expect(Object.keys(HONOURED).sort()).toEqual(B7_OPTIONS.filter((o) => o.status === 'honoured').map(optionId).sort());
  });

  it.each(B7_OPTIONS.map((o) => [optionId(o), o] as const))('%s: its example is honoured with B7\'s meaning, or refused by name with why and instead', (id, o) => {
    const file = o.action === 'configFile' ? write(join(dir, 'example', 'lg.ini'), '[win]\n') : undefined;
    const arg = `${id}=${file ?? o.example}`;
    const r = readB7Sources([{ long: arg }], [], emptyEnv());
    if (o.status === 'honoured') {
      expect(fragmentFor(r, 'command')).toEqual(HONOURED[id]);
      if (!o.refuses) expect(r.notes).toEqual([]);
      if (o.action === 'license') expect(r.license).toBe(true);
      if (o.refuses) {
        // The value glasspane cannot do is told, with why and what instead.
        const refused = readB7Sources([{ long: `${id}=${o.refuses.values}` }], [], emptyEnv());
        expect(refused.notes).toEqual([`${id}=${o.refuses.values} (argument ${id}=${o.refuses.values}) is not supported: ${o.refuses.why}; instead: ${o.instead}`]);
      }
    } else {
      expect(r.notes).toEqual([`${id} (argument ${arg}) is not supported: ${o.glasspane}; instead: ${o.instead}`]);
      expect(fragmentFor(r, 'command')).toEqual({});
    }
  });

  it('refused options whose value asks for what glasspane does anyway are taken quietly', () => {
    const quiet = B7_OPTIONS.filter((o) => o.fine);
    expect(quiet.length).toBeGreaterThan(20);
    for (const o of quiet) {
      const value = o.fine!.values.split(' ')[0]!.replace('empty', '');
      expect(readB7Sources([{ long: `${optionId(o)}=${value}` }], [], emptyEnv()).notes, optionId(o)).toEqual([]);
    }
  });

  it('docs/coming-from-looking-glass.md has the table\'s rows: one per option and one per short flag', () => {
    const doc = readFileSync(join(ROOT, B7_DOC_PATH), 'utf8');
    expect(doc, 'run `npm run docs:b7`').toBe(withB7Tables(doc));
    for (const o of B7_OPTIONS) expect(doc).toContain(`| \`${optionId(o)}\` |`);
    for (const letter of Object.keys(SHORT_FLAGS)) expect(doc).toContain(`| \`-${letter}\` | \``);
    expect(doc).toMatch(/## Files, arguments and precedence/);
  });
});

describe('B7\'s INI dialect', () => {
  it('reads sections, trimmed names and values split at the first "=", comments at the line start; values keep ; and #', () => {
    const text = '; a comment\n# another\n[win]\n  fullScreen = yes \ntitle=VM #2 ; main\n\n[ SPICE ]\r\nhost=a=b\n';
    expect(parseB7Ini('f.ini', text)).toEqual([
      { section: 'win', name: 'fullScreen', value: 'yes', line: 4 },
      { section: 'win', name: 'title', value: 'VM #2 ; main', line: 5 },
      { section: 'SPICE', name: 'host', value: 'a=b', line: 8 },
    ]);
  });

  it('refuses what B7 refuses, naming the line', () => {
    expect(() => parseB7Ini('f.ini', 'fullScreen=yes\n')).toThrow(coded('ERR_CONFIG', /^f\.ini:1: fullScreen comes before any \[section\]/));
    expect(() => parseB7Ini('f.ini', '[win]\nfullScreen\n')).toThrow(coded('ERR_CONFIG', /^f\.ini:2: "fullScreen" has no value/));
    expect(() => parseB7Ini('f.ini', '[win] x\n')).toThrow(coded('ERR_CONFIG', /^f\.ini:1: text after the section \[win\]/));
    expect(() => parseB7Ini('f.ini', '[win\n')).toThrow(coded('ERR_CONFIG', /^f\.ini:1: /));
    expect(() => parseB7Ini('f.ini', '[win]\n=yes\n')).toThrow(coded('ERR_CONFIG', /^f\.ini:2: /));
  });

  it('matches sections and names without regard to case, takes B7\'s booleans and refuses other words', () => {
    const f = write(join(dir, 'case', '.looking-glass-client.ini'), '[WIN]\nFULLSCREEN=On\nborderless=TRUE\n[Input]\nEscapeKey=key_rightctrl\n');
    expect(fragmentFor(readB7Sources([], [], emptyEnv(join(f, '..'))), 'files')).toEqual({ fullscreen: true, borderless: true, escapeKey: 'ControlRight' });
    const bad = write(join(dir, 'bad', '.looking-glass-client.ini'), '[win]\n\nfullScreen=maybe\n');
    expect(() => readB7Sources([], [], emptyEnv(join(bad, '..')))).toThrow(coded('ERR_CONFIG', `${bad}:3: win:fullScreen: "maybe" is not a boolean: write yes or no (also on/off, true/false, 1/0)`));
  });
});

describe('files, arguments and precedence', () => {
  it('reads /etc, ~ and XDG in B7\'s order; config.toml beats them; -C beats config.toml; arguments beat files; glasspane flags are the command\'s', () => {
    const home = join(dir, 'prec');
    const env = emptyEnv(home);
    write(env.GLASSPANE_B7_SYSTEM_INI!, '[win]\ntitle=etc\nsize=800x600\nborderless=yes\nmaximize=yes\n[input]\nmouseSens=1\n');
    write(join(home, '.looking-glass-client.ini'), '[win]\ntitle=home\nsize=1024x768\nborderless=no\n');
    write(join(home, '.config', 'looking-glass', 'client.ini'), '[win]\ntitle=xdg\n[spice]\nport=5901\n');
    write(join(home, '.config', 'glasspane', 'config.toml'), 'title = "toml"\nsize = "1600x900"\nmaximize = false\n');
    const c = write(join(home, 'named.ini'), '[win]\nsize=1280x720\n[input]\nmouseSens=2\n');
    const r = resolveViewerSettings({ b7Args: [{ short: 'C', value: c }, { long: 'input:mouseSens=4' }], env });
    expect(r.settings).toMatchObject({ title: 'toml', size: '1280x720', borderless: false, maximize: false, mouseSens: 4, spice: '127.0.0.1:5901' });
    expect(r.files).toEqual([env.GLASSPANE_B7_SYSTEM_INI, join(home, '.looking-glass-client.ini'), join(home, '.config', 'looking-glass', 'client.ini'), c, join(home, '.config', 'glasspane', 'config.toml')]);
    expect(b7IniFiles(env)).toEqual(r.files.slice(0, 3));
  });

  it('a bare boolean flips the B7 sources\' value, else B7\'s default; repeated, it flips again', () => {
    const home = join(dir, 'flip');
    write(join(home, '.looking-glass-client.ini'), '[win]\nfullScreen=yes\n');
    const withFile = (args: Parameters<typeof readB7Sources>[0]) => fragmentFor(readB7Sources(args, [], emptyEnv(home)), 'command');
    expect(withFile([{ short: 'F' }])).toEqual({ fullscreen: false });
    expect(withFile([{ long: 'win:fullScreen' }, { long: 'win:fullScreen' }])).toEqual({ fullscreen: true });
    const bare = (args: Parameters<typeof readB7Sources>[0]) => fragmentFor(readB7Sources(args, [], emptyEnv()), 'command');
    expect(bare([{ short: 'k' }, { short: 's' }, { short: 'M' }])).toEqual({ osd: true, spice: '', hideCursor: false });
    expect(() => readB7Sources([{ long: 'win:size' }], [], emptyEnv())).toThrow(coded('ERR_USAGE', 'win:size needs a value (e.g. win:size=1920x1080)'));
  });

  it('an unknown option in a file is skipped with the closest names; on the command line it is a usage error', () => {
    const home = join(dir, 'unknown');
    const f = write(join(home, '.looking-glass-client.ini'), '[win]\nfullScren=yes\n[nope]\nx=1\n');
    const r = readB7Sources([], [], emptyEnv(home));
    expect(r.notes).toEqual([`unknown Looking Glass option win:fullScren (did you mean win:fullScreen?) at ${f}:2: skipped`, `unknown Looking Glass option nope:x at ${f}:4: skipped`]);
    expect(() => readB7Sources([{ long: 'input:escapekee=KEY_PAUSE' }], [], emptyEnv())).toThrow(coded('ERR_USAGE', /^unknown Looking Glass option input:escapekee \(did you mean input:escapeKey\?\)/));
    expect(() => readB7Sources([{ long: 'fullScreen=yes' }], [], emptyEnv())).toThrow(coded('ERR_USAGE', /write section:option=value/));
    expect(() => readB7Sources([{ long: 'win:size=big' }], [], emptyEnv())).toThrow(coded('ERR_USAGE', /^win:size: "big" is not a size/));
    expect(() => readB7Sources([{ short: 'm', value: 'help' }], [], emptyEnv())).toThrow(coded('ERR_USAGE', /^input:escapeKey: the key names: .*KEY_SCROLLLOCK .*KEY_RIGHTCTRL/));
    // Found by the fuzzer: an empty value for a honoured string option reached the settings.
    expect(() => readB7Sources([{ long: 'pipewire:outDevice=' }], [], emptyEnv())).toThrow(coded('ERR_USAGE', /^pipewire:outDevice: needs a value/));
    expect(() => readB7Sources([{ short: 'C', value: join(dir, 'missing.ini') }], [], emptyEnv())).toThrow(coded('ERR_CONFIG', /missing\.ini does not exist/));
  });

  it('SPICE: host and port from different places make one address; port 0 is a unix socket; -s turns it off', () => {
    const home = join(dir, 'spice');
    write(join(home, '.looking-glass-client.ini'), '[spice]\nhost=::1\n');
    expect(fragmentFor(readB7Sources([{ short: 'p', value: '5930' }], [], emptyEnv(home)), 'command')).toEqual({ spice: '[::1]:5930' });
    expect(fragmentFor(readB7Sources([{ long: 'spice:port=0' }, { long: 'spice:host=/run/s.sock' }], [], emptyEnv()), 'command')).toEqual({ spice: 'unix:/run/s.sock' });
    expect(fragmentFor(readB7Sources([{ long: 'spice:enable=yes' }], [], emptyEnv()), 'command')).toEqual({ spice: '127.0.0.1:5900' });
    expect(fragmentFor(readB7Sources([], [], emptyEnv()), 'files')).toEqual({});
  });

  it('--config takes a B7 .ini (by extension or by its first section) or glasspane TOML', () => {
    expect(isB7IniFile('a.ini', '')).toBe(true);
    expect(isB7IniFile('a.toml', '[win]\n')).toBe(false);
    expect(isB7IniFile('client.conf', '; mine\n[win]\nfullScreen=yes\n')).toBe(true);
    expect(isB7IniFile('client.conf', 'fullscreen = true\n')).toBe(false);
    const ini = write(join(dir, 'cfg', 'looking-glass.conf'), '[win]\nfullScreen=yes\n');
    expect(resolveViewerSettings({ config: ini, env: emptyEnv() }).settings).toEqual({ fullscreen: true });
  });

  it('the default region is B7\'s: /dev/kvmfr0 when it exists, else /dev/shm/looking-glass', () => {
    expect(defaultRegion(() => false)).toBe('/dev/shm/looking-glass');
    expect(defaultRegion((p) => p === '/dev/kvmfr0')).toBe('/dev/kvmfr0');
  });
});

describe('the desktop entry', () => {
  it('contrib/glasspane.desktop runs the viewer and names the window class the viewer sets', () => {
    const entry = readFileSync(join(ROOT, 'contrib', 'glasspane.desktop'), 'utf8');
    expect(entry).toMatch(/^\[Desktop Entry\]\n/);
    expect(entry).toMatch(/^Exec=glasspane view$/m);
    expect(entry).toMatch(/^StartupWMClass=glasspane$/m); // the default app id (test/viewer/looking-glass-window.test.ts reads WM_CLASS)
  });
});

describe('key names', () => {
  it('takes B7\'s KEY_* names and keycodes and glasspane\'s names in any case; suggests the closest', () => {
    expect(['KEY_SCROLLLOCK', 'key_scrolllock', 'ScrollLock', 'scrolllock', 'SCROLLLOCK', '70'].map(keyName)).toEqual(Array(6).fill('ScrollLock'));
    expect(['KEY_RIGHTCTRL', 'controlright', 'KEY_PAUSE', 'KEY_LEFTMETA', 'ctrl'].map(keyName)).toEqual(['ControlRight', 'ControlRight', 'Pause', 'MetaLeft', 'ControlLeft']);
    expect(hidForCode('key_rightctrl')).toBe(0xe4);
    expect(keyName('KEY_SCROLLOCK')).toBeUndefined();
    expect(similarKeyNames('KEY_SCROLLOCK')[0]).toBe('KEY_SCROLLLOCK');
    expect(similarKeyNames('Scrolllok')[0]).toBe('ScrollLock');
  });
});

describe('the CLI', () => {
  const env = (home: string) => ({ ...emptyEnv(home), DISPLAY: undefined, WAYLAND_DISPLAY: undefined });

  it('view takes -f, -F, -C and section:option=value: the region comes from them, never "required option --shm"', async () => {
    const home = join(dir, 'cli');
    const shm = shmPath('b7-cli');
    const c = write(join(home, 'lg.ini'), `[app]\nshmFile=${shm}\n[egl]\nnvGain=2\n`);
    const r = await runCli(['view', '-C', c, '-F', 'win:showFPS=yes', '--headless', '--seconds', '0.3'], { env: env(home) });
    expect(r.code, r.stderr).toBe(3); // nothing there to read, and it says where it looked
    expect(r.stderr).toContain(`waiting for ${shm} to appear`);
    expect(r.stderr).toContain(`glasspane: egl:nvGain (${c}:4) is not supported: night vision is a B7 EGL shader`);
    expect(r.stderr).not.toMatch(/required option/);
    const f = await runCli(['view', '-f', shm, '--headless', '--seconds', '0.3'], { env: env(home) });
    expect(f.stderr).toContain(`waiting for ${shm} to appear`);
    const none = await runCli(['view', '--headless', '--seconds', '0.3'], { env: env(home) });
    expect(none.stderr).toMatch(/waiting for (the first guest frame in )?\/dev\/(shm\/looking-glass|kvmfr0)/);
  });

  it('unknown options and bad values exit 2 with the fix; -l prints the licence; --escape-key takes KEY_* names', async () => {
    const home = join(dir, 'cli2');
    const typo = await runCli(['view', 'win:fullScren=yes', '--headless'], { env: env(home) });
    expect(typo.code).toBe(2);
    expect(typo.stderr).toContain('unknown Looking Glass option win:fullScren (did you mean win:fullScreen?)');
    const flag = await runCli(['view', '-Z', '--headless'], { env: env(home) });
    expect(flag.code).toBe(2);
    const licence = await runCli(['view', '-l'], { env: env(home) });
    expect(licence.code).toBe(0);
    expect(licence.stdout).toMatch(/^MIT License/);
    const key = await runCli(['view', '--escape-key', 'KEY_SCROLLOCK', '--headless'], { env: env(home) });
    expect(key.code).toBe(2);
    expect(key.stderr).toContain('did you mean KEY_SCROLLLOCK');
    const demo = await runCli(['demo', '-f', '/dev/shm/elsewhere', 'spice:port=5901', '-F', '--headless', '--seconds', '0.3'], { env: env(home) });
    expect(demo.stderr).toContain('glasspane demo: -f spice:port=5901: the demo makes its own region and input; these are for `glasspane view`');
    const help = await runCli(['view', '--help'], { env: env(home) });
    expect(help.stdout).toContain('Looking Glass B7 options work too');
    expect(help.stdout).toContain('-C -g -l -f -a -n -r -d -F -T -K -Q -S -q -k -G -m -M -s -c -p -j');
  });
});
