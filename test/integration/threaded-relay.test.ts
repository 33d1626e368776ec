/**
 * The relay on its own thread (ThreadedRelay): consumption goes on while the presenting thread
 * is blocked, every frame the producer posts is consumed, the presenter gets the newest whole
 * frame (verified pixel by pixel), superseded frames are counted, and a relay thread that dies is
 * replaced by a new one.
 */
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import type { Worker } from 'node:worker_threads';
import { existsSync } from 'node:fs';
import { ThreadedRelay } from '../../src/relay/threaded-relay.js';
import { SceneVerifier } from '../../src/scenes/verify.js';
import { removeShm, shmPath, startCli, waitFor, type CliRun } from '../support/helpers.js';

afterAll(removeShm);
const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function stub(args: string[]): CliRun {
  const p = startCli(['stub', ...args]);
  cleanups.push(async () => {
    p.child.kill('SIGKILL');
    await p.exited;
  });
  return p;
}

function relay(path: string): ThreadedRelay {
  const r = new ThreadedRelay({ path, retryMs: 30 });
  void r.start();
  cleanups.push(() => r.close());
  return r;
}

/** Busy-waits: the presenting thread is stuck (a slow software render, a stalled compositor). */
function block(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end);
}

describe('ThreadedRelay', () => {
  it('consumes every frame while the presenting thread is blocked; the presenter gets the newest, whole', async () => {
    const path = shmPath('threaded');
    const FRAMES = 300;
    stub(['--shm', path, '--size', '8', '--width', '320', '--height', '200', '--fps', '100', '--frames', String(FRAMES), '--quiet']);
    await waitFor(() => existsSync(path), 20_000, 'the region');
    const r = relay(path);
    const mailbox = () => (r as unknown as { mailbox: { published: number } }).mailbox;
    const verifier = new SceneVerifier();
    let taken = 0;
    const take = () => {
      const f = r.takeLatest();
      if (!f) return;
      taken++;
      const i = f.info;
      const v = verifier.verify(f.data, i.frameWidth, i.frameHeight, i.dataHeight, i.pitch, i.type, i.frameSerial);
      expect(v.error ?? null).toBeNull();
    };
    r.on('ready', take);
    await waitFor(() => mailbox().published >= 5, 30_000, 'first frames');
    // Stuck for 2 s: the relay thread must keep consuming meanwhile.
    const before = mailbox().published;
    block(2000);
    const during = mailbox().published - before;
    expect(during).toBeGreaterThan(10);
    take();
    await waitFor(() => mailbox().published === FRAMES, 30_000, `all ${FRAMES} frames consumed`);
    await new Promise((res) => setTimeout(res, 200));
    take();
    expect(r.skipped).toBeGreaterThan(0);
    expect(r.skipped + taken).toBe(FRAMES);
    expect(r.counters.framesSkipped).toBe(0); // the relay itself never had to skip
  }, 90_000);

  it('a relay thread that dies is replaced, and frames flow again', async () => {
    const path = shmPath('respawn');
    stub(['--shm', path, '--size', '8', '--width', '320', '--height', '200', '--fps', '60', '--quiet']);
    const r = relay(path);
    const problems: string[] = [];
    r.on('problem', (p) => problems.push(p.code));
    let frames = 0;
    r.on('ready', () => {
      if (r.takeLatest()) frames++;
    });
    await waitFor(() => frames >= 5, 30_000, 'frames');
    await (r as unknown as { worker: { terminate(): Promise<number> } }).worker.terminate();
    const after = frames;
    await waitFor(() => frames >= after + 5, 30_000, 'frames from the new relay thread');
    expect(r.restarts).toBe(1);
    expect(problems).toContain('ERR_RELAY_THREAD');
  }, 90_000);

  it('close() while a dead relay thread waits to be replaced: no thread is started after it', async () => {
    const r = new ThreadedRelay({ path: shmPath('respawn-close'), retryMs: 30 }); // no producer needed
    void r.start();
    const internals = r as unknown as { worker: Worker | null };
    const worker = internals.worker!;
    await new Promise((resolve) => worker.once('online', resolve));
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    try {
      await worker.terminate(); // its 'exit' (heard by the relay first) schedules the replacement
      expect(r.restarts).toBe(1);
      await r.close();
      vi.advanceTimersByTime(10_000);
      expect(internals.worker).toBeNull();
    } finally {
      vi.useRealTimers();
      await internals.worker?.terminate(); // the old code started one: do not leak it
    }
  }, 60_000);
});

