/**
 * The playback and record channels against scripted fake SPICE servers: what the client offers
 * (raw PCM only), the order and content of what handlers get, torn and early data, hostile
 * START fields, compressed modes, the record side's framing (MODE, START_MARK, DATA chunks of at
 * most 480 frames), and a server without audio (the session still connects, audio is reported
 * missing with the QEMU options to add).
 */
import { describe, expect, it } from 'vitest';
import { parseSpiceAddress } from '../../src/spice/address.js';
import { SpiceClient } from '../../src/spice/client.js';
import type { SpiceError } from '../../src/spice/errors.js';
import type { AudioHandlers } from '../../src/spice/audio-channels.js';
import type { RecordChannel } from '../../src/spice/record-channel.js';
import { clockDeltaMs } from '../../src/spice/playback-channel.js';
import { closeAfterEach } from './cleanup.js';
import { channelsList, fakeServer, mainInit, type FakeConn } from './fake-server.js';

const track = closeAfterEach();
const SESSION = 0x0a0d;

/** A session with main, inputs and whatever `audio` does on the playback (5) / record (6) links. */
async function session(c: FakeConn, channels: number[], audio: Partial<Record<5 | 6, (c: FakeConn) => Promise<void>>> = {}) {
  const link = await c.accept('');
  if (link.channelType === 1) {
    c.sendMsg(103, mainInit(SESSION));
    await c.readMsg(); // ATTACH_CHANNELS
    c.sendMsg(104, channelsList(channels));
  } else if (link.channelType === 3) {
    c.sendMsg(101, Buffer.from([0, 0]));
  } else if (link.channelType === 5 || link.channelType === 6) {
    expect(link.connectionId).toBe(SESSION);
    // Raw PCM only: playback offers VOLUME (1) and LATENCY (2), record VOLUME (1); never CELT or OPUS.
    expect(link.channelCaps).toEqual([link.channelType === 5 ? 0b110 : 0b10]);
    await audio[link.channelType]?.(c);
  }
}

function start(channels: number, freq: number, fmt = 1, withTime = true): Buffer {
  const b = Buffer.alloc(withTime ? 14 : 10);
  b.writeUInt32LE(channels, 0);
  b.writeUInt16LE(fmt, 4);
  b.writeUInt32LE(freq, 6);
  if (withTime) b.writeUInt32LE(1234, 10);
  return b;
}

function data(time: number, frames: number[][], extra = 0): Buffer {
  const b = Buffer.alloc(4 + frames.length * 4 + extra);
  b.writeUInt32LE(time, 0);
  frames.forEach(([l, r], i) => {
    b.writeInt16LE(l!, 4 + 4 * i);
    b.writeInt16LE(r!, 6 + 4 * i);
  });
  return b;
}

function connect(address: string, audio: AudioHandlers): SpiceClient {
  const c = track(new SpiceClient({ address: parseSpiceAddress(address), timeoutMs: 5000, audio }));
  return c;
}

