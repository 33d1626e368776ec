/**
 * Error branches and flow control against scripted fake SPICE servers (TCP port 0 and unix
 * sockets): bad magic, every link error code, wrong password, truncated messages, disconnects
 * in the middle of a message, PING/PONG, SET_ACK/ACK, and the motion ACK window.
 */
import { describe, expect, it } from 'vitest';
import { parseSpiceAddress } from '../../src/spice/address.js';
import { SpiceChannel } from '../../src/spice/channel.js';
import { SpiceClient, type SpiceStatus } from '../../src/spice/client.js';
import { SpiceError } from '../../src/spice/errors.js';
import { MAX_UNACKED } from '../../src/spice/inputs-channel.js';
import { LINK_ERROR_NAMES } from '../../src/spice/protocol.js';
import { closeAfterEach } from './cleanup.js';
import { channelsList, fakeServer, linkHeader, mainInit, miniMsg, type FakeConn } from './fake-server.js';
import { waitFor } from '../support/helpers.js';

const track = closeAfterEach();

async function serve(onConn: Parameters<typeof fakeServer>[0], transport: 'tcp' | 'unix' = 'tcp') {
  return track(await fakeServer(onConn, transport));
}

function client(address: string, extra: Partial<ConstructorParameters<typeof SpiceClient>[0]> = {}) {
  return track(new SpiceClient({ address: parseSpiceAddress(address), timeoutMs: 5000, ...extra }));
}

async function rejection(p: Promise<unknown>): Promise<SpiceError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(SpiceError);
    return e as SpiceError;
  }
  throw new Error('expected a rejection');
}

const SESSION = 0x5eed;

/** A well-behaved session: main (INIT → ATTACH → CHANNELS_LIST) and inputs (INPUTS_INIT). */
async function session(c: FakeConn, hooks: { inputs?: (c: FakeConn) => Promise<void>; main?: (c: FakeConn) => Promise<void>; password?: string } = {}) {
  const link = await c.accept(hooks.password ?? '');
  if (link.channelType === 1) {
    c.sendMsg(103, mainInit(SESSION));
    const attach = await c.readMsg();
    expect(attach.type).toBe(104);
    c.sendMsg(104, channelsList());
    await hooks.main?.(c);
  } else if (link.channelType === 3) {
    expect(link.connectionId).toBe(SESSION);
    c.sendMsg(101, Buffer.from([0, 0]));
    await hooks.inputs?.(c);
  }
}

