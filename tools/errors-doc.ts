/**
 * Renders docs/errors.md from the error catalogue (src/error-codes.ts) and the exit-status scheme
 * (src/cli/exit-codes.ts). `npm run docs:errors` writes it; test/unit/errors-catalogue.test.ts
 * fails when the file in the repository differs from what this returns.
 */
import { type ErrorInfo, ErrorSections, type ExitClass } from '../src/error-codes.js';
import { EXIT_STATUS_OF_CLASS } from '../src/cli/exit-codes.js';

/** Where the rendered file lives, relative to the repository root. */
export const ERRORS_DOC_PATH = 'docs/errors.md';

/** The command that regenerates the file, for messages. */
export const ERRORS_DOC_COMMAND = 'npm run docs:errors';

const CLASS_TEXT: Record<ExitClass, string> = {
  check: 'a check ran to the end and found something wrong',
  usage: 'usage or bad input: nothing was changed',
  nothing: 'nothing to read',
  refused: 'the host, a device, the guest or the VM refused',
  unexpected: 'an unexpected error: a bug in glasspane',
};

/** A table cell: pipes escaped, so a meaning or fix never splits the row. */
function cell(text: string): string {
  return text.replace(/\|/g, '\\|');
}

/** Sentence case with a full stop, for the table (the catalogue's fixes read as CLI fragments). */
function sentence(text: string): string {
  const s = text.charAt(0).toUpperCase() + text.slice(1);
  return /[.!?]$/.test(s) ? s : `${s}.`;
}

/** The whole of docs/errors.md, ending in one newline. */
export function renderErrorsDoc(): string {
  const classes = (Object.keys(CLASS_TEXT) as ExitClass[]).sort((a, b) => EXIT_STATUS_OF_CLASS[a] - EXIT_STATUS_OF_CLASS[b]);
  const lines = [
    '# Error codes',
    '',
    `<!-- Generated from src/error-codes.ts by \`${ERRORS_DOC_COMMAND}\`: edit that file, then run it. -->`,
    '',
    'Every error glasspane reports carries a stable code: `err.code` on the thrown `GlasspaneError`,',
    '`code` in the relay\'s problem events and `lastProblemCode` in `view --stats`. Scripts and tests',
    'match on the code, never on the message. On the command line an error is `glasspane: WHAT`',
    'followed by `  fix: WHAT TO DO`; the fix below is the generic one, printed when the place that',
    'failed knows nothing more specific.',
    '',
    'The exit status of a command that ends with an error follows from its code\'s class',
    '([docs/cli.md](cli.md#exit-status)):',
    '',
    '| class | status | meaning |',
    '|---|---|---|',
    ...classes.map((c) => `| ${c} | ${EXIT_STATUS_OF_CLASS[c]} | ${CLASS_TEXT[c]} |`),
  ];
  for (const section of ErrorSections) {
    lines.push('', `## ${section.title}`, '', '| code | meaning | fix | exit |', '|---|---|---|---|');
    for (const [code, info] of Object.entries<ErrorInfo>(section.codes)) {
      lines.push(`| \`${code}\` | ${cell(info.meaning)} | ${cell(sentence(info.fix))} | ${EXIT_STATUS_OF_CLASS[info.exit]} (${info.exit}) |`);
    }
  }
  return `${lines.join('\n')}\n`;
}
