import { defineConfig } from 'vitest/config';

// Tests drive real processes, shared memory, Xvfb and QEMU on a 2-core machine: one file at a time
// in forked workers (the native addon and child processes behave best there), generous timeouts.
// The global setup says once which system parts are missing (their tests skip) and sweeps
// regions left by dead test processes.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/support/global-setup.ts'],
    pool: 'forks',
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 120_000,
    reporters: ['default'],
  },
});
