/**
 * The twelve failures an independent hostile SPICE server found (issue 21), each against a
 * scripted fake server: send waiting forever for a MOTION_ACK, PING and SET_ACK floods, a
 * quadratic clipboard, a GRAB loop, agent flapping, a START/STOP flood, "connected" while a
 * channel is dead, close() with a link in flight, an LED flood, silent audio protocol errors,
 * retrying what never succeeds, and a misleading message. (The real-QEMU side of the ones QEMU
 * can show is in qemu.test.ts.)
 */
import { describe, expect, it } from 'vitest';
import { parseSpiceAddress } from '../../src/spice/address.js';
import { AgentMsg, ClipboardType, VD_AGENT_MAX_DATA_SIZE } from '../../src/spice/agent.js';
import { SpiceClient, type SpiceStatus } from '../../src/spice/client.js';
import type { SpiceError } from '../../src/spice/errors.js';
import { ClipboardBridge, type HostClipboard } from '../../src/viewer/clipboard-bridge.js';
import { AudioOutput } from '../../src/viewer/audio-output.js';
import { MicInput } from '../../src/viewer/mic-input.js';
import type { AudioHost } from '../../src/viewer/audio-device.js';
import { runCli, waitFor } from '../support/helpers.js';
import { closeAfterEach } from './cleanup.js';
import { agentMsg, fakeServer, flood, mainInit, miniMsg, serveSession, type FakeConn, type SessionHooks } from './fake-server.js';
import { generateKeyPairSync } from 'node:crypto';

const track = closeAfterEach();
const SESSION = 0x2121;

async function serve(onConn: Parameters<typeof fakeServer>[0], transport: 'tcp' | 'unix' = 'unix') {
  return track(await fakeServer(onConn, transport));
}

function client(address: string, extra: Partial<ConstructorParameters<typeof SpiceClient>[0]> = {}) {
  return track(new SpiceClient({ address: parseSpiceAddress(address), timeoutMs: 5000, ...extra }));
}

const u32s = (...v: number[]) => {
  const b = Buffer.alloc(4 * v.length);
  v.forEach((x, i) => b.writeUInt32LE(x >>> 0, 4 * i));
  return b;
};

/** The agent stream `msg` as AGENT_DATA (109) messages of at most 2048 bytes, on the wire. */
function agentData(msg: Buffer): Buffer {
  const parts: Buffer[] = [];
  for (let o = 0; o < msg.length; o += VD_AGENT_MAX_DATA_SIZE) parts.push(miniMsg(109, msg.subarray(o, o + VD_AGENT_MAX_DATA_SIZE)));
  return Buffer.concat(parts);
}

/** A server whose sessions have a guest agent with `tokens` server tokens; `main` plays the main channel after set-up. */
function serveAgent(tokens: number, main: (m: FakeConn) => Promise<void>) {
  const init = mainInit(SESSION);
  init.writeUInt32LE(1, 16);
  init.writeUInt32LE(tokens, 20);
  return serve((c) => serveSession(c, SESSION, { init, main }));
}

/** Reads client messages on `c` for as long as the connection lives, calling `on` for each. */
const readAll = (c: FakeConn, on: (m: { type: number; payload: Buffer }) => void) => c.readAll(on);

/** The agent messages inside the AGENT_DATA payloads the client sent (reassembled). */
class AgentStream {
  messages: Array<{ type: number; data: Buffer }> = [];
  tokens = 0;
  private buf = Buffer.alloc(0);
  take(m: { type: number; payload: Buffer }): void {
    if (m.type === 108) this.tokens += m.payload.readUInt32LE(0);
    if (m.type !== 107) return;
    this.buf = Buffer.concat([this.buf, m.payload]);
    while (this.buf.length >= 20 && this.buf.length >= 20 + this.buf.readUInt32LE(16)) {
      const size = this.buf.readUInt32LE(16);
      this.messages.push({ type: this.buf.readUInt32LE(4), data: this.buf.subarray(20, 20 + size) });
      this.buf = this.buf.subarray(20 + size);
    }
  }
  count(type: number): number {
    return this.messages.filter((x) => x.type === type).length;
  }
}

