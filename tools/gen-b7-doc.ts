/**
 * Writes the option tables of docs/coming-from-looking-glass.md from the B7 option table:
 * `npm run docs:b7` (run it after changing src/viewer/b7-option-table.ts;
 * test/unit/b7-options.test.ts checks the file is current).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { B7_DOC_PATH, withB7Tables } from './b7-doc.js';

const file = join(fileURLToPath(import.meta.url), '..', '..', B7_DOC_PATH);
writeFileSync(file, withB7Tables(readFileSync(file, 'utf8')));
process.stdout.write(`wrote ${B7_DOC_PATH}\n`);
