/**
 * The guest is untrusted: a FrameRelay fed malformed regions (random bytes; header, queue,
 * message, KVMFR and frame fields set to 0, to their maximum and past the end; a write pointer
 * that never advances) reports each problem by name, never crashes or hangs, and then shows
 * the frames of a valid producer.
 */
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { randomFillSync } from 'node:crypto';
import { native } from '../../src/native.js';
import type { Region } from '../../src/region.js';
import { FrameRelay, type LentFrame, type ProblemEvent } from '../../src/relay/frame-relay.js';
import { HEADER, MESSAGE, QUEUE } from '../../src/lgmp/layout.js';
import { FRAME, KVMFR_HEADER } from '../../src/kvmfr/layout.js';
import type { ErrorCode } from '../../src/errors.js';
import { RawProducer } from '../support/raw-producer.js';
import { StubProducer } from '../../guest-stub/producer.js';
import { stubSceneVerifier } from '../../src/relay/scene-verifier.js';
import { removeShm, shmPath, waitFor } from '../support/helpers.js';

afterAll(removeShm);
const SIZE = 8 << 20;

let region: Region;
let relay: FrameRelay;
let problems: ProblemEvent[];
let frames: LentFrame['info'][];

beforeEach(() => {
  const path = shmPath('bad');
  region = new native.Region(path, { create: true, size: SIZE });
  relay = new FrameRelay({ path, retryMs: 30, copyTimeoutMs: 20 });
  problems = [];
  frames = [];
  relay.on('problem', (p) => problems.push(p));
  relay.on('frame', (f) => {
    frames.push(f.info);
    f.release();
  });
  void relay.start();
});

afterEach(async () => {
  await relay.close();
  region.close();
});

/** Waits for a problem with `code` whose message (naming the value found) matches `re`. */
const sawProblem = (code: ErrorCode, re: RegExp) => waitFor(() => problems.some((p) => p.code === code && re.test(p.message)), 5000, `a ${code} problem matching ${re}`);

/** After the damage, a valid producer must get through: the relay recovered. */
async function validProducerGetsThrough(): Promise<void> {
  const p = new RawProducer(region);
  try {
    await waitFor(() => relay.state === 'connected', 30_000, 'a session with the valid producer');
    const before = frames.length;
    // Posted again until one is taken (a post can land while the relay is still settling on the session).
    await waitFor(() => frames.length > before || (p.post(), false), 30_000, 'a frame from the valid producer', 20);
  } finally {
    p.stop();
  }
}

/** A fake heartbeat so the relay looks at the header even though no real producer runs. */
function beat(): NodeJS.Timeout {
  return setInterval(() => region.add64(HEADER.timestamp, 1n), 5);
}

/** A producer's header with one u32 spoiled, kept "alive" by a fake heartbeat, then a valid producer. */
async function spoiledHeaderThenRecovery(offset: number, value: number, code: ErrorCode, msg: RegExp): Promise<void> {
  new RawProducer(region).stop();
  region.store32(offset, value);
  const hb = beat();
  try {
    await sawProblem(code, msg);
  } finally {
    clearInterval(hb);
  }
  await validProducerGetsThrough();
}

