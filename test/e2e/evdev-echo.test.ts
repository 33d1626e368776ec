/**
 * The input-echo scene without a VM: input_event parsing, the echo state, markers and their
 * checksum, the verifier (a whole frame re-rendered from the markers), and the producer reading a
 * FIFO that stands in for /dev/input/eventN while a real FrameRelay reads the frames.
 */
import { closeSync, mkdtempSync, openSync, rmSync, writeSync, constants as fsc } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { EV_KEY, EV_REL, EV_SYN, EvdevReader, INPUT_EVENT_SIZE, REL_X, REL_Y, parseInputEvents, listEventDevices } from '../../guest-stub/evdev-reader.js';
import { ECHO_TEXELS, EchoVerifier, M, MIN_ECHO_HEIGHT, MIN_ECHO_WIDTH, applyEvents, drawEcho, initialEchoState, isHeld, readEchoMarkers } from '../../guest-stub/evdev-echo.js';
import { BarsScene, stampTimestamp } from '../../src/scenes/bars.js';
import { FrameType } from '../../src/kvmfr/layout.js';
import { StubProducer } from '../../guest-stub/producer.js';
import { FrameRelay } from '../../src/relay/frame-relay.js';
import { coded } from '../support/errors.js';
import { removeShm, shmPath } from '../support/helpers.js';

const dirs: string[] = [];
afterAll(() => {
  dirs.forEach((d) => rmSync(d, { recursive: true, force: true }));
  removeShm();
});

function ev(sec: number, usec: number, type: number, code: number, value: number): Buffer {
  const b = Buffer.alloc(INPUT_EVENT_SIZE);
  b.writeBigInt64LE(BigInt(sec), 0);
  b.writeBigInt64LE(BigInt(usec), 8);
  b.writeUInt16LE(type, 16);
  b.writeUInt16LE(code, 18);
  b.writeInt32LE(value, 20);
  return b;
}

const W = 320;
const H = 200;

function frame(state = initialEchoState(W, H), serial = 7, type: number = FrameType.BGRA): Buffer {
  const out = Buffer.alloc(W * 4 * H);
  new BarsScene(W, H, type).render(out, W * 4, H, serial);
  drawEcho(out, W * 4, H, W, type, state);
  stampTimestamp(out, 123456789n);
  return out;
}

describe('input_event parsing and echo state', () => {
  it('parses 24-byte events (timeval, type, code, value) and leaves a partial tail', () => {
    const buf = Buffer.concat([ev(1700000000, 250001, EV_KEY, 30, 1), ev(1700000000, 250002, EV_REL, REL_X, -3), Buffer.alloc(5)]);
    expect(parseInputEvents(buf)).toEqual([
      { timeUs: 1700000000250001n, type: EV_KEY, code: 30, value: 1 },
      { timeUs: 1700000000250002n, type: EV_REL, code: REL_X, value: -3 },
    ]);
  });

  it('counts presses and releases (not repeats), tracks held keys and the clamped pointer', () => {
    const s = initialEchoState(W, H);
    const events = parseInputEvents(Buffer.concat([ev(5, 1, EV_KEY, 30, 1), ev(5, 1, EV_SYN, 0, 0), ev(5, 2, EV_KEY, 30, 2), ev(5, 3, EV_KEY, 272, 1), ev(5, 4, EV_REL, REL_X, 1000), ev(5, 4, EV_REL, REL_Y, -7)]));
    expect(applyEvents(s, events, 99n, W, H)).toBe(true);
    expect(s).toMatchObject({ keyEvents: 2, repeats: 1, lastCode: 272, lastValue: 1, lastTimeUs: 5_000_003n, lastReadUs: 99n, relEvents: 2, x: W - 1, y: H / 2 - 7, events: 5 });
    expect(isHeld(s, 30) && isHeld(s, 272)).toBe(true);
    applyEvents(s, parseInputEvents(ev(6, 0, EV_KEY, 30, 0)), 100n, W, H);
    expect(isHeld(s, 30)).toBe(false);
    expect(s.keyEvents).toBe(3);
  });
});

