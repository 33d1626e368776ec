/**
 * Producer and consumer as separate processes over a real /dev/shm region, driven through the
 * CLI exactly as a user runs them.
 */
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { native } from '../../src/native.js';
import { HEADER, QUEUE, queueOffset } from '../../src/lgmp/layout.js';
import { subsBad, subsOn } from '../../src/lgmp/subs.js';
import { removeShm, runCli, shmPath, startCli, stubFramesPosted, waitFor, type CliRun } from '../support/helpers.js';

const children: CliRun[] = [];
function start(args: string[]): CliRun {
  const c = startCli(args);
  children.push(c);
  return c;
}
afterEach(() => {
  for (const c of children.splice(0)) c.child.kill('SIGKILL');
});
afterAll(removeShm);


interface Report {
  frames: number;
  uniqueFrames: number;
  ups: number;
  verifyFailures: number;
  latencyMs: { p50: number; p99: number };
  session: { lgmpVersion: number; kvmfrVersion: number; producerVersion: string };
  sessions: number;
  errors: string[];
}


// Correctness only: how fast frames flow depends on the machine and its load (`npm run bench`
// measures the rates). Every wait is for an event, with generous limits.
describe('two processes over /dev/shm', () => {
  it('1920x1080 BGRA: every frame the producer posts arrives once, in order, and verifies', async () => {
    const shm = shmPath('1080p');
    const N = 300;
    // The consumer first: the stub posts (and numbers) frames only while someone is subscribed,
    // so the consumer must see serials 0..N-1, each once.
    const view = start(['view', '--shm', shm, '--headless', '--verify', '--json', '--frames', String(N), '--seconds', '240']);
    start(['stub', '--shm', shm, '--size', '32', '--width', '1920', '--height', '1080', '--fps', '60', '--frames', String(N), '--quiet']);
    const done = await view.exited;
    expect(done, view.stderr()).toEqual({ code: 0, signal: null });
    const r = JSON.parse(view.stdout()) as Report;
    expect(r.frames).toBe(N);
    expect(r.uniqueFrames).toBe(N);
    expect(r.verifyFailures).toBe(0);
    expect(r.errors).toEqual([]);
    expect(r.sessions).toBe(1);
    expect(r.session).toEqual({ lgmpVersion: 6, kvmfrVersion: 20, producerVersion: 'glasspane-stub 0.1.0' });
    expect(r.latencyMs.p50).toBeGreaterThan(0);
    expect(r.latencyMs.p99).toBeGreaterThanOrEqual(r.latencyMs.p50);
  }, 300_000);

  it('recovers from a producer kill -9 and a producer restart without restarting the consumer', async () => {
    const shm = shmPath('restart');
    const stubArgs = ['stub', '--shm', shm, '--size', '8', '--width', '640', '--height', '480', '--fps', '60'];
    const view = start(['view', '--shm', shm, '--headless', '--verify', '--json']);
    let stub = start(stubArgs);
    await waitFor(() => stubFramesPosted(stub) >= 10, 60_000, 'the consumer to take 10 frames from the first producer');
    stub.child.kill('SIGKILL'); // dies mid-frame, no goodbye
    await stub.exited;
    stub = start(stubArgs);
    await waitFor(() => stubFramesPosted(stub) >= 10, 60_000, 'the consumer to take 10 frames from the second producer');
    stub.child.kill('SIGTERM'); // a clean stop and a restart right away
    await stub.exited;
    stub = start(stubArgs);
    await waitFor(() => stubFramesPosted(stub) >= 10, 60_000, 'the consumer to take 10 frames from the third producer');
    view.child.kill('SIGINT');
    const done = await view.exited;
    expect(done, view.stderr()).toEqual({ code: 0, signal: null });
    const r = JSON.parse(view.stdout()) as Report;
    expect(r.sessions).toBe(3);
    expect(r.verifyFailures).toBe(0);
    // At least 8 of the 10 frames each producer posted (a queue of 2 may still hold the rest).
    expect(r.uniqueFrames).toBeGreaterThanOrEqual(3 * 8);
    // The only errors allowed are frames cut short by the kill.
    for (const e of r.errors) expect(e).toMatch(/stopped writing/);
    expect(view.stderr()).toMatch(/producer (stopped|restarted)/);
  }, 240_000);

  it('a consumer killed with -9: the producer carries on, and its dead slot is reaped', async () => {
    const shm = shmPath('consumer-kill');
    start(['stub', '--shm', shm, '--size', '8', '--width', '640', '--height', '480', '--fps', '60', '--quiet']);
    const a = start(['view', '--shm', shm, '--headless', '--seconds', '120']);
    await waitFor(() => /frames [1-9]/.test(a.stderr()), 60_000, 'the first consumer to receive frames');
    a.child.kill('SIGKILL');
    await a.exited;

    const region = new native.Region(shm);
    try {
      const frameQueue = [0, 1].map(queueOffset).find((q) => region.load32(q + QUEUE.queueID) === 2)!;
      const subs = () => region.load64(frameQueue + QUEUE.subs);
      expect(subsOn(subs())).toBe(1); // the dead consumer still holds slot 0
      // The heartbeat goes on while the dead subscriber's frame waits for its timeout...
      const t0 = region.load64(HEADER.timestamp);
      await waitFor(() => region.load64(HEADER.timestamp) > t0, 30_000, 'the heartbeat');
      // ...then the producer marks it timed out and stops waiting for it.
      await waitFor(() => subsBad(subs()) === 1, 30_000, 'the dead subscriber to time out');
      await waitFor(() => region.load32(frameQueue + QUEUE.count) === 0, 30_000, 'the queue to drain');
      // Once its timeout passed (1 s) on the producer's clock (the heartbeat timestamp, which B7's
      // consumer compares with the slot's timeout), the next consumer reclaims the slot and gets frames.
      await waitFor(() => region.load64(HEADER.timestamp) > region.load64(frameQueue + QUEUE.timeout), 30_000, "the dead slot's timeout to pass on the producer's clock");
      const b = start(['view', '--shm', shm, '--headless', '--verify', '--json', '--frames', '120', '--seconds', '120']);
      await waitFor(() => subsOn(subs()) === 1 && subsBad(subs()) === 0, 60_000, 'the slot to be reaped and reused');
      expect(await b.exited).toEqual({ code: 0, signal: null });
      const r = JSON.parse(b.stdout()) as Report;
      expect(r.frames).toBeGreaterThanOrEqual(120);
      expect(r.verifyFailures).toBe(0);
    } finally {
      region.close();
    }
  }, 240_000);
});

describe('version refusal through the CLI', () => {
  it('a region claiming LGMP version 5 is refused naming 5 and 6, with an exit status (no signal)', async () => {
    const shm = shmPath('v5');
    const r0 = new native.Region(shm, { create: true, size: 1 << 20 });
    r0.store32(HEADER.magic, 0x504d474c);
    r0.store32(HEADER.version, 5);
    r0.close();
    const r = await runCli(['view', '--shm', shm, '--headless', '--json', '--seconds', '1']);
    expect(r.signal).toBeNull();
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('LGMP version 5 found; glasspane speaks version 6 (Looking Glass B7)');
    expect(JSON.parse(r.stdout).errors).toContain('LGMP version 5 found; glasspane speaks version 6 (Looking Glass B7)');
  });

  it('a missing region names the file and the fix', async () => {
    const r = await runCli(['view', '--shm', '/dev/shm/glasspane-nothing-here', '--headless', '--seconds', '0.5']);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/\/dev\/shm\/glasspane-nothing-here does not exist\n {2}fix: start the VM/);
  });
});
