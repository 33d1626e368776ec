/**
 * The bench's small C programs (bench/fixtures/*.c): the glass-to-glass pixel probe and the
 * wake-floor pair. Built with gcc on first use into build/bench/ (rebuilt when the source
 * changes), as the tests build their X11 probe. Returns the program's path, or why it cannot be
 * built (no gcc, no libx11-dev): the trial then reports n/a.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BENCH_DIR } from './lib.js';

const ROOT = join(BENCH_DIR, '..', '..');

/** Builds bench/fixtures/NAME.c (with `libs`) unless current; its path, or why not as `{ reason }`. */
export function cTool(name: string, libs: string[] = []): string | { reason: string } {
  const src = join(ROOT, 'bench', 'fixtures', `${name}.c`);
  const out = join(ROOT, 'build', 'bench', name);
  const hash = createHash('sha256').update(readFileSync(src)).update(libs.join(' ')).digest('hex');
  const stamp = `${out}.sha256`;
  if (existsSync(out) && existsSync(stamp) && readFileSync(stamp, 'utf8').trim() === hash) return out;
  mkdirSync(join(ROOT, 'build', 'bench'), { recursive: true });
  const r = spawnSync('gcc', ['-O2', '-Wall', '-o', out, src, ...libs], { encoding: 'utf8' });
  if (r.error) return { reason: 'gcc is not installed' };
  if (r.status !== 0) return { reason: `cannot build ${name}.c: ${r.stderr.trim().split('\n').slice(-2).join(' / ')}` };
  writeFileSync(stamp, `${hash}\n`);
  return out;
}