/** A stand-in for SDL's audio module that counts opens (blocking calls on the window's thread). */
function countingHost(): { host: AudioHost; opens: string[] } {
  const opens: string[] = [];
  const host = {
    devices: [],
    openDevice(device: { type: string }, o: { channels: number; frequency: number }) {
      opens.push(`${device.type} ${o.channels}x${o.frequency}`);
      return { closed: false, playing: false, queued: 0, play() {}, enqueue() {}, dequeue: () => 0, close() { this.closed = true; } };
    },
  };
  return { host: host as unknown as AudioHost, opens };
}

function start(channels: number, freq: number, withTime = true): Buffer {
  const b = Buffer.alloc(withTime ? 14 : 10);
  b.writeUInt32LE(channels, 0);
  b.writeUInt16LE(1, 4);
  b.writeUInt32LE(freq, 6);
  return b;
}

describe('1: no wait without a deadline', () => {
  it('send exits with a timeout when the server never acknowledges motion, instead of hanging', async () => {
    const s = await serve((c) => serveSession(c, SESSION, { inputs: (i) => readAll(i, () => {}) }));
    const moves = Array.from({ length: 12 }, () => ['move', '1', '1']).flat();
    const r = await runCli(['send', '--spice', s.address, '--timeout', '1500', '--delay-ms', '0', 'mouse', ...moves], { timeoutMs: 20_000 });
    expect(r.signal, 'send was killed: it hung').toBeNull();
    expect(r.code).toBe(4);
    expect(r.stderr).toMatch(/no MOUSE_MOTION_ACK for 1500 ms.*the rest of the sequence did not reach the VM/);
  }, 30_000);
});

describe('2: floods do not grow memory: the client stops reading while the server does not read', () => {
  for (const [what, make] of [
    ['PING', (i: number) => miniMsg(4, Buffer.concat([u32s(i), Buffer.alloc(8)]))],
    ['SET_ACK (window 1)', (i: number) => miniMsg(3, u32s(i, 1))],
  ] as const) {
    it(`a ${what} flood: the server's writes back up, and every answer comes once it reads again`, async () => {
      let result: { written: number; blocked: boolean } | undefined;
      const answers: Array<{ type: number; payload: Buffer }> = [];
      let reading!: () => void;
      const readDone = new Promise<void>((r) => (reading = r));
      const s = await serve((c) =>
        serveSession(c, SESSION, {
          main: async (m) => {
            let i = 0;
            m.sock.pause(); // the server reads nothing while it floods
            result = await flood(m.sock, () => make(i++), { bytes: 24 * 1024 * 1024, blockedAt: 1024 * 1024 });
            m.sock.resume();
            // Now read: the client must have paused, not dropped or died.
            await readAll(m, (msg) => {
              answers.push(msg);
              if (what === 'PING' ? msg.type === 3 && msg.payload.readUInt32LE(0) >= 1000 : answers.length >= 2000) reading();
            });
          },
        }),
      );
      const c = client(s.address);
      await c.connect();
      await waitFor(() => result !== undefined, 60_000, 'the flood to end');
      expect(result!.blocked, `the client read all ${result!.written} bytes without pause`).toBe(true);
      await readDone;
      expect(c.state.state).toBe('connected');
      if (what === 'PING') {
        const ids = answers.filter((a) => a.type === 3).map((a) => a.payload.readUInt32LE(0));
        expect(ids.slice(0, 1001)).toEqual(Array.from({ length: 1001 }, (_, k) => k)); // every PING answered, in order
      } else {
        expect(answers.slice(0, 4).map((a) => a.type)).toEqual([1, 2, 1, 2]); // ACK_SYNC, then the window's ACK
      }
    }, 90_000);
  }
});

