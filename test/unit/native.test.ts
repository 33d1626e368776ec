import { afterAll, describe, expect, it } from 'vitest';
import { readFileSync, writeFileSync, mkdirSync, openSync, closeSync, readSync, writeSync, readdirSync, rmSync, constants } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { native, WATCH_TIMEOUT, WATCH_CANCELLED, WATCH_BELL, BELL_WORDS, BELL_MAIL } from '../../src/native.js';
import { ROOT, removeShm, shmPath } from '../support/helpers.js';

afterAll(removeShm);
const MiB = 1 << 20;

describe('native Region: mapping', () => {
  it('creates a /dev/shm file of the asked size and lends it as an ArrayBuffer shared with other mappings', () => {
    const p = shmPath('map');
    const a = new native.Region(p, { create: true, size: MiB });
    expect(a.byteLength).toBe(MiB);
    expect(a.kind).toBe('file');
    expect(a.buffer.byteLength).toBe(MiB);
    const b = new native.Region(p);
    new Uint8Array(a.buffer)[12345] = 77;
    expect(new Uint8Array(b.buffer)[12345]).toBe(77); // MAP_SHARED: same memory
    expect(readFileSync(p)[12345]).toBe(77);
    a.close();
    b.close();
  });

  it('close() unmaps, detaches the buffer, and is safe twice', () => {
    const r = new native.Region(shmPath('close'), { create: true, size: 65536 });
    const buf = r.buffer;
    r.close();
    r.close();
    expect(r.closed).toBe(true);
    expect(buf.byteLength).toBe(0); // detached: a late read cannot reach unmapped memory
    expect(() => new Uint8Array(buf)).toThrow(/detached/); // a late read throws instead of segfaulting
    expect(() => r.load32(0)).toThrow(/closed/);
    expect(() => r.buffer).toThrow(/closed/);
  });

  it('reports errno failures with code, errno, syscall and path', () => {
    try {
      new native.Region('/dev/shm/glasspane-does-not-exist');
      expect.unreachable();
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      expect(err.code).toBe('ENOENT');
      expect(err.errno).toBe(-2);
      expect(err.syscall).toBe('open');
      expect(err.path).toBe('/dev/shm/glasspane-does-not-exist');
    }
    const dir = shmPath('dir');
    mkdirSync(dir);
    expect(() => new native.Region(dir)).toThrow(expect.objectContaining({ path: dir }));
    const empty = shmPath('empty');
    writeFileSync(empty, '');
    expect(() => new native.Region(empty)).toThrow(expect.objectContaining({ code: 'EINVAL', syscall: 'mmap' }));
    const small = shmPath('small');
    writeFileSync(small, Buffer.alloc(4096));
    expect(() => new native.Region(small, { size: 8192 })).toThrow(/smaller than the 8192 bytes/);
  });
});

describe('native Region: character devices', () => {
  it('maps a character device, asking for the size when the kvmfr size ioctl is not there', () => {
    expect(() => new native.Region('/dev/zero')).toThrow(/not a kvmfr device .* pass the size explicitly/);
    const r = new native.Region('/dev/zero', { size: 8192 });
    expect(r.kind).toBe('device');
    expect(r.byteLength).toBe(8192);
    r.store32(4, 99);
    expect(r.load32(4)).toBe(99);
    r.close();
  });
});

