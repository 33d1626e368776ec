/**
 * The audio parts with in-memory stand-ins (the real SDL device, QEMU and guest are in
 * test/viewer/guest-av.test.ts): the jitter buffer against a simulated sound card that runs
 * fast or slow and a producer that stalls, the output's device handling, volume and mute, the
 * microphone's lifetime, and device names checked up front.
 */
import { describe, expect, it } from 'vitest';
import { JitterBuffer } from '../../src/viewer/jitter-buffer.js';
import { AudioOutput } from '../../src/viewer/audio-output.js';
import { MicInput } from '../../src/viewer/mic-input.js';
import { AudioBridge } from '../../src/viewer/audio-bridge.js';
import { applyGain, findAudioDevice, gainsFor, type AudioHost } from '../../src/viewer/audio-device.js';
import { clockDeltaMs, monotonicMs } from '../../src/spice/playback-channel.js';
import type { RecordChannel } from '../../src/spice/record-channel.js';
import { GlasspaneError } from '../../src/errors.js';
import { analyseTone, sineS16 } from '../support/tone.js';
import { waitFor } from '../support/helpers.js';

const RATE = 48000;
const PACKET = 480;

describe('JitterBuffer', () => {
  it('primes the queue with silence up to the margin, and refills it after an underrun with a larger margin', () => {
    const j = new JitterBuffer({ rate: RATE, channels: 2, minMarginMs: 20, stepMs: 10 });
    const pcm = Buffer.alloc(PACKET * 4);
    const first = j.plan(pcm, 0, 0);
    expect(first).toMatchObject({ silenceFrames: 960, underrun: false, aheadFrames: 960 });
    expect(j.plan(pcm, 900, 10)).toMatchObject({ silenceFrames: 0, underrun: false });
    const dry = j.plan(pcm, 0, 20);
    expect(dry).toMatchObject({ underrun: true, silenceFrames: 1440 });
    expect(j.underruns).toBe(1);
    expect(j.margin).toBe(30);
    j.reset(); // the guest stopped: a new stream primes, it is not an underrun
    expect(j.plan(pcm, 0, 30).underrun).toBe(false);
    expect(j.underruns).toBe(1);
  });

  it('drops a packet whole when the queue is already far over the margin (a burst after a stall)', () => {
    const j = new JitterBuffer({ rate: RATE, channels: 2, minMarginMs: 20, ceilingMs: 40 });
    const pcm = Buffer.alloc(PACKET * 4, 1);
    j.plan(pcm, 0, 0);
    const stale = j.plan(pcm, 960 + 1920 + 1, 10);
    expect(stale.pcm.length).toBe(0);
    expect(j.droppedFrames).toBe(PACKET);
    expect(j.plan(pcm, 960 + 1920, 20).pcm.length).toBe(pcm.length);
  });

  /**
   * A simulated sound card pulling 512 frames at a time at `deviceRate` from the queue while the
   * producer delivers 480-frame packets of a 440 Hz tone every 10 ms, with an optional stall.
   */
  function simulate(deviceRate: number, seconds: number, stall?: { atMs: number; forMs: number }) {
    const j = new JitterBuffer({ rate: RATE, channels: 2 });
    const tone = sineS16(440, seconds);
    let queued = 0;
    let pulled = 0; // frames the card has taken
    const played: Buffer[] = [];
    const queue: Buffer[] = [];
    const arrivals: number[] = [];
    const depths: number[] = [];
    let next = 0; // next packet index
    for (let t = 0; t <= seconds * 1000; t++) {
      // The card: pulls whole 512-frame buffers as its clock allows (silence when the queue is dry).
      while ((t / 1000) * deviceRate >= pulled + 512) {
        let need = 512 * 4;
        while (need > 0 && queue.length) {
          const head = queue[0]!;
          const take = Math.min(need, head.length);
          played.push(head.subarray(0, take));
          queue[0] = head.subarray(take);
          if (!queue[0].length) queue.shift();
          need -= take;
        }
        queued = Math.max(0, queued - 512);
        pulled += 512;
      }
      const stalled = stall && t >= stall.atMs && t < stall.atMs + stall.forMs;
      // The producer: one packet per 10 ms of its own clock; during a stall they pile up.
      while (!stalled && next * 10 <= t && (next + 1) * PACKET * 4 <= tone.length) {
        arrivals.push(t);
        const plan = j.plan(tone.subarray(next * PACKET * 4, (next + 1) * PACKET * 4), queued, t);
        depths.push(plan.aheadFrames);
        if (plan.silenceFrames) queue.push(Buffer.alloc(plan.silenceFrames * 4));
        queue.push(plan.pcm);
        queued += plan.silenceFrames + plan.pcm.length / 4;
        next++;
      }
    }
    const steady = depths.slice(Math.floor(depths.length / 2));
    return { j, played: Buffer.concat(played), maxSteadyMs: (Math.max(...steady) * 1000) / RATE };
  }

  for (const [what, rate] of [
    ['4 % fast', RATE * 1.04],
    ['4 % slow', RATE * 0.96],
    ['exact', RATE],
  ] as const) {
    it(`keeps the latency bounded and the tone's pitch with a sound card ${what}`, () => {
      const { j, played, maxSteadyMs } = simulate(rate, 30);
      expect(maxSteadyMs).toBeLessThan(j.margin + 40 + 10);
      expect(j.underruns).toBeLessThanOrEqual(2);
      expect(Math.abs(analyseTone(played, 2, RATE).hz - 440)).toBeLessThan(440 * 0.005);
    });
  }

  it('recovers from a 150 ms stall: one underrun, the backlog dropped, the latency back near the margin', () => {
    const { j, maxSteadyMs } = simulate(RATE, 30, { atMs: 5000, forMs: 150 });
    expect(j.underruns).toBe(1);
    expect(j.droppedFrames).toBeGreaterThan(0);
    expect(maxSteadyMs).toBeLessThan(j.margin + 40 + 10);
  });
});