describe('3: clipboard reassembly is linear', () => {
  it('an 8 MiB guest clipboard in 2 KiB pieces arrives within the request deadline, concatenated once', async () => {
    const text = 'x'.repeat(8 * 1024 * 1024 - 10) + 'end ✓';
    const wire = agentData(agentMsg(AgentMsg.CLIPBOARD, Buffer.concat([u32s(ClipboardType.UTF8_TEXT), Buffer.from(text)])));
    const s = await serveAgent(1000, async (m) => {
      const stream = new AgentStream();
      await readAll(m, (msg) => {
        stream.take(msg);
        if (msg.type === 107 && stream.count(AgentMsg.CLIPBOARD_REQUEST) === 1 && stream.messages.at(-1)?.type === AgentMsg.CLIPBOARD_REQUEST) m.sock.write(wire);
      });
    });
    const c = client(s.address, { clipboard: {} });
    await c.connect();
    const concat = Buffer.concat;
    let copied = 0;
    Buffer.concat = ((list: readonly Uint8Array[], total?: number) => {
      const out = concat(list, total);
      copied += out.length;
      return out;
    }) as typeof Buffer.concat;
    try {
      expect(await c.clipboardRequestText(5000)).toBe(text);
    } finally {
      Buffer.concat = concat;
    }
    // Linear: each byte is copied about once on its way in (on the old code: gigabytes).
    expect(copied).toBeLessThan(3 * wire.length);
  }, 30_000);
});

describe('4: a GRAB loop is bounded', () => {
  it('2000 GRABs from a server that gives no tokens: one request waits, and the rest are not queued', async () => {
    const stream = new AgentStream();
    let granted = false;
    const s = await serveAgent(0, async (m) => {
      const grab = agentData(agentMsg(AgentMsg.CLIPBOARD_GRAB, u32s(ClipboardType.UTF8_TEXT)));
      m.sock.write(Buffer.concat(Array.from({ length: 2000 }, () => grab)));
      // The hostile part: tokens only after the burst had time to pile up (the client shows no
      // sign of having read it; the test's result does not depend on how much it had).
      await new Promise((r) => setTimeout(r, 300));
      m.sendMsg(110, u32s(200)); // AGENT_TOKEN: now it may send
      granted = true;
      await readAll(m, (msg) => stream.take(msg));
    });
    const problems: string[] = [];
    const bridge = new ClipboardBridge((p) => problems.push(p));
    const c = client(s.address, { clipboard: bridge.handlers });
    bridge.attachGuest(c);
    await c.connect();
    await waitFor(() => granted && stream.tokens >= 2000, 10_000, 'tokens granted and every AGENT_DATA paid back');
    // A grab of our own goes out on the same channel after any request the burst could still cause.
    c.clipboardGrabText();
    await waitFor(() => stream.count(AgentMsg.CLIPBOARD_GRAB) >= 1, 10_000, 'our own grab (the marker) at the server');
    expect(stream.count(AgentMsg.CLIPBOARD_REQUEST)).toBe(1);
    expect(problems.length).toBeLessThanOrEqual(1); // at most the one request timing out, said once
  }, 30_000);
});

describe('5: agent flapping does not read the host clipboard each time', () => {
  it('300 AGENT_DISCONNECTED / AGENT_CONNECTED_TOKENS pairs: the host clipboard is read once', async () => {
    const s = await serveAgent(10, async (m) => {
      const pair = Buffer.concat([miniMsg(108), miniMsg(115, u32s(10))]);
      m.sock.write(Buffer.concat(Array.from({ length: 300 }, () => pair)));
      await readAll(m, () => {});
    });
    let reads = 0;
    const states: boolean[] = [];
    const host: HostClipboard = {
      get text() {
        reads++;
        return 'host text';
      },
      setText() {},
    };
    const bridge = new ClipboardBridge();
    const c = client(s.address, { clipboard: { ...bridge.handlers, agentState: (up) => (states.push(up), bridge.handlers.agentState!(up)) } });
    bridge.attachGuest(c);
    bridge.attachHost(host);
    await c.connect();
    await waitFor(() => states.length >= 601, 10_000, 'all 300 flaps');
    expect(reads).toBe(1);
  }, 30_000);
});

