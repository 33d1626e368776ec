import { describe, expect, it } from 'vitest';
import { runCli } from '../support/helpers.js';
import { exitStatusOf } from '../support/errors.js';

describe('the glasspane command', () => {
  it('lists its commands', async () => {
    const r = await runCli(['--help']);
    expect(r.code).toBe(0);
    for (const c of ['stub', 'view', 'demo']) expect(r.stdout).toMatch(new RegExp(`\\n\\s+${c}\\b`));
  });

  it.each(['stub', 'view', 'demo'])('%s --help shows examples', async (cmd) => {
    const r = await runCli([cmd, '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/Examples?:\n(\s+.*\n)*?\s+glasspane /);
  });

  it('names a bad option value and the accepted range', async () => {
    const r = await runCli(['stub', '--shm', '/dev/shm/x', '--width', 'wide']);
    expect(r.code).toBe(exitStatusOf('ERR_USAGE'));
    expect(r.signal).toBeNull();
    expect(r.stderr).toContain('--width must be a whole number from 8 to 16384, got "wide"');
    const f = await runCli(['stub', '--shm', '/dev/shm/x', '--format', 'yuv']);
    expect(f.code).toBe(exitStatusOf('ERR_USAGE'));
    expect(f.stderr).toContain('--format must be one of bgra, rgba, bgr_32, rgb_24, got "yuv"');
  });

  it('view without --headless says what to add', async () => {
    const r = await runCli(['view', '--shm', '/dev/shm/x'], { env: { DISPLAY: undefined, WAYLAND_DISPLAY: undefined } });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/add --headless/);
  });
});
