/**
 * Writes docs/errors.md from the error catalogue: `npm run docs:errors` (run it after changing
 * src/error-codes.ts; test/unit/errors-catalogue.test.ts checks the file is current).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ERRORS_DOC_PATH, renderErrorsDoc } from './errors-doc.js';

const root = join(fileURLToPath(import.meta.url), '..', '..');
writeFileSync(join(root, ERRORS_DOC_PATH), renderErrorsDoc());
process.stdout.write(`wrote ${ERRORS_DOC_PATH}\n`);