describe('6: a START/STOP flood does not reopen sound devices on the window thread', () => {
  /**
   * Sends `burst` on the sound channel `type` (5 playback, 6 record) followed by a VOLUME, and
   * resolves once the handlers got that VOLUME: everything before it was handled.
   */
  async function soundBurst(type: 5 | 6, burst: Buffer[], handlers: object): Promise<void> {
    const volume = miniMsg(type === 5 ? 105 : 103, Buffer.from([2, 0, 0, 0, 0]));
    const hook: SessionHooks['playback'] = async (p) => {
      p.sock.write(Buffer.concat([...burst, volume]));
      await readAll(p, () => {});
    };
    const s = await serve((c) => serveSession(c, SESSION, { channels: [1, 3, type], [type === 5 ? 'playback' : 'record']: hook }));
    let volumes = 0;
    const counted = new Proxy(handlers, { get: (t, k) => (k === 'volume' ? () => volumes++ : Reflect.get(t, k)) });
    const c = client(s.address, { audio: type === 5 ? { playback: counted } : { record: counted } });
    await c.connect();
    await waitFor(() => volumes === 1, 10_000, 'the burst to be handled');
  }

  it('playback: 200 STARTs alternating 48 / 44.1 kHz, each followed by STOP, open the device once', async () => {
    const { host, opens } = countingHost();
    const out = new AudioOutput({ problem: () => {} });
    out.attachHost(host);
    await soundBurst(5, Array.from({ length: 200 }, (_, i) => [miniMsg(103, start(2, i % 2 ? 44100 : 48000)), miniMsg(104)]).flat(), out);
    expect(opens).toEqual(['playback 2x48000']);
    out.shutdown();
  });

  it('record: 200 START/STOP pairs open the microphone once', async () => {
    const { host, opens } = countingHost();
    const mic = new MicInput({ problem: () => {}, onLive: () => {} });
    mic.attachHost(host);
    await soundBurst(6, Array.from({ length: 200 }, () => [miniMsg(101, start(2, 48000, false)), miniMsg(102)]).flat(), mic);
    expect(opens).toEqual(['recording 2x48000']);
    mic.close();
  });
});

describe('7: connected is a fact: any channel lost is the session lost', () => {
  it('the inputs channel dies while the playback channel links: the attempt fails, and start() gets a whole session later', async () => {
    let inputs: FakeConn | undefined;
    let playbackLinks = 0;
    const s = await serve((c) =>
      serveSession(c, SESSION, {
        channels: [1, 3, 5],
        onLink: async (_c, link) => {
          if (link.channelType !== 5 || ++playbackLinks > 1) return;
          inputs?.sock.destroy(); // the first session's inputs dies while its playback link waits
          await new Promise((r) => setTimeout(r, 3000)); // the server's part: a link that hangs (the client must not wait for it)
        },
        inputs: (i) => {
          inputs = i;
          return readAll(i, () => {});
        },
      }),
    );
    const states: SpiceStatus[] = [];
    const c = client(s.address, { audio: { playback: {} }, initialDelayMs: 50, onState: (st) => states.push(st) });
    await expect(c.connect()).rejects.toMatchObject({ code: 'ERR_SPICE_CLOSED' });
    expect(states.some((st) => st.state === 'connected')).toBe(false);
    c.start();
    await c.whenConnected(10_000);
    expect(c.inputs).toBeDefined();
  });

  it('the main channel dies while inputs links: the attempt fails', async () => {
    let main: FakeConn | undefined;
    let inputsLinks = 0;
    const s = await serve((c) =>
      serveSession(c, SESSION, {
        onLink: (_c, link) => {
          if (link.channelType === 3 && ++inputsLinks === 1) main?.sock.destroy();
        },
        main: (m) => {
          main = m;
          return readAll(m, () => {});
        },
      }),
    );
    const states: SpiceStatus[] = [];
    const c = client(s.address, { onState: (st) => states.push(st) });
    await expect(c.connect()).rejects.toMatchObject({ code: 'ERR_SPICE_CLOSED' });
    expect(states.some((st) => st.state === 'connected')).toBe(false);
  });

  it('a sound channel the server closes after the session is up: the session is lost and reconnected whole', async () => {
    let playbacks = 0;
    const s = await serve((c) =>
      serveSession(c, SESSION, {
        channels: [1, 3, 5],
        main: (m) => readAll(m, () => {}),
        inputs: (i) => readAll(i, () => {}),
        playback: async (p) => {
          if (++playbacks > 1) return readAll(p, () => {});
          await waitFor(() => states.some((st) => st.state === 'connected'), 10_000, 'the first session up');
          p.sock.destroy();
        },
      }),
    );
    const states: SpiceStatus[] = [];
    const c = client(s.address, { audio: { playback: {} }, lostLinkDelayMs: 50, onState: (st) => states.push(st) });
    c.start();
    await waitFor(() => states.filter((st) => st.state === 'connected').length >= 2, 10_000, 'a second session');
    const lost = states.find((st) => st.state === 'waiting');
    expect(lost?.error?.code).toBe('ERR_SPICE_CLOSED');
    expect(lost?.error?.message).toMatch(/playback/);
  });
});