describe('native Region: atomics', () => {
  const r = new native.Region(shmPath('atomics'), { create: true, size: 4096 });
  afterAll(() => r.close());

  it('32-bit load/store/cas/add/and/or/xchg return the previous value', () => {
    r.store32(8, 5);
    expect(r.load32(8)).toBe(5);
    expect(r.cas32(8, 4, 9)).toBe(5); // failed swap returns what was found
    expect(r.load32(8)).toBe(5);
    expect(r.cas32(8, 5, 9)).toBe(5);
    expect(r.load32(8)).toBe(9);
    expect(r.add32(8, 0xffffffff)).toBe(9); // add -1
    expect(r.load32(8)).toBe(8);
    expect(r.and32(8, 0xc)).toBe(8);
    expect(r.or32(8, 3)).toBe(8);
    expect(r.xchg32(8, 0xdeadbeef)).toBe(11);
    expect(r.load32(8)).toBe(0xdeadbeef);
  });

  it('64-bit operations use bigints', () => {
    r.store64(16, 0x1_0000_0002n);
    expect(r.load64(16)).toBe(0x1_0000_0002n);
    expect(r.add64(16, 1n)).toBe(0x1_0000_0002n);
    expect(r.cas64(16, 0x1_0000_0003n, 7n)).toBe(0x1_0000_0003n);
    expect(r.and64(16, 5n)).toBe(7n);
    expect(r.or64(16, 8n)).toBe(5n);
    expect(r.xchg64(16, 0xffff_ffff_ffff_ffffn)).toBe(13n);
    expect(r.load64(16)).toBe(0xffff_ffff_ffff_ffffn);
  });

  it('throws RangeError for offsets outside the region or misaligned, touching nothing', () => {
    expect(() => r.load32(4096)).toThrow(RangeError);
    expect(() => r.load32(4093)).toThrow(RangeError);
    expect(() => r.store64(4092, 1n)).toThrow(RangeError);
    expect(() => r.load32(-4)).toThrow(RangeError);
    expect(() => r.load32(2)).toThrow(/aligned/);
    expect(() => r.load64(12)).toThrow(/aligned/);
    expect(() => r.load32(2 ** 60)).toThrow(RangeError);
    const dest = Buffer.alloc(16);
    expect(() => r.copyOut(4090, 16, dest, 0, -1, 0)).toThrow(RangeError);
    expect(() => r.copyOut(0, 16, dest, 1, -1, 0)).toThrow(/destination/);
    expect(() => r.copyOut(0, 16, dest, 0, 4094, 0)).toThrow(/write pointer/);
    expect(() => r.writeIn(dest, 0, 4088, 16, -1)).toThrow(RangeError);
  });
});

describe('native Region: copies that follow a write pointer', () => {
  const size = 8 * MiB;
  const r = new native.Region(shmPath('copy'), { create: true, size: size + 8192 });
  afterAll(() => r.close());
  const WP = 0;
  const DATA = 4096;

  it('copies while the producer is still writing, with wp advancing every 1 MiB', async () => {
    const src = Buffer.alloc(size);
    for (let i = 0; i < size; i += 4096) src.writeUInt32LE(i ^ 0xabcdef, i);
    r.store32(WP, 0);
    const dest = Buffer.alloc(size);
    // Start the copy first: it must wait for the producer's writes.
    const copying = r.copyOutAsync(DATA, size, dest, 0, WP, 2000);
    await new Promise((res) => setTimeout(res, 20));
    await r.writeInAsync(src, 0, DATA, size, WP, MiB);
    expect(r.load32(WP)).toBe(size);
    expect(await copying).toBe(size);
    expect(dest.equals(src)).toBe(true);
  });

  it('gives up after the timeout when wp stops advancing and reports how far it got', () => {
    r.store32(WP, 3 * MiB);
    const dest = Buffer.alloc(size);
    const t0 = performance.now();
    expect(r.copyOut(DATA, size, dest, 0, WP, 30)).toBe(3 * MiB);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(25);
  });

  it('clamps a wp beyond the length (a hostile producer) to the length', () => {
    r.store32(WP, 0xffffffff);
    const dest = Buffer.alloc(MiB);
    expect(r.copyOut(DATA, MiB, dest, 0, WP, 10)).toBe(MiB);
  });

  it('plain copies (wp -1) match with every copy strategy', () => {
    const src = Buffer.alloc(3 * MiB + 17).fill(0x5c);
    src.writeUInt32LE(0x12345678, 3 * MiB + 13);
    for (const s of ['memcpy', 'auto', ...(native.cpuHasAvx2 ? ['avx2-stream' as const] : [])] as const) {
      native.setCopyStrategy(s);
      r.writeIn(src, 0, DATA + 3, src.length, -1);
      const dest = Buffer.alloc(src.length + 5);
      expect(r.copyOut(DATA + 3, src.length, dest, 5, -1, 0)).toBe(src.length);
      expect(dest.subarray(5).equals(src)).toBe(true);
    }
    native.setCopyStrategy('auto');
    expect(() => native.setCopyStrategy('fast' as never)).toThrow(/auto, memcpy or avx2-stream/);
  });
});

