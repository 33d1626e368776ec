import { defineConfig } from 'vitest/config';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

/**
 * The real-kernel vfio guest takes minutes (a q35 guest under TCG running node a dozen times):
 * it starts first, so the other files run beside it instead of after it.
 */
class LongestFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    const first = (f: TestSpecification) => (f.moduleId.endsWith('test/vm/guest-vfio.test.ts') ? 0 : 1);
    return sorted.sort((a, b) => first(a) - first(b));
  }
}

// Tests drive real processes, shared memory, Xvfb and QEMU on a 2-core machine. Two files at a time
// in forked workers: much of the suite waits (on guests booting, timeouts, child processes), and
// every resource a test makes is its own (regions named by pid, Xvfb -displayfd, port 0, the
// run's TMPDIR), as it must be anyway with other runs on the machine. No test asserts speed;
// limits are generous. The global setup says once which system parts are missing (their tests
// skip), gives the run its own TMPDIR and removes what dead test processes left in /dev/shm.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/support/global-setup.ts'],
    pool: 'forks',
    maxWorkers: 2,
    minWorkers: 1,
    sequence: { sequencer: LongestFirst },
    testTimeout: 120_000,
    hookTimeout: 120_000,
    reporters: ['default'],
  },
});
