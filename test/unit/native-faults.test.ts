/**
 * The addon under the conditions that used to kill the process: a region file truncated under a
 * live mapping (SIGBUS), a worker thread closing its own regions while the main thread reads its
 * own, a watcher closed during a wait. Each risky case runs in a child process, so a crash shows
 * as a signal in the result instead of taking the test runner down.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { truncateSync } from 'node:fs';
import { native, WATCH_CLOSED } from '../../src/native.js';
import { ROOT, removeShm, shmPath } from '../support/helpers.js';

afterAll(removeShm);
const NATIVE = JSON.stringify(`${ROOT}/dist/src/native.js`);

function runModule(script: string): { status: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 30_000 });
  return { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}

describe('fault guard: a region file that shrinks under the mapping', () => {
  it('reads of a truncated region return zeros and flag it broken instead of SIGBUS', () => {
    const p = shmPath('sigbus');
    const r = runModule(`
      import { truncateSync } from 'node:fs';
      const { native } = await import(${NATIVE});
      const region = new native.Region(${JSON.stringify(p)}, { create: true, size: 4 << 20 });
      const bytes = new Uint8Array(region.buffer);
      bytes.fill(7);
      const before = native.guardFaultCount();
      truncateSync(${JSON.stringify(p)}, 0);
      const sum = bytes[100] + bytes[3 << 20];          // JS read through the lent buffer
      const word = region.load32(8192);                 // native atomic
      const copied = region.copyOut(0, 1 << 20, Buffer.alloc(1 << 20), 0, -1, 0);
      const out = Buffer.alloc(2 << 20);
      const async = await region.copyOutAsync(1 << 20, 2 << 20, out, 0, -1, 0); // thread-pool copy
      region.store32(4096, 5);                          // writes land in the private zero pages
      console.log(JSON.stringify({ sum, word, copied, async, zeros: out.every((b) => b === 0), broken: region.broken, faults: native.guardFaultCount() - before }));
      region.close();
    `);
    expect(r.signal).toBeNull();
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout)).toEqual({ sum: 0, word: 0, copied: 1 << 20, async: 2 << 20, zeros: true, broken: true, faults: 1 });
  });

  it('a region that was not touched after the truncation is not flagged, and a healthy one never is', () => {
    const p = shmPath('healthy');
    const region = new native.Region(p, { create: true, size: 1 << 20 });
    try {
      region.store32(0, 1);
      expect(region.broken).toBe(false);
      truncateSync(p, 0);
      expect(region.broken).toBe(false); // nothing read past the end yet
    } finally {
      region.close();
    }
  });

  it('a SIGBUS that is not a fault in our mappings still ends the process as before', () => {
    const p = shmPath('chain');
    const r = runModule(`
      const { native } = await import(${NATIVE});
      const region = new native.Region(${JSON.stringify(p)}, { create: true, size: 65536 });
      process.kill(process.pid, 'SIGBUS');
      setTimeout(() => console.log('survived'), 1000);
    `);
    expect(r.signal).toBe('SIGBUS');
    expect(r.stdout).toBe('');
  });
});

describe('per-environment lifetime (worker threads)', () => {
  it('a worker that opens and closes its own regions and exits leaves the main thread\'s mapping intact', () => {
    const p = shmPath('main');
    const q = shmPath('worker');
    const r = runModule(`
      import { Worker } from 'node:worker_threads';
      const { native } = await import(${NATIVE});
      const region = new native.Region(${JSON.stringify(p)}, { create: true, size: 1 << 20 });
      const bytes = new Uint8Array(region.buffer);
      bytes[1000] = 42;
      const w = new Worker(\`
        const { native } = await import(${NATIVE.replace(/"/g, "'")});
        const mine = new native.Region(${JSON.stringify(q).replace(/"/g, "'")}, { create: true, size: 1 << 20 });
        const watcher = new native.Watcher(mine);
        new Uint8Array(mine.buffer)[0] = 1;
        const left = new native.Region(${JSON.stringify(q).replace(/"/g, "'")}); // left open: its teardown closes it
        watcher.close();
        mine.close();
      \`, { eval: true, type: 'module' });
      await new Promise((resolve, reject) => { w.on('exit', resolve); w.on('error', reject); });
      // The worker's environment teardown ran its cleanup hook: it must not have unmapped ours.
      console.log(JSON.stringify({ value: bytes[1000], word: region.load32(1000 & ~3) & 0xff, closed: region.closed }));
      region.close();
    `);
    expect(r.signal).toBeNull();
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout)).toEqual({ value: 42, word: 42, closed: false });
  });

  it('many workers each relaying their own region at once, then exiting, crash nothing', () => {
    const paths = [0, 1, 2, 3].map((i) => shmPath(`w${i}`));
    const r = runModule(`
      import { Worker } from 'node:worker_threads';
      const { native } = await import(${NATIVE});
      const keep = new native.Region(${JSON.stringify(paths[0])}, { create: true, size: 1 << 20 });
      const view = new Uint32Array(keep.buffer);
      const workers = ${JSON.stringify(paths)}.map((path) => new Worker(\`
        const { workerData } = await import('node:worker_threads');
        const { native } = await import(${NATIVE.replace(/"/g, "'")});
        const r = new native.Region(workerData, { create: true, size: 1 << 20 });
        for (let i = 0; i < 200; i++) await r.copyOutAsync(0, 65536, Buffer.alloc(65536), 0, -1, 0);
        const w = new native.Watcher(r);
        await new Promise((resolve) => { w.wait([0, 12345], 5000, resolve); setTimeout(() => w.close(), 20); });
      \`, { eval: true, type: 'module', workerData: path }));
      await Promise.all(workers.map((w) => new Promise((resolve, reject) => { w.on('exit', resolve); w.on('error', reject); })));
      view[10] = 9;
      console.log(JSON.stringify({ read: view[10], open: !keep.closed }));
    `);
    expect(r.signal).toBeNull();
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout)).toEqual({ read: 9, open: true });
  });
});

describe('Watcher.close() during a wait', () => {
  it('settles the outstanding wait with WATCH_CLOSED', async () => {
    const region = new native.Region(shmPath('wclose'), { create: true, size: 65536 });
    const w = new native.Watcher(region);
    try {
      const result = new Promise<number>((resolve) => w.wait([0, 99], 60_000, (i) => resolve(i)));
      w.close();
      expect(await result).toBe(WATCH_CLOSED);
      expect(w.busy).toBe(false);
      w.close(); // safe twice
    } finally {
      region.close();
    }
  });
});

describe('stored values are checked, not wrapped', () => {
  it('refuses a u32 outside 0..0xffffffff and a u64 that is not a bigint in range, naming the value', () => {
    const region = new native.Region(shmPath('values'), { create: true, size: 65536 });
    try {
      expect(() => region.store32(0, -1)).toThrow(/0\.\.0xffffffff, got -1/);
      expect(() => region.store32(0, 2 ** 32)).toThrow(RangeError);
      expect(() => region.add32(0, 1.5)).toThrow(RangeError);
      expect(() => region.store64(0, -1n)).toThrow(RangeError);
      expect(() => region.store64(0, 1 as unknown as bigint)).toThrow(TypeError);
      region.store32(0, 0xffffffff);
      expect(region.load32(0)).toBe(0xffffffff);
      expect(region.load32(4)).toBe(0); // nothing was written by the refused calls
    } finally {
      region.close();
    }
  });
});
