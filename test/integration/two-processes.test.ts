/**
 * Producer and consumer as separate processes over a real /dev/shm region, driven through the
 * CLI exactly as a user runs them.
 */
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { native } from '../../src/native.js';
import { HEADER, QUEUE, queueOffset } from '../../src/lgmp/layout.js';
import { subsBad, subsOn } from '../../src/lgmp/subs.js';
import { removeShm, runCli, shmPath, startCli, waitFor, type CliRun } from '../support/helpers.js';

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

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

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

describe('two processes over /dev/shm', () => {
  it('1920x1080 BGRA at 60 fps for 10 s: at least 590 frames, every one verified', async () => {
    const shm = shmPath('1080p');
    start(['stub', '--shm', shm, '--size', '32', '--width', '1920', '--height', '1080', '--fps', '60', '--quiet']);
    const view = await runCli(['view', '--shm', shm, '--headless', '--verify', '--json', '--seconds', '10']);
    expect(view.signal).toBeNull();
    expect(view.code).toBe(0);
    const r = JSON.parse(view.stdout) as Report;
    expect(r.frames).toBeGreaterThanOrEqual(590);
    expect(r.uniqueFrames).toBe(r.frames);
    expect(r.verifyFailures).toBe(0);
    expect(r.errors).toEqual([]);
    expect(r.session).toEqual({ lgmpVersion: 6, kvmfrVersion: 20, producerVersion: 'glasspane-stub 0.1.0' });
    expect(r.latencyMs.p50).toBeGreaterThan(0);
    expect(r.latencyMs.p99).toBeGreaterThanOrEqual(r.latencyMs.p50);
  }, 30_000);

  it('recovers from a producer kill -9 and a producer restart without restarting the consumer', async () => {
    const shm = shmPath('restart');
    const stubArgs = ['stub', '--shm', shm, '--size', '8', '--width', '640', '--height', '480', '--fps', '60', '--quiet'];
    let stub = start(stubArgs);
    const view = start(['view', '--shm', shm, '--headless', '--verify', '--json', '--seconds', '9']);
    await sleep(2000);
    stub.child.kill('SIGKILL'); // dies mid-frame, no goodbye
    await sleep(1500);
    stub = start(stubArgs);
    await sleep(2000);
    stub.child.kill('SIGTERM'); // a clean stop and a restart right away
    await stub.exited;
    stub = start(stubArgs);
    const done = await view.exited;
    expect(done.signal).toBeNull();
    const r = JSON.parse(view.stdout()) as Report;
    expect(r.sessions).toBe(3);
    expect(r.verifyFailures).toBe(0);
    // Frames came from all three producers: ~2 s + ~2 s + the rest of the 9 s.
    expect(r.uniqueFrames).toBeGreaterThan(300);
    // The only errors allowed are frames cut short by the kill.
    for (const e of r.errors) expect(e).toMatch(/stopped writing/);
    expect(view.stderr()).toMatch(/producer (stopped|restarted)/);
  }, 30_000);

  it('a consumer killed with -9: the producer carries on, and its dead slot is reaped', async () => {
    const shm = shmPath('consumer-kill');
    start(['stub', '--shm', shm, '--size', '8', '--width', '640', '--height', '480', '--fps', '60', '--quiet']);
    const a = start(['view', '--shm', shm, '--headless', '--seconds', '60']);
    await waitFor(() => /frames [1-9]/.test(a.stderr()), 10_000, 'the first consumer to receive frames');
    a.child.kill('SIGKILL');
    await a.exited;

    const region = new native.Region(shm);
    try {
      const frameQueue = [0, 1].map(queueOffset).find((q) => region.load32(q + QUEUE.queueID) === 2)!;
      const subs = () => region.load64(frameQueue + QUEUE.subs);
      expect(subsOn(subs())).toBe(1); // the dead consumer still holds slot 0
      // The heartbeat goes on while the dead subscriber's frame waits for its timeout...
      const t0 = region.load64(HEADER.timestamp);
      await sleep(100);
      expect(region.load64(HEADER.timestamp)).toBeGreaterThan(t0);
      // ...then the producer marks it timed out and stops waiting for it.
      await waitFor(() => subsBad(subs()) === 1, 5000, 'the dead subscriber to time out');
      await waitFor(() => region.load32(frameQueue + QUEUE.count) === 0, 5000, 'the queue to drain');
      // Once its timeout passed, the next consumer reclaims the slot and gets frames.
      await sleep(1200);
      const b = start(['view', '--shm', shm, '--headless', '--verify', '--json', '--seconds', '3']);
      await waitFor(() => subsOn(subs()) === 1 && subsBad(subs()) === 0, 5000, 'the slot to be reaped and reused');
      await b.exited;
      const r = JSON.parse(b.stdout()) as Report;
      expect(r.frames).toBeGreaterThan(100);
      expect(r.verifyFailures).toBe(0);
    } finally {
      region.close();
    }
  }, 40_000);
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
    expect(r.stderr).toMatch(/\/dev\/shm\/glasspane-nothing-here does not exist .*fix: start the VM/);
  });
});