describe('link errors', () => {
  it('names a server that is not SPICE (bad magic)', async () => {
    const s = await serve((c) => void c.sock.write('RFB 003.008\n'));
    const e = await rejection(client(s.address).connect());
    expect(e.code).toBe('ERR_SPICE_MAGIC');
    expect(e.message).toMatch(/not a SPICE server.*"RFB "/);
    expect(e.fix).toMatch(/-spice/);
  });

  it.each(Object.entries(LINK_ERROR_NAMES).filter(([n]) => n !== '0'))('reports link error %s (%s) by name', async (num, name) => {
    const s = await serve(async (c) => {
      await c.readLink();
      c.sendLinkReply(Number(num));
    });
    const e = await rejection(client(s.address).connect());
    expect(e.linkError).toBe(Number(num));
    if (name === 'PERMISSION_DENIED') {
      expect(e.code).toBe('ERR_SPICE_AUTH');
      expect(e.message).toContain('permission denied: wrong SPICE password');
    } else {
      expect(e.code).toBe('ERR_SPICE_LINK');
      expect(e.message).toContain(name);
    }
    expect(e.fix).toBeTruthy();
  });

  it('checks the password in the ticket: right one links, wrong one is refused', async () => {
    const s = await serve((c) => session(c, { password: 'sesame' }), 'unix');
    await client(s.address, { password: 'sesame' }).connect();
    const e = await rejection(client(s.address, { password: 'open' }).connect());
    expect(e.code).toBe('ERR_SPICE_AUTH');
    expect(e.message).toContain('permission denied: wrong SPICE password');
  });

  it('reports BAD_CONNECTION_ID at the ticket stage', async () => {
    const s = await serve(async (c) => {
      await c.readLink();
      c.sendLinkReply(0);
      await c.readTicket();
      c.sendAuth(8);
    });
    const e = await rejection(client(s.address).connect());
    expect(e).toMatchObject({ code: 'ERR_SPICE_LINK', linkError: 8 });
    expect(e.message).toMatch(/ticket stage: BAD_CONNECTION_ID \(8\)/);
  });

  it('reports a link reply cut short by a disconnect', async () => {
    const s = await serve(async (c) => {
      await c.readLink();
      c.sock.end(Buffer.concat([linkHeader(178), Buffer.alloc(20)]));
    });
    const e = await rejection(client(s.address).connect());
    expect(e.code).toBe('ERR_SPICE_CLOSED');
    expect(e.message).toMatch(/middle of the link reply: got 20 of 178 bytes/);
  });

  it('reports a server that drops the connection instead of answering the ticket', async () => {
    const s = await serve(async (c) => {
      await c.readLink();
      c.sendLinkReply(0);
      await c.readTicket();
      c.sock.end();
    });
    const e = await rejection(client(s.address).connect());
    expect(e.code).toBe('ERR_SPICE_CLOSED');
    expect(e.message).toMatch(/password check/);
  });

  it('reports a server that resets the connection during the link as closed, not as a connect failure', async () => {
    const s = await serve(async (c) => {
      await c.readLink();
      c.sock.resetAndDestroy();
    });
    const e = await rejection(client(s.address).connect());
    expect(e.code).toBe('ERR_SPICE_CLOSED');
    expect(e.message).toMatch(/during the link|before the main channel was linked/);
  });

  it('reports a refused connection with errno and a fix', async () => {
    const s = await fakeServer(() => {});
    const addr = s.address;
    await s.close();
    const e = await rejection(client(addr).connect());
    expect(e.code).toBe('ERR_SPICE_CONNECT');
    expect(e.message).toContain('ECONNREFUSED');
    expect(e.fix).toMatch(/start the VM/);
  });
});

describe('messages', () => {
  it('reports a message header cut short during setup', async () => {
    const s = await serve(async (c) => {
      await c.accept();
      c.sock.end(miniMsg(103, mainInit(1)).subarray(0, 4));
    });
    const e = await rejection(client(s.address).connect());
    expect(e.code).toBe('ERR_SPICE_CLOSED');
    expect(e.message).toMatch(/message header: got 4 of 6 bytes/);
  });

  it('reports a too-short INIT as a protocol error', async () => {
    const s = await serve(async (c) => {
      await c.accept();
      c.sendMsg(103, Buffer.alloc(8));
    });
    const e = await rejection(client(s.address).connect());
    expect(e.code).toBe('ERR_SPICE_PROTOCOL');
    expect(e.message).toMatch(/INIT \(type 103\) has 8 bytes, its layout needs 32/);
  });

  it('reports a disconnect in the middle of a message after the session is up', async () => {
    const states: SpiceStatus[] = [];
    const s = await serve((c) =>
      session(c, {
        main: async (m) => {
          await waitFor(() => states.some((st) => st.state === 'connected'), 30_000, 'the session up');
          const h = Buffer.alloc(6);
          h.writeUInt16LE(107, 0);
          h.writeUInt32LE(100, 2);
          m.sock.end(Buffer.concat([h, Buffer.alloc(10)]));
        },
      }),
    );
    const c = client(s.address, { onState: (st) => states.push(st) });
    await c.connect();
    await waitFor(() => states.some((x) => x.state === 'idle' && x.error), 30_000, 'the session lost');
    const st = states.find((x) => x.state === 'idle' && x.error)!;
    expect(st.error?.code).toBe('ERR_SPICE_CLOSED');
    expect(st.error?.message).toMatch(/body of message type 107: got 10 of 100 bytes/);
    expect(c.inputs).toBeUndefined();
  });

  it('answers PING with PONG (also a 256 KB bandwidth-test PING) and SET_ACK with ACK_SYNC then ACKs', async () => {
    let result: { pongs: Buffer[]; ackSync: Buffer; acks: number } | undefined;
    const done = new Promise<void>((resolve) => {
      void serve(async (c) => {
        await c.accept();
        const ping = (id: number, pad: number) => {
          const b = Buffer.alloc(12 + pad);
          b.writeUInt32LE(id, 0);
          b.writeBigUInt64LE(0x1122334455667788n + BigInt(id), 4);
          c.sendMsg(4, b);
        };
        c.sendMsg(3, Buffer.from([9, 0, 0, 0, 2, 0, 0, 0])); // SET_ACK generation 9, window 2
        ping(1, 0);
        ping(2, 256_000);
        const ackSync = (await c.readMsg()).payload;
        const pongs: Buffer[] = [];
        let acks = 0;
        // Messages after SET_ACK: 2 PINGs → one ACK (window 2); then 2 NOTIFY-less padding messages.
        c.sendMsg(106, Buffer.alloc(4));
        c.sendMsg(106, Buffer.alloc(4));
        for (let i = 0; i < 4; i++) {
          const m = await c.readMsg();
          if (m.type === 3) pongs.push(m.payload);
          else if (m.type === 2) acks++;
          else throw new Error(`unexpected message ${m.type}`);
        }
        result = { pongs, ackSync, acks };
        resolve();
      }).then(async (s) => {
        const ch = await SpiceChannel.open({ address: parseSpiceAddress(s.address), channelType: 1, name: 'main' });
        ch.attach(() => {}, () => {});
        await done;
        await ch.close();
      });
    });
    await done;
    expect(result!.ackSync.readUInt32LE(0)).toBe(9);
    expect(result!.pongs.map((p) => p.length)).toEqual([12, 12]);
    expect(result!.pongs[1]!.readUInt32LE(0)).toBe(2);
    expect(result!.pongs[1]!.readBigUInt64LE(4)).toBe(0x1122334455667788n + 2n);
    expect(result!.acks).toBe(2);
  });
});