describe('native Watcher', () => {
  const watchPath = shmPath('watch');
  const r = new native.Region(watchPath, { create: true, size: 4096 });
  afterAll(() => r.close());

  it('wakes JS when a watched word changes, without blocking the event loop', async () => {
    const w = new native.Watcher(r, { spinUs: 10, maxSleepUs: 50 });
    r.store32(64, 1);
    r.store32(128, 2);
    let ticks = 0;
    const iv = setInterval(() => ticks++, 1);
    const result = new Promise<[number, number]>((resolve) => w.wait([64, 1, 128, 2], 2000, (i, v) => resolve([i, v])));
    expect(w.busy).toBe(true);
    setTimeout(() => r.store32(128, 42), 250);
    expect(await result).toEqual([1, 42]);
    clearInterval(iv);
    // Timers kept running while the thread waited (a blocked loop would tick once at most; a
    // loaded machine ticks less often than every 1 ms, hence a low bar).
    expect(ticks).toBeGreaterThan(3);
    expect(w.busy).toBe(false);
    w.close();
    w.close();
  });

  it('times out, can be cancelled, and refuses bad offsets', async () => {
    const w = new native.Watcher(r);
    r.store32(0, 7);
    const timedOut = await new Promise<number>((resolve) => w.wait([0, 7], 30, (i) => resolve(i)));
    expect(timedOut).toBe(WATCH_TIMEOUT);
    const p = new Promise<number>((resolve) => w.wait([0, 7], 5000, (i) => resolve(i)));
    expect(() => w.wait([0, 7], 10, () => undefined)).toThrow(/outstanding/);
    w.cancel();
    expect(await p).toBe(WATCH_CANCELLED);
    expect(() => w.wait([4096, 0], 10, () => undefined)).toThrow(RangeError);
    expect(() => w.wait([2, 0], 10, () => undefined)).toThrow(RangeError);
    expect(() => w.wait([0, 0, 4, 0, 8, 0, 12, 0, 16, 0], 10, () => undefined)).toThrow(/1 to 4/);
    w.close();
  });

  it('a cancel that comes before the wait is armed is not lost (async and blocking waits)', async () => {
    const w = new native.Watcher(r);
    r.store32(0, 7);
    w.cancel(); // e.g. the relay closing between two waits
    expect(await new Promise<number>((resolve) => w.wait([0, 7], 2000, (i) => resolve(i)))).toBe(WATCH_CANCELLED);
    w.cancel();
    expect(w.waitSync([0, 7], 2000)[0]).toBe(WATCH_CANCELLED);
    expect(w.waitSync([0, 7], 1)[0]).toBe(WATCH_TIMEOUT); // consumed: the next wait is a wait again
    w.close();
  });

  it('waitSync blocks until the word changes, or until another thread rings its bell', async () => {
    const bell = new Int32Array(new SharedArrayBuffer(BELL_WORDS * 4));
    const w = new native.Watcher(r, { bell });
    r.store32(256, 1);
    const go = new Int32Array(new SharedArrayBuffer(4));
    // A thread that, once told, changes the word and later rings the bell (no event loop needed here meanwhile).
    const other = new Worker(
      `const { workerData: { go, bell, path } } = await import('node:worker_threads');
       const { native } = await import(${JSON.stringify(join(ROOT, 'dist', 'src', 'native.js'))});
       const r = new native.Region(path);
       Atomics.wait(go, 0, 0);
       r.store32(256, 2);
       Atomics.wait(go, 0, 1);
       native.ringBell(bell);
       r.close();`,
      { eval: true, type: 'module', workerData: { go, bell, path: watchPath } } as never,
    );
    await new Promise((resolve) => other.once('online', resolve));
    Atomics.store(go, 0, 1);
    Atomics.notify(go, 0);
    expect(w.waitSync([256, 1], 30_000, Atomics.load(bell, BELL_MAIL))).toEqual([0, 2]);
    const mail = Atomics.load(bell, BELL_MAIL);
    Atomics.store(go, 0, 2);
    Atomics.notify(go, 0);
    expect(w.waitSync([256, 2], 30_000, mail)).toEqual([WATCH_BELL, 0]);
    expect(w.waitSync([256, 2], 30_000, mail)).toEqual([WATCH_BELL, 0]); // not handled yet: at once
    expect(w.waitSync([256, 2], 1, Atomics.load(bell, BELL_MAIL))[0]).toBe(WATCH_TIMEOUT);
    await new Promise((resolve) => other.once('exit', resolve));
    expect(() => new native.Watcher(r, { bell: new Int32Array(4) })).toThrow(/SharedArrayBuffer/);
    w.close();
  }, 60_000);

  it('the polling thread is not real-time unless asked (SCHED_FIFO could starve a small machine)', async () => {
    const before = new Set(readdirSync('/proc/self/task'));
    const w = new native.Watcher(r);
    // The thread has run its set-up once it answered a wait.
    expect(await new Promise<number>((resolve) => w.wait([0, r.load32(0)], 1, resolve))).toBe(WATCH_TIMEOUT);
    const policies = readdirSync('/proc/self/task')
      .filter((t) => !before.has(t))
      .map((t) => Number(readFileSync(`/proc/self/task/${t}/stat`, 'utf8').split(') ')[1]!.split(' ')[38])); // field 41: policy
    expect(policies.length).toBeGreaterThan(0);
    expect(policies.every((p) => p === 0)).toBe(true); // SCHED_OTHER, also as root
    w.close();
  });
});