/** A stand-in for @kmamal/sdl's audio module, recording what is done to its devices. */
function fakeHost(opts: { fail?: boolean; capture?: Buffer } = {}) {
  const log: string[] = [];
  const queuedChunks: Buffer[] = [];
  let capture = opts.capture ?? Buffer.alloc(0);
  const host = {
    devices: [
      { type: 'playback', name: 'Speakers' },
      { type: 'recording', name: 'Mic' },
    ],
    openDevice(device: { type: string; name?: string }, o: object) {
      if (opts.fail) throw new Error('SDL_OpenAudioDevice() error: no such device');
      log.push(`open ${device.type} ${device.name ?? 'default'} ${JSON.stringify(o)}`);
      return {
        closed: false,
        playing: false,
        get queued() {
          return device.type === 'recording' ? capture.length : queuedChunks.reduce((s, b) => s + b.length, 0);
        },
        play(on = true) {
          this.playing = on;
          log.push(`play ${on}`);
        },
        enqueue(b: Buffer) {
          queuedChunks.push(Buffer.from(b));
        },
        dequeue(b: Buffer, n = b.length) {
          const k = Math.min(n, capture.length);
          capture.copy(b, 0, 0, k);
          capture = capture.subarray(k);
          return k;
        },
        close() {
          this.closed = true;
          log.push(`close ${device.type}`);
        },
      };
    },
  };
  return { host: host as unknown as AudioHost, log, queuedChunks };
}

const stereo = (pairs: Array<[number, number]>) => {
  const b = Buffer.alloc(pairs.length * 4);
  pairs.forEach(([l, r], i) => {
    b.writeInt16LE(l, 4 * i);
    b.writeInt16LE(r, 4 * i + 2);
  });
  return b;
};