describe('echo markers and verifier', () => {
  it('a rendered frame verifies and its markers give back the state', () => {
    const s = initialEchoState(W, H);
    applyEvents(s, parseInputEvents(Buffer.concat([ev(12, 345678, EV_KEY, 57, 1), ev(12, 345700, EV_REL, REL_Y, 5)])), 12_400_000n, W, H);
    for (const type of [FrameType.BGRA, FrameType.RGBA]) {
      const f = frame(s, 9, type);
      const r = new EchoVerifier().verify(f, W, H, H, W * 4, type, 9);
      expect(r.error).toBeNull();
      expect(r.postedNs).toBe(123456789n);
      expect(r.state).toMatchObject({ keyEvents: 1, lastCode: 57, lastValue: 1, lastTimeUs: 12_345_678n, lastReadUs: 12_400_000n, x: W / 2, y: H / 2 + 5 });
      expect(isHeld(r.state!, 57)).toBe(true);
    }
  });

  it('catches a changed marker (checksum), a changed pixel, a wrong serial, another scene', () => {
    const v = new EchoVerifier();
    const check = (f: Buffer, serial = 7) => v.verify(f, W, H, H, W * 4, FrameType.BGRA, serial).error;
    const marker = frame();
    marker.writeUInt32LE(5, M.keyEvents * 4);
    expect(check(marker)).toMatch(/checksum/);
    const pixel = frame();
    pixel[(50 * W + 20) * 4] ^= 1; // inside the panel
    expect(check(pixel)).toBe('row 50 differs from bars + echo for serial 7');
    const cross = frame();
    cross[((H / 2) * W + W / 2 + 3) * 4 + 1] ^= 0x80; // on the crosshair
    expect(check(cross)).toMatch(/^row 100 differs/);
    expect(check(frame(), 8)).toMatch(/serial 7 but the frame header says 8/);
    const bars = Buffer.alloc(W * 4 * H);
    new BarsScene(W, H, FrameType.BGRA).render(bars, W * 4, H, 7);
    expect(check(bars)).toMatch(/not the echo marker/);
    expect(v.verify(frame(), MIN_ECHO_WIDTH - 1, H, H, W * 4, FrameType.BGRA, 7).error).toMatch(/smaller than any input-echo frame/);
  });

  it('the markers fit in row 0 of the smallest frame', () => {
    expect(MIN_ECHO_WIDTH).toBeGreaterThanOrEqual(ECHO_TEXELS);
    expect(readEchoMarkers(Buffer.alloc(8))).toMatch(/too short/);
    expect(MIN_ECHO_HEIGHT).toBeLessThan(H);
  });
});

describe('EvdevReader', () => {
  it('drains what is queued without blocking, keeps partial events for the next read', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'glasspane-evdev-'));
    dirs.push(dir);
    const fifo = path.join(dir, 'event0');
    execFileSync('mkfifo', [fifo]);
    const keep = openSync(fifo, fsc.O_RDWR | fsc.O_NONBLOCK); // a writer that stays, so reads say EAGAIN, not EOF
    const r = new EvdevReader([fifo]);
    try {
      expect(r.poll()).toEqual([]);
      const two = Buffer.concat([ev(1, 2, EV_KEY, 30, 1), ev(1, 3, EV_KEY, 30, 0)]);
      writeSync(keep, two.subarray(0, 30));
      expect(r.poll().map((e) => e.value)).toEqual([1]);
      writeSync(keep, two.subarray(30));
      expect(r.poll()).toEqual([{ timeUs: 1_000_003n, type: EV_KEY, code: 30, value: 0 }]);
    } finally {
      r.close();
      r.close();
      closeSync(keep);
    }
  });

  it('names the device it cannot open, and an empty /dev/input', () => {
    expect(() => new EvdevReader(['/nonexistent/event9'])).toThrow(coded('ERR_EVDEV', /cannot open \/nonexistent\/event9/));
    const dir = mkdtempSync(path.join(tmpdir(), 'glasspane-evdev-'));
    dirs.push(dir);
    expect(listEventDevices(dir)).toEqual([]);
    expect(() => new EvdevReader(listEventDevices(dir))).toThrow(coded('ERR_EVDEV', /no input event devices/));
  });
});

describe('StubProducer with the input-echo scene', () => {
  it('echoes events from its device into frames that a FrameRelay reads and verifies', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'glasspane-evdev-'));
    dirs.push(dir);
    const fifo = path.join(dir, 'event0');
    execFileSync('mkfifo', [fifo]);
    const keep = openSync(fifo, fsc.O_RDWR | fsc.O_NONBLOCK);
    const shm = shmPath('echo');
    const stub = new StubProducer({ shmPath: shm, sizeMiB: 4, width: W, height: H, fps: 60, scene: 'input-echo', format: 'bgra', evdevPaths: [fifo] });
    const relay = new FrameRelay({ path: shm });
    const v = new EchoVerifier();
    const failures: string[] = [];
    let lastCode = -1;
    let frames = 0;
    const echoed = new Promise<void>((resolve) => {
      relay.on('frame', (f) => {
        frames++;
        const r = v.verify(f.data, f.info.frameWidth, f.info.frameHeight, f.info.dataHeight, f.info.pitch, f.info.type, f.info.frameSerial);
        f.release();
        if (r.error) failures.push(r.error);
        else if (r.state!.keyEvents === 1 && r.state!.lastCode === 44 && r.state!.x === W / 2 + 4) {
          lastCode = r.state!.lastCode;
          resolve();
        }
      });
    });
    try {
      void stub.run();
      void relay.start();
      await new Promise<void>((resolve) => relay.once('frame', () => resolve()));
      writeSync(keep, Buffer.concat([ev(3, 0, EV_KEY, 44, 1), ev(3, 0, EV_REL, REL_X, 4), ev(3, 0, EV_SYN, 0, 0)]));
      await echoed;
    } finally {
      await relay.close();
      await stub.stop();
      closeSync(keep);
    }
    expect(failures).toEqual([]);
    expect(lastCode).toBe(44);
    expect(frames).toBeGreaterThan(1);
  }, 120_000);

  it('refuses a frame too small for the panel', () => {
    expect(() => new StubProducer({ shmPath: shmPath('small'), sizeMiB: 4, width: 64, height: 64, fps: 60, scene: 'input-echo', format: 'bgra', evdevPaths: ['/dev/null'] })).toThrow(coded('ERR_USAGE', /input-echo scene needs a frame of at least/));
  });
});
