/**
 * The set-up window tests share: one Xvfb for the test file (started before its tests, stopped
 * after them, with the file's regions removed) and the CLI processes a test starts on it, killed
 * after each test. Call once at the top level of a test file.
 */
import { afterAll, afterEach, beforeAll } from 'vitest';
import { killAll, removeShm, startCli, type CliRun } from './helpers.js';
import { startXvfb, type Xvfb } from './xvfb.js';

/** What useWindowHarness() gives a test file. */
export interface WindowHarness {
  /** The running Xvfb (valid inside tests and hooks, not at collection time). */
  readonly x: Xvfb;
  /** Starts `glasspane ARGS` on the Xvfb; killed after the test. */
  start(args: string[]): CliRun;
  /** The processes started in the current test. */
  readonly procs: CliRun[];
}

/** Registers the hooks described in the module comment; `afterEachTest` runs before the kills. */
export function useWindowHarness(afterEachTest?: () => void): WindowHarness {
  let xvfb: Xvfb | undefined;
  const procs: CliRun[] = [];
  beforeAll(async () => {
    xvfb = await startXvfb();
  });
  afterAll(async () => {
    await xvfb?.stop();
    removeShm();
  });
  afterEach(async () => {
    afterEachTest?.();
    await killAll(procs);
  });
  return {
    get x() {
      if (!xvfb) throw new Error('the Xvfb is not started yet (use it inside a test or hook)');
      return xvfb;
    },
    start(args) {
      const p = startCli(args, this.x.env);
      procs.push(p);
      return p;
    },
    procs,
  };
}
