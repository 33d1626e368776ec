/**
 * "Did you mean" for a key name glasspane does not know: the code the user meant comes first
 * (`send key a` used to suggest "Again, AltLeft, AltRight"), through the built CLI and the parser.
 */
import { describe, expect, it } from 'vitest';
import { similarCodes } from '../../src/input/scancodes.js';
import { parseKeyArgs } from '../../src/spice/input-steps.js';
import { coded } from '../support/errors.js';
import { runCli } from '../support/helpers.js';

describe('key name suggestions', () => {
  it('send key a: exit 2 suggesting KeyA (before any connection: port 1 has no server)', async () => {
    const r = await runCli(['send', '--spice', '127.0.0.1:1', 'key', 'a']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/unknown key "a"\n\s+fix: did you mean KeyA\? /);
  });

  it('the code a typed character or name stands for comes first', () => {
    for (const [typed, code] of [['a', 'KeyA'], ['z', 'KeyZ'], ['1', 'Digit1'], ['up', 'ArrowUp'], ['return', 'Enter'], ['esc', 'Escape'], ['Del', 'Delete'], ['enter', 'Enter']] as const) {
      expect(similarCodes(typed)[0], typed).toBe(code);
      if (typed !== 'enter') expect(() => parseKeyArgs([typed]), typed).toThrow(coded('ERR_SPICE_KEY'));
    }
  });
});
