/**
 * Viewer configuration: $XDG_CONFIG_HOME/glasspane/config.toml (or ~/.config/…, or --config FILE),
 * parsed with smol-toml and validated with zod, then overridden by command-line flags. Errors
 * name the file, the key and what is accepted.
 *
 *   # ~/.config/glasspane/config.toml
 *   escapeKey = "ScrollLock"     # KeyboardEvent.code name
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
 */
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { parse, TomlError } from 'smol-toml';
import { z } from 'zod';
import { GlasspaneError } from '../errors.js';
import { hidForCode } from './key-router.js';

const expandHome = (p: string) => (p.startsWith('~/') ? join(homedir(), p.slice(2)) : p);

export const ViewerConfigSchema = z
  .object({
    escapeKey: z.string().refine((k) => hidForCode(k) !== undefined, { message: 'not a KeyboardEvent.code name (e.g. ScrollLock, Pause, ControlRight)' }),
    fullscreen: z.boolean(),
    vsync: z.boolean(),
    integerScale: z.boolean(),
    osd: z.boolean(),
    size: z.string().regex(/^\d+x\d+$/, 'must look like 1920x1080'),
    screenshotDir: z.string().transform(expandHome),
    copyTimeoutMs: z.number().int().min(1).max(10000),
    input: z.string(),
    spice: z.string(),
    spicePasswordFile: z.string().transform(expandHome),
    spiceMouse: z.enum(['server', 'client']),
    clipboard: z.boolean(),
    audio: z.boolean(),
    audioDevice: z.string().min(1),
    microphone: z.boolean(),
    microphoneDevice: z.string().min(1),
  })
  .partial()
  .strict();

export type ViewerConfig = z.infer<typeof ViewerConfigSchema>;

export function defaultConfigPath(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_CONFIG_HOME || join(homedir(), '.config');
  return join(base, 'glasspane', 'config.toml');
}

/** Reads and validates a config file. A missing default file is an empty config; a missing --config file is an error. */
export function loadViewerConfig(path: string | undefined, env: NodeJS.ProcessEnv = process.env): ViewerConfig {
  const file = path ?? defaultConfigPath(env);
  if (!existsSync(file)) {
    if (path) throw new GlasspaneError('ERR_CONFIG', `config file ${file} does not exist`, 'check the --config path');
    return {};
  }
  let raw: unknown;
  try {
    raw = parse(readFileSync(file, 'utf8'));
  } catch (err) {
    const e = err as TomlError;
    throw new GlasspaneError('ERR_CONFIG', `${file}: not valid TOML: ${e.message.split('\n')[0]}`, 'fix the syntax at the line shown');
  }
  const r = ViewerConfigSchema.safeParse(raw);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    const key = issue.path.join('.') || (issue as { keys?: string[] }).keys?.join(', ') || '(top level)';
    throw new GlasspaneError(
      'ERR_CONFIG',
      `${file}: ${key}: ${issue.message}`,
      `valid keys: ${Object.keys(ViewerConfigSchema.shape).join(', ')}`,
    );
  }
  return r.data;
}