describe('AudioOutput', () => {
  it('opens the device on START at the stream\'s format, primes, plays, and applies the guest\'s volume and mute', () => {
    const { host, log, queuedChunks } = fakeHost();
    const problems: string[] = [];
    const out = new AudioOutput({ problem: (m) => problems.push(m) });
    out.attachHost(host);
    out.volume([32768, 65535]);
    out.start({ channels: 2, frequency: 48000 });
    expect(log).toEqual(['open playback default {"channels":2,"frequency":48000,"format":"s16","buffered":512}']);
    out.data(stereo([[1000, 1000], [-2000, -2000]]), monotonicMs() - 5);
    expect(log).toContain('play true');
    expect(queuedChunks[0]!.equals(Buffer.alloc(960 * 4))).toBe(true); // 20 ms of priming silence
    expect([...new Int16Array(new Uint8Array(queuedChunks[1]!).buffer)]).toEqual([500, 1000, -1000, -2000]);
    out.mute(true);
    out.data(stereo([[1000, 1000]]), monotonicMs() - 5);
    expect([...new Int16Array(new Uint8Array(queuedChunks.at(-1)!).buffer)]).toEqual([0, 0]);
    const f = out.figures();
    expect(f).toMatchObject({ state: 'playing', rate: 48000, packets: 2, underruns: 0 });
    expect(f.transportMs.p50).toBeGreaterThanOrEqual(5);
    expect(f.latencyMs.p50).toBeGreaterThanOrEqual(f.transportMs.p50! + 20);
    out.stop();
    expect(out.figures().state).toBe('idle');
    out.shutdown();
    out.shutdown();
    expect(log.filter((l) => l.startsWith('close'))).toEqual(['close playback']);
    expect(problems).toEqual([]);
  });

  it('says once why it cannot play (no device), and drops the stream instead of throwing', () => {
    const { host } = fakeHost({ fail: true });
    const problems: string[] = [];
    const out = new AudioOutput({ problem: (m) => problems.push(m) });
    out.attachHost(host);
    out.start({ channels: 2, frequency: 48000 });
    out.data(stereo([[1, 1]]), 0);
    out.start({ channels: 2, frequency: 48000 });
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^audio: cannot open the sound device: .*no such device.*--no-audio/);
    expect(out.figures().state).toBe('off');
  });

  it('refuses an unknown device name up front, listing the ones SDL has', () => {
    const { host } = fakeHost();
    const out = new AudioOutput({ deviceName: 'Headphones', problem: () => {} });
    let err: unknown;
    try {
      out.attachHost(host);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(GlasspaneError);
    expect((err as GlasspaneError).code).toBe('ERR_AUDIO_DEVICE');
    expect((err as GlasspaneError).message).toBe('no playback sound device named "Headphones"');
    expect((err as GlasspaneError).fix).toContain('"Speakers"');
    expect(findAudioDevice(host, 'recording', 'Mic')).toEqual({ type: 'recording', name: 'Mic' });
  });
});

describe('MicInput and the OSD line', () => {
  it('captures only between START and STOP, sends whole frames scaled by the guest volume, and says when it is live', async () => {
    const { host, log } = fakeHost({ capture: stereo([[100, 100], [200, 200], [300, 300]]) });
    const sent: Buffer[] = [];
    const live: boolean[] = [];
    const channel = { isClosed: false, write: (b: Buffer) => sent.push(Buffer.from(b)) } as unknown as RecordChannel;
    const bridge = new AudioBridge({ microphone: true, problem: () => {} });
    const mic = bridge.mic!;
    expect(mic).toBeInstanceOf(MicInput);
    bridge.attachHost(host, () => live.push(mic.figures().state === 'live'));
    expect(bridge.osdLine()).toBe('audio idle');
    mic.volume([65535, 32768]);
    mic.start({ channels: 2, frequency: 48000 }, channel);
    expect(bridge.osdLine()).toBe('audio idle · MIC LIVE');
    await waitFor(() => Buffer.concat(sent).length >= 3 * 4, 5000, 'the three captured frames to be sent');
    expect(Buffer.concat(sent)).toEqual(stereo([[100, 50], [200, 100], [300, 150]]));
    mic.stop();
    // Closed when the device has been open DEVICE_OPEN_INTERVAL_MS (a START/STOP flood opens and closes it once a second at most).
    await waitFor(() => log.includes('close recording'), 5000, 'the microphone to close');
    expect(log).toEqual(['open recording default {"channels":2,"frequency":48000,"format":"s16","buffered":512}', 'play true', 'close recording']);
    expect(live).toEqual([true, false]);
    expect(mic.figures()).toEqual({ state: 'idle', framesSent: 3 });
    bridge.close();
  });
});

describe('audio helpers', () => {
  it('gains follow SPICE levels per channel (linear), mute silences, and the mm-time comparison survives the u32 wrap', () => {
    expect(gainsFor([65535, 0], false, 2)).toEqual([1, 0]);
    expect(gainsFor([], false, 2)).toEqual([1, 1]);
    expect(gainsFor([65535], true, 2)).toEqual([0, 0]);
    const b = stereo([[-32768, 32767]]);
    applyGain(b, [0.5, 0.5]);
    expect([b.readInt16LE(0), b.readInt16LE(2)]).toEqual([-16384, 16384]);
    expect(clockDeltaMs(5, 0xffff_fff0)).toBe(21);
    expect(clockDeltaMs(1000, 1000 + 60_000)).toBeNull(); // a remote server's clock
  });
});
