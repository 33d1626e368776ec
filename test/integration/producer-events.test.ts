/**
 * Producer events a real VM produces, against a consumer that must never need restarting: the
 * producer restarting while a frame is being copied (the B7 guest application re-initialises
 * like this on a resolution change, a UAC prompt or a driver reset), a producer paused for 3 s,
 * the region truncated under a connected consumer, the region deleted and created again, and a
 * consumer that corrupts the producer's queue or dies holding its lock.
 */
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { rmSync, truncateSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { native } from '../../src/native.js';
import type { Region } from '../../src/region.js';
import { FrameRelay, type LentFrame, type RelayState } from '../../src/relay/frame-relay.js';
import { StubProducer, type StubOptions } from '../../guest-stub/producer.js';
import { startStubProducer } from '../support/stub-producer.js';
import { QUEUE, queueOffset } from '../../src/lgmp/layout.js';
import { RawProducer } from '../support/raw-producer.js';
import { removeShm, shmPath, startCli, stubFramesPosted, waitFor, type CliRun } from '../support/helpers.js';

afterAll(removeShm);
const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** The relay's re-open interval here (FrameRelay's retryMs), short so that failed re-opens come fast. */
const RETRY_MS = 30;

function startRelay(path: string, copyTimeoutMs = 100): { relay: FrameRelay; frames: LentFrame['info'][]; problems: string[]; states: RelayState[] } {
  const relay = new FrameRelay({ path, retryMs: RETRY_MS, copyTimeoutMs });
  const frames: LentFrame['info'][] = [];
  const problems: string[] = [];
  const states: RelayState[] = [];
  relay.on('frame', (f) => {
    frames.push(f.info);
    f.release();
  });
  relay.on('problem', (p) => problems.push(p.code));
  relay.on('status', (s) => states.push(s.state));
  void relay.start();
  cleanups.push(() => relay.close());
  return { relay, frames, problems, states };
}

const startStub = (o: Partial<StubOptions> & { shmPath: string }): StubProducer => startStubProducer(o, cleanups);

function cli(args: string[]): CliRun {
  const p = startCli(args);
  cleanups.push(async () => {
    if (p.child.exitCode === null && p.child.signalCode === null) {
      p.child.kill('SIGCONT');
      p.child.kill('SIGKILL');
    }
    await p.exited;
  });
  return p;
}

describe('a producer restarting while the consumer copies a frame', () => {
  it.each([2, 10])('%d restarts mid-copy, then a real producer: every frame arrives, no buffer is lost', async (restarts) => {
    const path = shmPath(`midcopy${restarts}`);
    const region: Region = new native.Region(path, { create: true, size: 8 << 20 });
    cleanups.push(() => region.close());
    // A copy timeout longer than the wait below: the relay is still inside the copy when the producer restarts.
    const { relay, frames } = startRelay(path, 1000);
    let producer: RawProducer | null = null;
    for (let i = 0; i < restarts; i++) {
      const sessions = relay.counters.sessions;
      producer?.stop();
      producer = new RawProducer(region); // a new session id: the restart
      await waitFor(() => relay.counters.sessions > sessions && producer!.frames.hasSubs(), 10_000, `session ${i + 1}`);
      producer.post(undefined, 1024); // only 1 KiB of the 8 KiB written: the copy waits for more
      // Time for the relay to take the message and start its copy (nothing shows that it has); well
      // inside the 1000 ms copy timeout above, so the restart lands while it still waits.
      await sleep(150);
    }
    producer?.stop();
    expect(frames).toHaveLength(0); // no half-written frame was handed out
    const stub = startStub({ shmPath: path });
    await waitFor(() => frames.length >= 10, 60_000, '10 frames from the real producer');
    expect(relay.state).toBe('connected');
    expect(stub.stats.framesPosted).toBeGreaterThanOrEqual(10);
  });
});

describe('a paused producer (SIGSTOP for 3 s)', () => {
  it('shows stalled, then producer-gone, and comes back by itself when it resumes', async () => {
    const path = shmPath('sigstop');
    const stub = cli(['stub', '--shm', path, '--size', '8', '--width', '320', '--height', '200', '--fps', '60', '--quiet']);
    const { relay, frames, states } = startRelay(path);
    await waitFor(() => frames.length >= 5, 60_000, 'frames before the pause');
    stub.child.kill('SIGSTOP');
    const stoppedAt = Date.now();
    await waitFor(() => states.at(-1) === 'producer-gone', 15_000, 'the producer declared gone');
    await sleep(Math.max(0, 3000 - (Date.now() - stoppedAt)));
    expect(states).toContain('stalled');
    expect(states.at(-1)).toBe('producer-gone');
    const before = frames.length;
    stub.child.kill('SIGCONT');
    await waitFor(() => frames.length >= before + 10, 60_000, 'frames after the pause');
    expect(relay.state).toBe('connected');
    expect(states.slice(states.lastIndexOf('producer-gone'))).toContain('connected');
  });
});

