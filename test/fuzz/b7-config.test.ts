/**
 * A fuzzer for the Looking Glass B7 config path (the INI reader and the argument reader, new
 * parsers of user input): fixed-seed mutations of real client.ini text and of B7 arguments. Each
 * case either reads or fails with a GlasspaneError (ERR_CONFIG naming FILE:LINE, or ERR_USAGE) —
 * never another exception — and whatever it reads is valid glasspane settings (the config.toml
 * schema accepts it), so no B7 value reaches the viewer unchecked.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { GlasspaneError } from '../../src/errors.js';
import { parseB7Ini } from '../../src/viewer/b7-ini.js';
import { fragmentFor, readB7Sources, type B7Arg } from '../../src/viewer/b7-config.js';
import { B7_OPTIONS } from '../../src/viewer/b7-option-table.js';
import { optionId } from '../../src/viewer/b7-option-types.js';
import { ViewerConfigSchema } from '../../src/viewer/config.js';
import { prng } from './mutations.js';

const dir = mkdtempSync(join(tmpdir(), 'glasspane-b7fuzz-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const env = { HOME: join(dir, 'home'), XDG_CONFIG_HOME: join(dir, 'xdg'), GLASSPANE_B7_SYSTEM_INI: join(dir, 'etc.ini') };

const SEED_INI = `; my client.ini
[app]
shmFile=/dev/shm/looking-glass
[win]
fullScreen=yes
size=1920x1080
position=100x100
title=Windows 11 #1 ; main
rotate=90
uiSize=16
[input]
escapeKey=KEY_RIGHTCTRL
mouseSens=3
helpMenuDelay=250
[spice]
host=127.0.0.1
port=5901
[audio]
micDefault=allow
periodSize=512
[egl]
scale=1
nvGain=2
`;
const PIECES = ['[', ']', '=', ';', '#', '\n', '\r\n', ' ', '\t', 'yes', 'no', 'maybe', '-1', '99999999999', '0x10', 'kvmfr0', 'KEY_', 'é', '\u0000', '[win]', '[WIN]', 'win:', ':', 'x', '1920x', 'center', '__proto__', 'constructor', 'toString'];

/** One mutation of `s`: insert, delete, replace or duplicate a piece. */
function mutate(s: string, rnd: () => number): string {
  const at = Math.floor(rnd() * (s.length + 1));
  const piece = PIECES[Math.floor(rnd() * PIECES.length)]!;
  switch (Math.floor(rnd() * 4)) {
    case 0:
      return s.slice(0, at) + piece + s.slice(at);
    case 1:
      return s.slice(0, at) + s.slice(at + 1 + Math.floor(rnd() * 8));
    case 2:
      return s.slice(0, at) + piece + s.slice(at + piece.length);
    default:
      return s + s.slice(at, at + Math.floor(rnd() * 40));
  }
}

/** Runs `f`; a GlasspaneError of an allowed code is an acceptable outcome, anything else fails. */
function readsOrRefuses<T>(f: () => T, codes: string[]): T | null {
  try {
    return f();
  } catch (err) {
    if (!(err instanceof GlasspaneError) || !codes.includes(err.code)) throw new Error(`not a clean refusal: ${String((err as Error)?.stack ?? err)}`);
    return null;
  }
}

describe('B7 config fuzzer', () => {
  it('2000 mutated client.ini files: each is read into valid settings or refused with FILE:LINE', () => {
    const rnd = prng(19);
    let read = 0;
    for (let i = 0; i < 2000; i++) {
      let text = SEED_INI;
      for (let m = 0, n = 1 + Math.floor(rnd() * 6); m < n; m++) text = mutate(text, rnd);
      try {
        for (const e of parseB7Ini('case.ini', text)) expect(e.line).toBeGreaterThanOrEqual(1);
      } catch (err) {
        expect(err, text).toBeInstanceOf(GlasspaneError);
        expect((err as GlasspaneError).code).toBe('ERR_CONFIG');
        expect((err as Error).message).toMatch(/^case\.ini:\d+: /);
      }
      // The same text as the user's file, through the whole reader.
      mkdirSync(env.HOME, { recursive: true });
      writeFileSync(join(env.HOME, '.looking-glass-client.ini'), text);
      const reading = readsOrRefuses(() => readB7Sources([], [], env), ['ERR_CONFIG']);
      if (!reading) continue;
      read++;
      const settings = fragmentFor(reading, 'files');
      const check = ViewerConfigSchema.safeParse(settings);
      expect(check.success, `${JSON.stringify(settings)} from:\n${text}`).toBe(true);
    }
    expect(read).toBeGreaterThan(200); // the mutations leave plenty of files readable
  });

  it('2000 random B7 argument lists: each is read into valid settings or refused as a usage error', () => {
    rmSync(env.HOME, { recursive: true, force: true }); // no user file: the arguments alone
    const rnd = prng(23);
    const ids = B7_OPTIONS.map(optionId);
    const shorts = B7_OPTIONS.filter((o) => o.short).map((o) => o.short!);
    const values = ['yes', 'no', '1', '0', '-5', '12', '1920x1080', '100x-20', 'center', 'KEY_PAUSE', 'pause', '70', 'allow', 'kvmfr1', '/tmp/x.sock', '', '=', 'a:b', '9'.repeat(30), 'é'];
    let read = 0;
    for (let i = 0; i < 2000; i++) {
      const args: B7Arg[] = [];
      for (let a = 0, n = 1 + Math.floor(rnd() * 4); a < n; a++) {
        const v = values[Math.floor(rnd() * values.length)]!;
        if (rnd() < 0.3) {
          const letter = rnd() < 0.9 ? shorts[Math.floor(rnd() * shorts.length)]! : 'Z';
          args.push(letter === 'C' ? { short: 'C', value: join(dir, 'none.ini') } : rnd() < 0.5 ? { short: letter } : { short: letter, value: v });
        } else {
          let id = ids[Math.floor(rnd() * ids.length)]!;
          if (id === 'app:configFile') id = 'app:license';
          if (rnd() < 0.1) id = mutate(id, rnd);
          args.push({ long: rnd() < 0.2 ? id : `${id}=${v}` });
        }
      }
      const reading = readsOrRefuses(() => readB7Sources(args, [], env), ['ERR_USAGE', 'ERR_CONFIG']);
      if (!reading) continue;
      read++;
      const settings = fragmentFor(reading, 'command');
      expect(ViewerConfigSchema.safeParse(settings).success, `${JSON.stringify(args)} → ${JSON.stringify(settings)}`).toBe(true);
    }
    expect(read).toBeGreaterThan(200);
  });
});