describe('malformed regions', () => {
  it('random bytes', async () => {
    randomFillSync(new Uint8Array(region.buffer));
    await sawProblem('ERR_LGMP_MAGIC', /no LGMP producer in the region: magic 0x/);
    await validProducerGetsThrough();
  });

  it.each([
    ['version 0', HEADER.version, 0, 'ERR_LGMP_VERSION', /LGMP version 0 found; glasspane speaks version 6/],
    ['version max', HEADER.version, 0xffffffff, 'ERR_LGMP_VERSION', /LGMP version 4294967295 found/],
    ['udataSize max', HEADER.udataSize, 0xffffffff, 'ERR_LGMP_CORRUPT', /4294967295 bytes of user data, past the end/],
    ['udataSize 0', HEADER.udataSize, 0, 'ERR_KVMFR_CORRUPT', /user data is 0 bytes, smaller than the 48-byte KVMFR header/],
    ['numQueues max', HEADER.numQueues, 0xffffffff, 'ERR_LGMP_CORRUPT', /4294967295 queues; at most 5/],
    ['numQueues 0', HEADER.numQueues, 0, 'ERR_PRODUCER_STARTING', /no queue 2/],
  ] as Array<[string, number, number, ErrorCode, RegExp]>)('LGMP header %s', (_n, field, value, code, msg) => spoiledHeaderThenRecovery(field, value, code, msg));

  it.each([
    ['KVMFR version', KVMFR_HEADER.version, 19, 'ERR_KVMFR_VERSION', /KVMFR version 19 found \(producer "raw"\); glasspane speaks version 20/],
    ['KVMFR magic', KVMFR_HEADER.magic, 0, 'ERR_KVMFR_MAGIC', /magic ".*" found, "KVMFR---" expected/],
  ] as Array<[string, number, number, ErrorCode, RegExp]>)('%s', (_n, field, value, code, msg) => spoiledHeaderThenRecovery(HEADER.udata + field, value, code, msg));

  it.each([
    ['numMessages 0', QUEUE.numMessages, 0],
    ['numMessages max', QUEUE.numMessages, 0xffffffff],
    ['messagesOffset past the end', QUEUE.messagesOffset, SIZE],
    ['messagesOffset 0', QUEUE.messagesOffset, 0],
  ])('queue %s', async (_n, field, value) => {
    const p = new RawProducer(region);
    region.store32(p.frames.hq + field, value);
    try {
      await sawProblem('ERR_LGMP_CORRUPT', /queue 2 is malformed/);
    } finally {
      p.stop();
    }
    await validProducerGetsThrough();
  });

  it('queue position and message offset/size past the end, then recovery in the same session', async () => {
    const p = new RawProducer(region);
    try {
      await waitFor(() => relay.state === 'connected', 30_000, 'a session');
      await waitFor(() => p.frames.hasSubs(), 30_000, 'a subscription');
      p.post();
      await waitFor(() => frames.length === 1, 30_000, 'a first frame');
      // A message whose payload runs past the region.
      const slot = p.frames.messagesOffset + 1 * MESSAGE.SIZE;
      p.frames.post(0, { offset: SIZE - 100, size: 0xffffffff });
      await sawProblem('ERR_LGMP_CORRUPT', /runs past the end of the 8388608-byte region/);
      expect(region.load32(slot + MESSAGE.offset)).toBe(SIZE - 100);
    } finally {
      p.stop();
    }
    await validProducerGetsThrough();
  });

  const frameCases: Array<[string, number, number, RegExp]> = [];
  for (const [name, field] of Object.entries(FRAME)) {
    if (['SIZE', 'DAMAGE_RECT_SIZE', 'damageRects', 'formatVer', 'frameSerial', 'flags', 'stride', 'screenWidth', 'screenHeight'].includes(name)) continue;
    frameCases.push([`${name} = 0`, field, 0, /invalid frame|damage/]);
    frameCases.push([`${name} = max`, field, 0xffffffff, /invalid frame|damage/]);
  }
  frameCases.push(['offset past the buffer', FRAME.offset, 2 << 20, /invalid frame/]);
  frameCases.push(['dataHeight past the buffer', FRAME.dataHeight, 100000, /invalid frame/]);
  it.each(frameCases)('frame %s', async (_n, field, value, msg) => {
    const p = new RawProducer(region);
    try {
      await waitFor(() => p.frames.hasSubs(), 30_000, 'a subscription');
      if ((field === FRAME.damageRectsCount || field === FRAME.rotation) && value === 0) {
        // 0 damage rects (full damage) and rotation 0 are valid: the frame must arrive.
        p.post((o) => region.store32(o + field, value));
        await waitFor(() => frames.length === 1, 30_000, 'the frame');
        return;
      }
      p.post((o) => region.store32(o + field, value));
      await sawProblem('ERR_BAD_FRAME', msg);
      // The next good frame of the same session gets through.
      const before = frames.length;
      p.post();
      await waitFor(() => frames.length > before, 30_000, 'a good frame after the bad one');
    } finally {
      p.stop();
    }
  });

  it('a write pointer that never advances: the frame is dropped after the copy timeout, not waited for forever', async () => {
    const p = new RawProducer(region);
    try {
      await waitFor(() => p.frames.hasSubs(), 30_000, 'a subscription');
      p.post(undefined, 1000);
      await sawProblem('ERR_FRAME_STALLED', /stopped writing at 1000 of 8192 bytes/);
      expect(p.frames.pending()).toBe(0); // acknowledged anyway: the producer is not blocked
      p.post();
      await waitFor(() => frames.length === 1, 30_000, 'the next frame');
    } finally {
      p.stop();
    }
  });

  it('a region too small for the header', async () => {
    await relay.close();
    const path = shmPath('tiny');
    const tiny = new native.Region(path, { create: true, size: 4096 });
    tiny.close();
    const r = new FrameRelay({ path, retryMs: 30 });
    const seen: ProblemEvent[] = [];
    r.on('problem', (p) => seen.push(p));
    void r.start();
    await waitFor(() => seen.length > 0, 30_000, 'a problem');
    await r.close();
    expect(seen[0]).toMatchObject({ code: 'ERR_REGION_TOO_SMALL', message: expect.stringMatching(/4096 bytes, smaller than the 5760-byte LGMP header/) });
  });
});

describe('recovery with the real stub', () => {
  it('after garbage, guest-stub frames arrive and verify', async () => {
    randomFillSync(new Uint8Array(region.buffer));
    await sawProblem('ERR_LGMP_MAGIC', /no LGMP producer/);
    const verify = stubSceneVerifier();
    const results: Array<string | null> = [];
    relay.removeAllListeners('frame');
    relay.on('frame', (f) => {
      results.push(verify(f).error);
      f.release();
    });
    const stub = new StubProducer({ shmPath: relay.options.path, sizeMiB: 8, width: 320, height: 240, fps: 120, scene: 'bars', format: 'rgba' });
    const run = stub.run();
    try {
      await waitFor(() => results.length >= 20, 30_000, '20 frames');
      expect(results.every((e) => e === null)).toBe(true);
    } finally {
      await stub.stop();
      await run;
    }
  });
});