describe('playback channel', () => {
  it('hands over volume, mute, start, whole frames and stop in wire order; data outside START..STOP is dropped', async () => {
    const srv = track(
      await fakeServer((c) =>
        session(c, [1, 3, 5], {
          5: async (p) => {
            p.sendMsg(101, data(1, [[9, 9]])); // before START: dropped
            const mode = Buffer.alloc(6);
            mode.writeUInt16LE(1, 4); // RAW
            p.sendMsg(102, mode);
            p.sendMsg(105, Buffer.from([2, 0xff, 0xff, 0x00, 0x80])); // volume 65535, 32768
            p.sendMsg(106, Buffer.from([1])); // mute
            p.sendMsg(103, start(2, 48000));
            p.sendMsg(101, data(777, [[1, -1], [2, -2]], 3)); // a torn tail of 3 bytes
            p.sendMsg(107, Buffer.from([40, 0, 0, 0]));
            p.sendMsg(104);
            p.sendMsg(101, data(778, [[5, 5]])); // after STOP: dropped
            p.sendMsg(106, Buffer.from([0])); // unmute: the marker that the late DATA was handled before it
          },
        }),
      ),
    );
    const events: unknown[] = [];
    let done!: () => void;
    const finished = new Promise<void>((r) => (done = r));
    const c = connect(srv.address, {
      playback: {
        start: (f) => events.push(['start', f]),
        data: (pcm, t) => events.push(['data', t, [...new Int16Array(pcm.buffer.slice(pcm.byteOffset, pcm.byteOffset + pcm.length))]]),
        volume: (l) => events.push(['volume', l]),
        mute: (m) => {
          events.push(['mute', m]);
          if (!m) done();
        },
        latency: (ms) => events.push(['latency', ms]),
        stop: () => events.push(['stop']),
      },
    });
    await c.connect();
    await finished; // the unmute after the late DATA: that DATA has been handled (dropped) by now
    expect(events).toEqual([
      ['volume', [65535, 32768]],
      ['mute', true],
      ['start', { channels: 2, frequency: 48000 }],
      ['data', 777, [1, -1, 2, -2]],
      ['latency', 40],
      ['stop'],
      ['mute', false],
    ]);
  });

  it('a hostile START (0 channels, 1 MHz, format 2), a compressed MODE or a short VOLUME ends only the playback channel, with the reason', async () => {
    for (const [what, msg] of [
      ['0 channels', () => [103, start(0, 48000)]],
      ['1000000 Hz', () => [103, start(2, 1_000_000)]],
      ['format 2', () => [103, start(2, 48000, 2)]],
      ['mode 3', () => [102, Buffer.from([0, 0, 0, 0, 3, 0])]],
      ['105 (VOLUME for 3 channels in 3 bytes)', () => [105, Buffer.from([3, 0xff, 0xff])]],
    ] as const) {
      const srv = track(await fakeServer((c) => session(c, [1, 3, 5], { 5: async (p) => p.sendMsg(...(msg() as [number, Buffer])) })));
      let closed!: (e?: SpiceError) => void;
      const ended = new Promise<SpiceError | undefined>((r) => (closed = r));
      const c = connect(srv.address, { playback: { close: (e) => closed(e) } });
      await c.connect();
      const err = await ended;
      expect(err?.code, what).toBe('ERR_SPICE_PROTOCOL');
      expect(err?.message, what).toContain(what.split(' ')[0]!);
      expect(c.state.state, what).toBe('connected');
      expect(c.inputs, what).toBeDefined();
    }
  });
});

describe('record channel', () => {
  it('after START the first write sends MODE (raw) and START_MARK, then DATA in chunks of at most 480 frames; after STOP writes go nowhere', async () => {
    const got: Array<{ type: number; payload: Buffer }> = [];
    let serverDone!: () => void;
    const allRead = new Promise<void>((r) => (serverDone = r));
    const srv = track(
      await fakeServer((c) =>
        session(c, [1, 3, 6], {
          6: async (rc) => {
            rc.sendMsg(101, start(2, 48000, 1, false));
            for (let i = 0; i < 5; i++) got.push(await rc.readMsg());
            rc.sendMsg(102); // STOP
            serverDone();
          },
        }),
      ),
    );
    let channel: RecordChannel | undefined;
    let stopped!: () => void;
    const stop = new Promise<void>((r) => (stopped = r));
    const pcm = Buffer.alloc(1000 * 4 + 2); // 1000 frames and a torn half frame
    for (let i = 0; i < 1000; i++) pcm.writeInt16LE(i, 4 * i);
    const c = connect(srv.address, {
      record: {
        start: (f, ch) => {
          expect(f).toEqual({ channels: 2, frequency: 48000 });
          channel = ch;
          ch.write(pcm);
        },
        stop: () => stopped(),
      },
    });
    await c.connect();
    await allRead;
    await stop;
    expect(got.map((m) => m.type)).toEqual([102, 103, 101, 101, 101]);
    expect(got[0]!.payload.readUInt16LE(4)).toBe(1); // RAW
    const now = Number((process.hrtime.bigint() / 1_000_000n) & 0xffffffffn);
    expect(clockDeltaMs(now, got[1]!.payload.readUInt32LE(0))).not.toBeNull(); // stamped with our monotonic clock
    const chunks = got.slice(2).map((m) => m.payload.subarray(4));
    expect(chunks.map((b) => b.length / 4)).toEqual([480, 480, 40]);
    expect(Buffer.concat(chunks)).toEqual(pcm.subarray(0, 4000));
    const before = channel!.framesSent;
    channel!.write(pcm);
    expect(channel!.framesSent).toBe(before);
  });
});

describe('a server without audio', () => {
  it('connects anyway and reports the missing channels with the QEMU options to add', async () => {
    const srv = track(await fakeServer((c) => session(c, [1, 3])));
    const problems: SpiceError[] = [];
    const c = connect(srv.address, { playback: {}, record: {}, problem: (e) => problems.push(e) });
    await c.connect();
    expect(c.state.state).toBe('connected');
    expect(problems.map((p) => p.code)).toEqual(['ERR_SPICE_NO_AUDIO']);
    expect(problems[0]!.message).toContain('playback or record');
    expect(problems[0]!.fix).toContain('-audiodev spice');
  });
});
