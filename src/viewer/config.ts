/**
 * Viewer configuration: $XDG_CONFIG_HOME/glasspane/config.toml (or ~/.config/…, or --config FILE),
 * parsed with smol-toml and validated with zod, then overridden by command-line flags. Errors
 * name FILE:LINE:COLUMN, the key and what is accepted.
 *
 *   # ~/.config/glasspane/config.toml
 *   escapeKey = "ScrollLock"     # KeyboardEvent.code or KEY_* name, any case
 *   fullscreen = false
 *   vsync = true
 *   integerScale = false
 *   osd = true
 *   size = "1920x1080"
 *   screenshotDir = "~/Pictures"
 *   spice = "127.0.0.1:5900"     # or "unix:/run/vm/spice.sock"
 *   spicePasswordFile = "~/.config/glasspane/spice-password"
 *   spiceMouse = "server"        # or "client" (absolute; needs a tablet or the agent in the guest)
 *   clipboard = true             # share clipboard text with the guest (spice-vdagent)
 *   audio = true                 # play the guest's sound (SPICE playback)
 *   audioDevice = "…"            # an SDL playback device name (default: the system default)
 *   microphone = false           # send the host microphone to the guest while it records
 *   microphoneDevice = "…"       # an SDL capture device name
 *   copyTimeoutMs = 100          # drop a frame whose write pointer stops moving this long
 *   input = "none"               # or "stub:ws://127.0.0.1:PORT" (guest-stub's input endpoint)
 *   shm = "/dev/shm/looking-glass"   # the region (kvmfrN = /dev/kvmfrN)
 *
 * and the Looking Glass behaviours (title, appId, position, borderless, maximize, resizable,
 * autoResize, keepAspect, dontUpscale, shrinkOnUpscale, scaling, rotate, minimizeOnFocusLoss,
 * ignoreQuit, inhibitScreensaver, alerts, uiFont, uiSize, captureOnFocus, captureOnStart,
 * autoCapture, grabKeyboard, ignoreWindowsKeys, hideCursor, mouseSens, helpDelayMs, spiceInput,
 * clipboardToGuest, clipboardToHost, micDefault, micIndicator, syncVolume, audioBufferMs,
 * audioPeriodFrames): docs/viewer.md lists them with the B7 option each comes from. B7's own INI
 * files are read beside this one (b7-config.ts).
 */
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { GlasspaneError } from '../errors.js';
import { describeValue, parseTomlText, readConfigText, whereIs } from '../config-file.js';
import { keyName, unknownKeyMessage } from '../input/key-names.js';

/** What an application id (X11 WM_CLASS, Wayland app_id) may hold: a desktop-file name. */
export const APP_ID = /^[A-Za-z0-9._-]{1,128}$/;

const expandHome = (p: string) => (p.startsWith('~/') ? join(homedir(), p.slice(2)) : p);

/**
 * The keys config.toml may hold (all optional, no others: an unknown key is an error). Paths
 * starting with ~/ are expanded; escapeKey must be a KeyboardEvent.code name glasspane knows.
 */