describe('the region file truncated under a connected consumer', () => {
  it('the consumer survives (no SIGBUS), reports it, and re-opens the region once it is back', async () => {
    const path = shmPath('truncate');
    const region: Region = new native.Region(path, { create: true, size: 8 << 20 });
    cleanups.push(() => region.close());
    const { relay, frames, problems } = startRelay(path);
    let producer = new RawProducer(region);
    await waitFor(() => producer.frames.hasSubs(), 30_000, 'a subscription');
    producer.post();
    await waitFor(() => frames.length === 1, 30_000, 'a first frame');
    producer.stop();
    truncateSync(path, 0); // nobody grows it back for now: the relay reads past the end
    await waitFor(() => problems.includes('ERR_REGION_TRUNCATED'), 30_000, 'the truncation reported');
    expect(relay.state).toBe('producer-gone');
    // Re-opening a 0-byte file fails and is retried (no event says so): ten retry intervals, so
    // the relay has failed several times before the file is grown back.
    await sleep(10 * RETRY_MS);
    truncateSync(path, 8 << 20);
    region.close();
    const fresh: Region = new native.Region(path);
    cleanups.push(() => fresh.close());
    producer = new RawProducer(fresh);
    cleanups.push(() => producer.stop());
    await waitFor(() => producer.frames.hasSubs(), 30_000, 'a subscription on the re-opened region');
    producer.post();
    await waitFor(() => frames.length === 2, 30_000, 'a frame after the truncation');
    expect(relay.counters.reopens).toBeGreaterThanOrEqual(1);
    expect(relay.state).toBe('connected');
  });

  it('as processes: `glasspane view --headless` and `glasspane stub` both survive a truncate -s 0', async () => {
    const path = shmPath('truncate-cli');
    const stub = cli(['stub', '--shm', path, '--size', '8', '--width', '320', '--height', '200', '--fps', '60']);
    // The file exists before the stub has sized it: wait for the stub to say the region is ready.
    await waitFor(() => /region /.test(stub.stderr()), 20_000, 'the stub to create the region');
    const view = cli(['view', '--shm', path, '--headless', '--json']);
    // Truncate only once the viewer is connected (subscribed to the frame queue).
    const probe = new native.Region(path);
    try {
      await waitFor(() => probe.load64(queueOffset(0) + QUEUE.subs) !== 0n, 30_000, 'the viewer to subscribe');
    } finally {
      probe.close();
    }
    await waitFor(() => stubFramesPosted(stub) > 0, 30_000, 'the viewer to take frames (the stub\'s once-a-second line)');
    truncateSync(path, 0);
    // Events, not seconds (a loaded machine is slow): the stub grows the region back, and the
    // viewer takes frames of the stub's new session; then it is stopped as a user would.
    await waitFor(() => /opened it again/.test(stub.stderr()), 60_000, 'the stub to open the region again');
    const before = stubFramesPosted(stub);
    await waitFor(() => stubFramesPosted(stub) >= before + 10, 60_000, 'the viewer to take frames of the new session');
    view.child.kill('SIGINT');
    const done = await view.exited;
    expect(done.signal).toBeNull();
    expect(done.code).toBe(0);
    const report = JSON.parse(view.stdout()) as { frames: number; sessions: number };
    expect(report.sessions).toBeGreaterThanOrEqual(2); // the stub's new session after it grew the region back
    expect(stub.child.exitCode).toBeNull(); // still running
    expect(stub.stderr()).toMatch(/truncated under the stub.*opened it again/);
  });
});

describe('the region deleted and created again at the same path', () => {
  it('the consumer notices the path names another file and follows the new producer', async () => {
    const path = shmPath('recreate');
    const first = new StubProducer({ shmPath: path, sizeMiB: 8, width: 320, height: 200, fps: 100, scene: 'bars', format: 'bgra' });
    const firstRun = first.run();
    const { relay, frames, problems } = startRelay(path);
    await waitFor(() => frames.length >= 5, 60_000, 'frames from the first file');
    await first.stop();
    await firstRun;
    rmSync(path);
    const sessions = relay.counters.sessions;
    startStub({ shmPath: path }); // a new file at the same path
    await waitFor(() => relay.counters.sessions > sessions, 60_000, 'a session on the new file');
    const before = frames.length;
    await waitFor(() => frames.length >= before + 10, 60_000, 'frames from the new file');
    expect(problems).toContain('ERR_REGION_REPLACED');
  });
});

describe('the stub against a hostile or dead consumer', () => {
  const frameQueueHeader = queueOffset(0); // the stub adds the frame queue first

  it('a frame-queue count of 0x7fffffff: the stub starts a new session, and still stops on SIGTERM', async () => {
    const path = shmPath('count');
    const stub = cli(['stub', '--shm', path, '--size', '8', '--width', '320', '--height', '200', '--fps', '60']);
    const { relay, frames } = startRelay(path);
    await waitFor(() => frames.length >= 3, 60_000, 'frames');
    const sessions = relay.counters.sessions;
    const r = new native.Region(path);
    r.store32(frameQueueHeader + QUEUE.count, 0x7fffffff);
    r.close();
    await waitFor(() => relay.counters.sessions > sessions, 30_000, 'a new session');
    await waitFor(() => stub.stderr().includes('overwritten'), 30_000, 'the stub saying why');
    stub.child.kill('SIGTERM');
    const done = await Promise.race([stub.exited, sleep(10_000).then(() => null)]);
    expect(done).toEqual({ code: 0, signal: null });
  });

  it('a queue lock left taken by a consumer that died inside it: a new session, not an exit', async () => {
    const path = shmPath('lock');
    const stub = cli(['stub', '--shm', path, '--size', '8', '--width', '320', '--height', '200', '--fps', '60']);
    const { relay, frames } = startRelay(path);
    await waitFor(() => frames.length >= 3, 60_000, 'frames');
    const sessions = relay.counters.sessions;
    const r = new native.Region(path);
    r.store32(frameQueueHeader + QUEUE.lock, 1);
    r.close();
    await waitFor(() => stub.stderr().includes('lock stayed taken'), 30_000, 'the stub noticing the held lock');
    await waitFor(() => relay.counters.sessions > sessions, 30_000, 'a new session');
    const before = frames.length;
    await waitFor(() => frames.length >= before + 5, 30_000, 'frames of the new session');
    expect(stub.child.exitCode).toBeNull();
  });
});
