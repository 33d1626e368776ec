/**
 * Config file errors point at the spot: a TOML syntax error shows FILE:LINE:COLUMN and the line
 * with a caret, a folder given as the config says so (not EISDIR), a value of the wrong type names
 * the key, the expected type and what was found, with its line and column. For the viewer's
 * config.toml and for VM files alike; through the CLI they exit 2.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadViewerConfig } from '../../src/viewer/config.js';
import { loadVmConfig } from '../../src/vm/config.js';
import { keyLocation } from '../../src/config-file.js';
import { runCli } from '../support/helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'glasspane-cfgerr-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const file = (name: string, text: string) => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};
const error = (f: () => unknown): { code: string; message: string; fix?: string } => {
  try {
    f();
  } catch (e) {
    return e as { code: string; message: string; fix?: string };
  }
  throw new Error('no error');
};

describe('viewer config errors', () => {
  it('a TOML syntax error shows file, line, column and the line with a caret', () => {
    const f = file('syntax.toml', 'escapeKey = "Pause"\nfullscreen = tru\nvsync = true\n');
    const e = error(() => loadViewerConfig(f));
    expect(e.code).toBe('ERR_CONFIG');
    expect(e.message).toMatch(new RegExp(`^${f}:2:14: not valid TOML: .+\\n`));
    expect(e.message).toContain('2:  fullscreen = tru');
    expect(e.message).toMatch(/\n\s+\^/);
    expect(e.fix).toBe('fix the TOML syntax at line 2, column 14');
  });

  it('a folder given as the config file is named as such', () => {
    const d = join(dir, 'a-folder');
    mkdirSync(d);
    const e = error(() => loadViewerConfig(d));
    expect(e.code).toBe('ERR_CONFIG');
    expect(e.message).toBe(`the config file ${d} is a folder, not a file`);
    expect(e.message).not.toMatch(/EISDIR/);
  });

  it('a wrong type names file:line:column, the key, the expected type and what was found', () => {
    const f = file('types.toml', '# mine\nescapeKey = "Pause"\n\nfullscreen = "yes"\n');
    const e = error(() => loadViewerConfig(f));
    expect(e.code).toBe('ERR_CONFIG');
    expect(e.message).toBe(`${f}:4:14: fullscreen: expected a boolean (true or false), got the string "yes"`);
    expect(e.fix).not.toMatch(/valid keys/);
    const n = error(() => loadViewerConfig(file('num.toml', 'copyTimeoutMs = "100"\n')));
    expect(n.code).toBe('ERR_CONFIG');
    expect(n.message).toMatch(/num\.toml:1:17: copyTimeoutMs: expected a number \(e\.g\. 100\), got the string "100"/);
  });

  it('through the CLI: exit status 2 with the message', async () => {
    const r = await runCli(['view', '--shm', '/dev/shm/x', '--headless', '--config', join(dir, 'types.toml')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('types.toml:4:14: fullscreen: expected a boolean');
  });
});

describe('VM config errors', () => {
  it('point at the line of the key inside its section, and name a folder', async () => {
    const f = file('vm.toml', 'name = "x"\n\n[cpu]\ncores = "two"\n\n[memory]\nsize = "1G"\n');
    const e = await loadVmConfig(f).catch((err) => err);
    expect(e.code).toBe('ERR_CONFIG');
    expect(e.message).toContain(`${f}:4:9: cpu.cores: "two" is not a number`);
    const d = await loadVmConfig(dir).catch((err) => err);
    expect(d.code).toBe('ERR_CONFIG');
    expect(d.message).toBe(`the VM config ${dir} is a folder, not a file`);
    const s = await loadVmConfig(file('vmsyntax.toml', 'name = "x"\n[cpu\n')).catch((err) => err);
    expect(s.code).toBe('ERR_CONFIG');
    expect(s.message).toMatch(/vmsyntax\.toml:2:\d+: not valid TOML/);
  });

  it('keyLocation finds a key in its section only', () => {
    const text = 'cores = 1\n[cpu]\n  cores   = 4\n[memory]\nsize="1G"\n';
    expect(keyLocation(text, ['cpu', 'cores'])).toEqual({ line: 3, column: 13 });
    expect(keyLocation(text, ['cores'])).toEqual({ line: 1, column: 9 });
    expect(keyLocation(text, ['memory', 'size'])).toEqual({ line: 5, column: 6 });
    expect(keyLocation(text, ['cpu', 'threads'])).toBeNull();
  });
});