describe('8: close() aborts a link in flight', () => {
  for (const [stage, script] of [
    ['a server that never answers the link', async (c: FakeConn) => void (await c.readLink())],
    ['a server that links but never sends INIT', async (c: FakeConn) => void (await c.accept())],
  ] as const) {
    it(`${stage}: the socket is gone at once, long before the 10 s link timeout`, async () => {
      let closed = false;
      let linked = false;
      const s = await serve(async (c) => {
        c.sock.on('close', () => (closed = true));
        await script(c);
        linked = true;
      });
      const c = new SpiceClient({ address: parseSpiceAddress(s.address), timeoutMs: 10_000 });
      c.start();
      await waitFor(() => linked, 10_000, 'the link to reach the silent stage');
      await c.close();
      await waitFor(() => closed, 1000, 'the client to drop its socket');
      expect(c.state.state).toBe('closed');
    });
  }
});

describe('9: an LED flood costs one report per interval', () => {
  it('20,000 KEY_MODIFIERS: the guest LEDs end right, reported far fewer times', async () => {
    const s = await serve((c) =>
      serveSession(c, SESSION, {
        inputs: async (i) => {
          const burst = Array.from({ length: 20_000 }, (_, k) => miniMsg(102, Buffer.from([[1, 2, 4, 0][k % 4]!, 0])));
          burst.push(miniMsg(102, Buffer.from([6, 0])));
          i.sock.write(Buffer.concat(burst));
          await readAll(i, () => {});
        },
      }),
    );
    let reports = 0;
    const c = client(s.address, { onState: (st) => st.state === 'connected' && reports++ });
    await c.connect();
    // 6 is the burst's last message: once it is the state, the whole burst was taken.
    await waitFor(() => c.state.leds === 6, 10_000, 'the last LED state');
    expect(reports).toBeLessThan(100);
  });
});

describe('10: audio protocol errors are said, naming the field', () => {
  it.each([
    ['START with 0 channels', miniMsg(103, start(0, 48000)), /START field channels is 0/],
    ['MODE Opus', miniMsg(102, Buffer.from([0, 0, 0, 0, 3, 0])), /MODE field mode is 3 \(Opus\)/],
    ['a short VOLUME', miniMsg(105, Buffer.from([3, 0xff, 0xff])), /VOLUME \(nchannels = 3, volume\[3\]\)/],
    ['a 2-byte DATA', miniMsg(101, Buffer.from([1, 2])), /DATA \(time\)/],
  ])('%s: audio.problem gets ERR_SPICE_PROTOCOL; input goes on', async (_what, msg, pattern) => {
    const s = await serve((c) =>
      serveSession(c, SESSION, {
        channels: [1, 3, 5],
        playback: async (p) => {
          p.sock.write(msg);
          await readAll(p, () => {});
        },
      }),
    );
    const problems: SpiceError[] = [];
    const c = client(s.address, { audio: { playback: {}, problem: (e) => problems.push(e) } });
    await c.connect();
    await waitFor(() => problems.length > 0, 10_000, 'the problem to be said');
    expect(problems[0]!.code).toBe('ERR_SPICE_PROTOCOL');
    expect(problems[0]!.message).toMatch(pattern);
    expect(c.state.state).toBe('connected');
    expect(c.inputs).toBeDefined();
  });
});

/** The retry backoff's ceiling in the one-attempt cases below. */
const MAX_DELAY_MS = 40;