describe('native FdWatch', () => {
  it('calls back whenever the fd is readable, until closed', async () => {
    const fifo = join(tmpdir(), `glasspane-fdwatch-${process.pid}`);
    expect(spawnSync('mkfifo', [fifo]).status).toBe(0);
    const fd = openSync(fifo, constants.O_RDWR | constants.O_NONBLOCK);
    try {
      let calls = 0;
      const got: string[] = [];
      const buf = Buffer.alloc(64);
      const readable = new Promise<void>((resolve) => {
        const watch = new native.FdWatch(fd, () => {
          calls++;
          got.push(buf.subarray(0, readSync(fd, buf)).toString());
          watch.close();
          resolve();
        });
      });
      writeSync(fd, 'hello');
      await readable;
      expect(got).toEqual(['hello']);
      writeSync(fd, 'more'); // closed: nobody is called
      await new Promise((resolve) => setImmediate(resolve));
      expect(calls).toBe(1);
      expect(() => new native.FdWatch(-1, () => undefined)).toThrow(RangeError);
    } finally {
      closeSync(fd);
      rmSync(fifo, { force: true });
    }
  });
});

describe('native: lifetime', () => {
  it('a process that exits with regions, watchers and copies still open exits cleanly', () => {
    const p = shmPath('exit');
    const script = `
      const { native } = await import(${JSON.stringify(`${ROOT}/dist/src/native.js`)});
      const r = new native.Region(${JSON.stringify(p)}, { create: true, size: 16 << 20 });
      const w = new native.Watcher(r);
      w.wait([0, 0], 60000, () => {});
      w.cancel();
      r.store32(0, 0);
      r.copyOutAsync(4096, 8 << 20, Buffer.alloc(8 << 20), 0, 0, 500).catch(() => {});
      setTimeout(() => { console.log('bye'); process.exit(0); }, 50);
    `;
    const res = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 45_000 });
    expect(res.stderr).toBe('');
    expect(res.stdout.trim()).toBe('bye');
    expect(res.status).toBe(0);
    expect(res.signal).toBeNull();
  });

  it('a region dropped without close() is unmapped when collected', () => {
    const p = shmPath('gc');
    const script = `
      const { native } = await import(${JSON.stringify(`${ROOT}/dist/src/native.js`)});
      const { readFileSync } = await import('node:fs');
      const mapped = () => readFileSync('/proc/self/maps', 'utf8').includes(${JSON.stringify(p)});
      (() => { const r = new native.Region(${JSON.stringify(p)}, { create: true, size: 1 << 20 }); r.store32(0, 1); })();
      const before = mapped();
      for (let i = 0; i < 10 && mapped(); i++) { globalThis.gc(); await new Promise((r) => setTimeout(r, 20)); }
      console.log(JSON.stringify({ before, after: mapped() }));
    `;
    const res = spawnSync(process.execPath, ['--expose-gc', '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 45_000 });
    expect(res.stderr).toBe('');
    expect(JSON.parse(res.stdout)).toEqual({ before: true, after: false });
  });
});

describe('native sdlWindowGrab', () => {
  it('reports "unavailable" (null) in a process without SDL, and checks its arguments', () => {
    // This test process never loads SDL; the viewer's real grab is checked under Xvfb (test/viewer/input.test.ts).
    expect(readFileSync('/proc/self/maps', 'utf8')).not.toContain('libSDL2');
    expect(native.sdlWindowGrab(1, true, true)).toBeNull();
    expect(() => (native.sdlWindowGrab as unknown as (...a: unknown[]) => unknown)('1', true)).toThrow(TypeError);
  });
});
