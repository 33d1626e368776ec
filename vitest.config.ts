import { defineConfig } from 'vitest/config';

// Tests drive real processes, shared memory, Xvfb and QEMU on a 2-core machine: one file at a time
// in forked workers (the native addon and child processes behave best there), generous timeouts.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    pool: 'forks',
    fileParallelism: false,
    testTimeout: 60_000,
    hookTimeout: 60_000,
    reporters: ['default'],
  },
});