describe('11: retry only where retrying can help', () => {
  const rsa512 = generateKeyPairSync('rsa', { modulusLength: 512 }).publicKey.export({ format: 'der', type: 'spki' }) as Buffer;
  const ec = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).publicKey.export({ format: 'der', type: 'spki' }) as Buffer;
  it.each([
    ['NEED_SECURED', (c: FakeConn) => c.sendLinkReply(5), 'ERR_SPICE_LINK', 5],
    ['an unknown link error (42)', (c: FakeConn) => c.sendLinkReply(42), 'ERR_SPICE_LINK', 42],
    ['VERSION_MISMATCH', (c: FakeConn) => c.sendLinkReply(4), 'ERR_SPICE_LINK', 4],
    ['an RSA-512 key', (c: FakeConn) => c.sendLinkReply(0, { key: rsa512 }), 'ERR_SPICE_PROTOCOL', undefined],
    ['an EC key', (c: FakeConn) => c.sendLinkReply(0, { key: ec }), 'ERR_SPICE_PROTOCOL', undefined],
    ['a key that is not DER', (c: FakeConn) => c.sendLinkReply(0, { key: Buffer.alloc(162, 0x41) }), 'ERR_SPICE_PROTOCOL', undefined],
    ['an unknown auth result (77)', async (c: FakeConn) => (c.sendLinkReply(0), await c.readTicket(), c.sendAuth(77)), 'ERR_SPICE_LINK', 77],
  ] as const)('%s: one attempt, then failed with a clear code', async (_what, reply, code, linkError) => {
    let connections = 0;
    const s = await serve(async (c) => {
      connections++;
      await c.readLink();
      await reply(c);
    });
    const states: SpiceStatus[] = [];
    const c = client(s.address, { initialDelayMs: 20, maxDelayMs: MAX_DELAY_MS, onState: (st) => states.push(st) });
    c.start();
    await waitFor(() => c.state.state === 'failed', 30_000, 'the client to give up');
    // A retry would have come within MAX_DELAY_MS; nothing shows one that does not come, so wait for several.
    await new Promise((r) => setTimeout(r, 4 * MAX_DELAY_MS));
    expect(connections).toBe(1);
    expect(c.state.error?.code).toBe(code);
    expect(c.state.error?.linkError).toBe(linkError);
    expect(c.state.error?.fix).toBeTruthy();
  });

  it('BAD_CONNECTION_ID at the ticket stage is retried (the session changed under us)', async () => {
    let connections = 0;
    const s = await serve(async (c) => {
      connections++;
      await c.readLink();
      c.sendLinkReply(0);
      await c.readTicket();
      c.sendAuth(8);
    });
    const c = client(s.address, { initialDelayMs: 20, maxDelayMs: 40 });
    c.start();
    await waitFor(() => connections >= 3, 5000, 'retries');
    expect(c.state.state).not.toBe('failed');
  });
});

describe('12: a protocol error in the middle of send is named as one', () => {
  it('a KEY_MODIFIERS one byte long after the first key: exit 4 naming the message, not "another client"', async () => {
    const s = await serve((c) =>
      serveSession(c, SESSION, {
        inputs: (i) =>
          readAll(i, (m) => {
            if (m.type === 101) i.sendMsg(102, Buffer.from([1]));
          }),
      }),
    );
    const r = await runCli(['send', '--spice', s.address, '--delay-ms', '50', 'key', 'KeyA', 'KeyB', 'KeyC', 'KeyD'], { timeoutMs: 20_000 });
    expect(r.code).toBe(4);
    expect(r.stderr).toMatch(/KEY_MODIFIERS \(modifiers\) \(type 102\) has 1 bytes, its layout needs 2.*the rest of the sequence did not reach the VM/);
    expect(r.stderr).not.toMatch(/another SPICE client/);
  }, 30_000);
});

describe('found by the SPICE fuzzer (test/fuzz/spice)', () => {
  it('send while the server floods NAME on main: every key is sent and send exits 0 (it exited with status 13, a promise left unsettled, when close() met a paused socket)', async () => {
    const s = await serve((c) =>
      serveSession(c, SESSION, {
        main: async (m) => {
          let i = 0;
          await flood(m.sock, () => miniMsg(113, Buffer.concat([u32s(12), Buffer.from(`vm-${i++ % 100000}`.padEnd(12, '\0'))])), { bytes: 64 * 1024 * 1024, blockedAt: 1024 * 1024, blockedMs: 2000 });
        },
      }),
    );
    for (let run = 0; run < 3; run++) {
      const r = await runCli(['send', '--spice', s.address, '--delay-ms', '50', 'key', 'KeyA', 'KeyB', 'KeyC', 'KeyD'], { timeoutMs: 20_000 });
      expect(r.stderr).toMatch(/^glasspane: sent 4 keys/);
      expect(r.code).toBe(0);
    }
  }, 60_000);
});