export const ViewerConfigSchema = z
  .object({
    shm: z.string().min(1).transform(expandHome),
    escapeKey: z
      .string()
      .superRefine((k, ctx) => {
        if (keyName(k) === undefined) ctx.addIssue({ code: 'custom', message: unknownKeyMessage(k) });
      })
      .transform((k) => keyName(k)!),
    fullscreen: z.boolean(),
    vsync: z.boolean(),
    integerScale: z.boolean(),
    osd: z.boolean(),
    size: z.string().regex(/^\d+x\d+$/, 'must look like 1920x1080'),
    title: z.string(),
    appId: z.string().regex(APP_ID, 'must be letters, digits, ".", "_" or "-" (e.g. glasspane)'),
    position: z.string().regex(/^(center|-?\d+x-?\d+)$/, 'must be "center" or LEFTxTOP (e.g. 100x100)'),
    borderless: z.boolean(),
    maximize: z.boolean(),
    resizable: z.boolean(),
    autoResize: z.boolean(),
    keepAspect: z.boolean(),
    dontUpscale: z.boolean(),
    shrinkOnUpscale: z.boolean(),
    scaling: z.enum(['auto', 'nearest', 'linear']),
    rotate: z.union([z.literal(0), z.literal(90), z.literal(180), z.literal(270)]),
    minimizeOnFocusLoss: z.boolean(),
    ignoreQuit: z.boolean(),
    inhibitScreensaver: z.boolean(),
    alerts: z.boolean(),
    uiFont: z.string().min(1),
    uiSize: z.number().int().min(6).max(96),
    captureOnFocus: z.boolean(),
    captureOnStart: z.boolean(),
    autoCapture: z.boolean(),
    grabKeyboard: z.boolean(),
    ignoreWindowsKeys: z.boolean(),
    hideCursor: z.boolean(),
    mouseSens: z.number().int().min(-9).max(9),
    helpDelayMs: z.number().int().min(0).max(10000),
    screenshotDir: z.string().transform(expandHome),
    copyTimeoutMs: z.number().int().min(1).max(10000),
    input: z.string(),
    spice: z.string(),
    spiceInput: z.boolean(),
    spicePasswordFile: z.string().transform(expandHome),
    spiceMouse: z.enum(['server', 'client']),
    clipboard: z.boolean(),
    clipboardToGuest: z.boolean(),
    clipboardToHost: z.boolean(),
    audio: z.boolean(),
    audioBufferMs: z.number().int().min(0).max(1000),
    audioPeriodFrames: z.number().int().min(64).max(16384),
    audioDevice: z.string().min(1),
    syncVolume: z.boolean(),
    microphone: z.boolean(),
    micDefault: z.enum(['prompt', 'allow', 'deny']),
    micIndicator: z.boolean(),
    microphoneDevice: z.string().min(1),
  })
  .partial()
  .strict();

/** A validated config file's values (what loadViewerConfig() returns). */
export type ViewerConfig = z.infer<typeof ViewerConfigSchema>;

/**
 * $XDG_CONFIG_HOME/glasspane/config.toml, or ~/.config/glasspane/config.toml when XDG_CONFIG_HOME
 * is unset or empty. Does not check that it exists.
 */
export function defaultConfigPath(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_CONFIG_HOME || join(homedir(), '.config');
  return join(base, 'glasspane', 'config.toml');
}

/** What a zod type name means in TOML, with a sample value. */
const EXPECTED: Record<string, string> = {
  boolean: 'a boolean (true or false)',
  string: 'a string in quotes (e.g. "ScrollLock")',
  number: 'a number (e.g. 100)',
};

/**
 * Reads and validates a config file. A missing default file is an empty config; a missing
 * --config file is an error. Errors name FILE:LINE:COLUMN, the key and what it takes: all are
 * GlasspaneError ERR_CONFIG (unreadable, not TOML, unknown key, wrong type or value). Synchronous.
 */
export function loadViewerConfig(path: string | undefined, env: NodeJS.ProcessEnv = process.env): ViewerConfig {
  const file = path ?? defaultConfigPath(env);
  if (!path && !existsSync(file)) return {};
  const text = readConfigText(file, 'the config file', path ? 'check the --config path' : `remove it, or make it a file (${defaultConfigPath(env)})`);
  const raw = parseTomlText(file, text);
  const r = ViewerConfigSchema.safeParse(raw);
  if (r.success) return r.data;
  const issue = r.error.issues[0]!;
  const keys = Object.keys(ViewerConfigSchema.shape);
  if (issue.code === 'unrecognized_keys') {
    const key = issue.keys[0]!;
    throw new GlasspaneError('ERR_CONFIG', `${whereIs(file, text, [key])}: unknown key "${key}"`, `valid keys: ${keys.join(', ')} (docs/viewer.md)`);
  }
  const key = issue.path.map(String).join('.');
  const value = issue.path.reduce<unknown>((v, k) => (v && typeof v === 'object' ? (v as Record<PropertyKey, unknown>)[k as PropertyKey] : undefined), raw);
  const what =
    issue.code === 'invalid_type'
      ? `expected ${EXPECTED[issue.expected] ?? issue.expected}, got ${describeValue(value)}`
      : issue.code === 'invalid_value'
        ? `expected one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}, got ${describeValue(value)}`
        : issue.message;
  throw new GlasspaneError('ERR_CONFIG', `${whereIs(file, text, issue.path)}: ${key}: ${what}`, `correct ${key} in ${file} (docs/viewer.md lists every key)`);
}