describe('motion ACK window', () => {
  it('500 motion events in one second: never more than 8 unacknowledged, summed motion equals what was sent, a click lands after the motion', async () => {
    let serverMax = 0;
    let sumX = 0;
    let sumY = 0;
    let motions = 0;
    const order: string[] = [];
    let inputsDone!: () => void;
    const finished = new Promise<void>((r) => (inputsDone = r));
    const s = await serve((c) =>
      session(c, {
        inputs: async (i) => {
          let unacked = 0;
          await i.readAll((m) => {
            if (m.type === 111) {
              motions++;
              unacked++;
              serverMax = Math.max(serverMax, unacked);
              sumX += m.payload.readInt32LE(0);
              sumY += m.payload.readInt32LE(4);
              order.push('motion');
              if (motions % 4 === 0) {
                // Acknowledge late, like a busy server: the client must wait, not overrun.
                setTimeout(() => {
                  unacked -= 4;
                  i.sendMsg(111);
                }, 15);
              }
            } else if (m.type === 113 || m.type === 114) {
              order.push(m.type === 113 ? 'press' : 'release');
              if (m.type === 114) inputsDone();
            }
          });
        },
      }),
      'unix',
    );
    const c = client(s.address);
    await c.connect();
    const inputs = c.inputs!;
    let sentX = 0;
    let sentY = 0;
    for (let n = 0; n < 500; n++) {
      const dx = ((n * 7) % 11) - 5;
      const dy = ((n * 5) % 9) - 4 || 1;
      inputs.motion(dx, dy);
      sentX += dx;
      sentY += dy;
      if (n % 5 === 4) await new Promise((r) => setTimeout(r, 10)); // 100 batches over ~1 s
    }
    inputs.button(1, true);
    inputs.button(1, false);
    await finished;
    expect(serverMax).toBeLessThanOrEqual(MAX_UNACKED);
    expect(inputs.maxUnacked).toBeLessThanOrEqual(8);
    expect(inputs.maxUnacked).toBe(8); // the window was actually reached: accumulation happened
    expect(motions).toBeLessThan(500);
    expect([sumX, sumY]).toEqual([sentX, sentY]);
    expect(order.slice(-2)).toEqual(['press', 'release']);
  });
});
