/**
 * guest-stub and FrameRelay in one process over a real /dev/shm region: cursor messages, the
 * consumer mailbox, TRUNCATED frames, and a consumer that stops acknowledging.
 */
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { StubProducer, StubOptions } from '../../guest-stub/producer.js';
import { startStubProducer } from '../support/stub-producer.js';
import { FrameRelay, type CursorEvent, type LentFrame, type RelayOptions } from '../../src/relay/frame-relay.js';
import { stubSceneVerifier } from '../../src/relay/scene-verifier.js';
import { FrameFlags, KVMFR } from '../../src/kvmfr/layout.js';
import { HEADER, QUEUE, queueOffset } from '../../src/lgmp/layout.js';
import { subsBad } from '../../src/lgmp/subs.js';
import { native } from '../../src/native.js';
import { removeShm, shmPath, waitFor } from '../support/helpers.js';

afterAll(removeShm);
const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const startStub = (o: Partial<StubOptions> & { shmPath: string }): StubProducer => startStubProducer(o, cleanups);

function startRelay(path: string, options: Partial<RelayOptions> = {}): FrameRelay {
  const relay = new FrameRelay({ path, retryMs: 30, ...options });
  void relay.start();
  cleanups.push(() => relay.close());
  return relay;
}

describe('guest-stub with the relay', () => {
  it('delivers the cursor shape at once to a new subscriber, then positions; forwards SETCURSORPOS', async () => {
    const path = shmPath('cursor');
    const stub = startStub({ shmPath: path });
    const relay = startRelay(path);
    const events: CursorEvent[] = [];
    relay.on('cursor', (c) => events.push(c));
    relay.on('frame', (f) => f.release());
    await waitFor(() => events.length > 10, 30_000, 'cursor messages');
    const shape = events.find((e) => e.shape)!;
    expect(shape.shape).toMatchObject({ type: 'color', width: 32, height: 32, pitch: 128, hotX: 0, hotY: 0 });
    expect(shape.shape!.pixels.length).toBe(32 * 128);
    expect([...shape.shape!.pixels.subarray(0, 4)]).toEqual([0, 0, 0, 255]); // the tip of the arrow outline, BGRA
    expect(events.every((e) => e.visible && e.position)).toBe(true);
    const xs = new Set(events.map((e) => e.position!.x));
    expect(xs.size).toBeGreaterThan(3); // it moves
    expect(relay.session?.features).toBe(1);
    expect(relay.setCursorPosition(17, 23)).toBe(true);
    await waitFor(() => stub.stats.cursorRequests === 1, 30_000, 'the producer to handle SETCURSORPOS');
    const n = events.length;
    await waitFor(() => events.length > n + 2, 30_000, 'more cursor messages');
    expect(events.at(-1)!.position).toEqual({ x: 17, y: 23 });
  });

  it('a region too small for the frame gives TRUNCATED frames whose rows still verify', async () => {
    const path = shmPath('trunc');
    const stub = startStub({ shmPath: path, sizeMiB: 8, width: 1920, height: 1080 });
    expect(stub.stats.truncated).toBe(true);
    expect(stub.stats.dataHeight).toBeLessThan(1080);
    const relay = startRelay(path);
    const verify = stubSceneVerifier();
    const got: Array<{ flags: number; dataHeight: number; frameHeight: number; error: string | null }> = [];
    relay.on('frame', (f) => {
      got.push({ flags: f.info.flags, dataHeight: f.info.dataHeight, frameHeight: f.info.frameHeight, error: verify(f).error });
      f.release();
    });
    await waitFor(() => got.length >= 5, 30_000, 'frames');
    for (const g of got) {
      expect(g.flags & FrameFlags.TRUNCATED).toBeTruthy();
      expect(g.dataHeight).toBe(stub.stats.dataHeight);
      expect(g.frameHeight).toBe(1080);
      expect(g.error).toBeNull();
    }
  });

  it('a consumer that stops acknowledging: frames wait, the heartbeat goes on, and the relay resubscribes after its timeout', async () => {
    const path = shmPath('stall');
    const stub = startStub({ shmPath: path });
    // The relay waits for a buffer longer than the producer's 1 s subscriber timeout: it stops
    // acknowledging, as a consumer stuck elsewhere would.
    const relay = startRelay(path, { bufferWaitMs: 10_000 });
    const held: LentFrame[] = [];
    const problems: string[] = [];
    relay.on('problem', (p) => problems.push(p.code));
    relay.on('frame', (f) => held.push(f)); // hold every frame: the pool of two runs dry
    await waitFor(() => held.length === 2, 30_000, 'two frames');
    const posted = stub.stats.framesPosted;
    const region = new native.Region(path);
    try {
      // A second of heartbeats (every 10 ms) on the producer's clock, and still no frames flow...
      const t0 = region.load64(HEADER.timestamp);
      await waitFor(() => region.load64(HEADER.timestamp) > t0 + 1000n, 30_000, 'a second of heartbeats');
      // ...until the producer times the stalled subscriber out (its bit turns BAD in the frame queue).
      const frameQueue = [0, 1].map(queueOffset).find((q) => region.load32(q + QUEUE.queueID) === KVMFR.QUEUE_FRAME)!;
      await waitFor(() => subsBad(region.load64(frameQueue + QUEUE.subs)) !== 0, 30_000, 'the producer to time the stalled relay out');
    } finally {
      region.close();
    }
    expect(stub.stats.waitsForConsumer).toBeGreaterThan(0);
    expect(stub.stats.framesPosted - posted).toBeLessThanOrEqual(3);
    for (const f of held.splice(0)) f.release();
    relay.removeAllListeners('frame');
    const fresh: number[] = [];
    relay.on('frame', (f) => {
      fresh.push(f.info.frameSerial);
      f.release();
    });
    await waitFor(() => fresh.length > 20, 30_000, 'frames again');
    expect(problems).toContain('ERR_SUBSCRIPTION_LOST');
  });

  it('a listener that holds every buffer does not stop the producer: frames are skipped and counted, then flow again', async () => {
    const path = shmPath('held');
    const stub = startStub({ shmPath: path });
    const relay = startRelay(path, { bufferWaitMs: 100 });
    const held: LentFrame[] = [];
    const problems: string[] = [];
    relay.on('problem', (p) => problems.push(p.code));
    relay.on('frame', (f) => held.push(f));
    await waitFor(() => held.length === 2, 5000, 'two frames');
    const posted = stub.stats.framesPosted;
    // With both buffers held, the relay acknowledges what it cannot hand out: the producer goes on.
    await waitFor(() => stub.stats.framesPosted - posted >= 10, 10_000, 'the producer posting while buffers are held');
    expect(relay.counters.framesSkipped).toBeGreaterThan(0);
    expect(problems).toContain('ERR_FRAMES_HELD');
    expect(problems).not.toContain('ERR_SUBSCRIPTION_LOST');
    expect(held).toHaveLength(2);
    for (const f of held.splice(0)) f.release();
    await waitFor(() => held.length === 2, 5000, 'frames handed out again');
    for (const f of held.splice(0)) f.release();
  });

  it('a frame listener that throws loses no buffer: the throw is reported and every later frame still arrives', async () => {
    const path = shmPath('throw');
    startStub({ shmPath: path });
    const relay = startRelay(path, { bufferWaitMs: 60_000 });
    const problems: string[] = [];
    relay.on('problem', (p) => problems.push(p.code));
    let calls = 0;
    relay.on('frame', () => {
      calls++;
      throw new Error('listener bug');
    });
    // With a pool of two, a leak would stop delivery after the second frame.
    await waitFor(() => calls >= 20, 10_000, '20 frames to a throwing listener');
    expect(problems).toContain('ERR_FRAME_LISTENER');
    expect(relay.counters.framesSkipped).toBe(0);
  });
});
