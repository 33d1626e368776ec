/**
 * The scancode table agrees row by row with keycodemapdb's keymaps.csv (a copy in
 * test/fixtures, BSD-3 licensed: see keymaps.LICENSE.BSD there): for every row with a
 * KeyboardEvent.code name, a USB HID usage (= SDL scancode) and a set-1 code, the table maps both
 * the name and the usage to that set-1 code — except the keys the table leaves out on purpose.
 */
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SET1_BY_CODE, SET1_BY_HID } from '../../src/input/keymap-table.js';
import { hidForCode } from '../../src/viewer/key-router.js';
import { ROOT } from '../support/helpers.js';

const rows = readFileSync(join(ROOT, 'test', 'fixtures', 'keymaps.csv'), 'utf8').trim().split('\n');
const header = rows[0]!.split(',').map((h) => h.replace(/"/g, ''));
const col = (name: string) => header.indexOf(name);
const [HTML, USB, SET1] = [col('HTML code'), col('USB Keycodes'), col('AT set1 keycode')];
/** Left out of the table on purpose (set-1 0xf1/0xf2 have no break code). */
const OMITTED = new Set(['Lang1', 'Lang2']);

describe('scancode table vs keymaps.csv', () => {
  const entries = rows
    .slice(1)
    .map((r) => r.split(','))
    .filter((f) => f[HTML] && f[USB] && f[SET1] && !OMITTED.has(f[HTML]!));

  it('covers the csv', () => {
    expect(entries.length).toBeGreaterThan(100);
  });

  it('maps every KeyboardEvent.code name and HID usage in the csv to its set-1 code', () => {
    const mismatches: string[] = [];
    for (const f of entries) {
      const code = f[HTML]!;
      const hid = Number(f[USB]);
      const set1 = Number(f[SET1]);
      if (SET1_BY_CODE[code] !== set1) mismatches.push(`${code}: table ${SET1_BY_CODE[code]?.toString(16)}, csv ${set1.toString(16)}`);
      if (SET1_BY_HID.get(hid) !== set1) mismatches.push(`HID ${hid} (${code}): table ${SET1_BY_HID.get(hid)?.toString(16)}, csv ${set1.toString(16)}`);
    }
    expect(mismatches).toEqual([]);
  });

  it('the viewer finds the HID usage of the escape keys people use', () => {
    expect(hidForCode('ScrollLock')).toBe(0x47);
    expect(hidForCode('Pause')).toBe(0x48);
    expect(hidForCode('ControlRight')).toBe(0xe4);
    expect(hidForCode('NoSuchKey')).toBeUndefined();
  });
});
