/** Test helper: guest-stub's producer run in the test's own process. */
import { StubProducer, type StubOptions } from '../../guest-stub/producer.js';

/**
 * Runs a StubProducer in this process on `o.shmPath` (8 MiB region, 320x200 bars at 100 fps unless
 * `o` says otherwise) and registers its stop with `cleanups` (the test file's list, run after each
 * test). Returns the producer, already running.
 */
export function startStubProducer(o: Partial<StubOptions> & { shmPath: string }, cleanups: Array<() => unknown>): StubProducer {
  const stub = new StubProducer({ sizeMiB: 8, width: 320, height: 200, fps: 100, scene: 'bars', format: 'bgra', ...o });
  const run = stub.run();
  cleanups.push(async () => {
    await stub.stop();
    await run;
  });
  return stub;
}
