/**
 * Clipboard through the guest agent, against a fake SPICE server that plays spice-server and
 * spice-vdagent on the main channel: AGENT_START and tokens, capability announce, text both ways
 * split over several AGENT_DATA, CRLF for Windows guests, waiting for tokens, agent loss.
 * (No real guest agent here: spice-vdagent needs a desktop session in the guest.)
 */
import { describe, expect, it } from 'vitest';
import { AgentCap, AgentMsg, ClipboardType, VD_AGENT_MAX_DATA_SIZE } from '../../src/spice/agent.js';
import { parseSpiceAddress } from '../../src/spice/address.js';
import { SpiceClient } from '../../src/spice/client.js';
import { waitFor } from '../support/helpers.js';
import { closeAfterEach } from './cleanup.js';
import { agentMsg, channelsList, fakeServer, mainInit, type FakeConn } from './fake-server.js';

const AGENT_START = 106;
const AGENT_DATA_C = 107;
const AGENT_TOKEN_C = 108;

function u32s(...v: number[]): Buffer {
  const b = Buffer.alloc(4 * v.length);
  v.forEach((x, i) => b.writeUInt32LE(x >>> 0, 4 * i));
  return b;
}

/** The fake agent side of the main channel: collects what the client sends. */
class FakeAgentSide {
  tokensBack = 0;
  chunks: Buffer[] = [];
  private stream = Buffer.alloc(0);
  constructor(readonly c: FakeConn) {}
  /** Reads client messages until `n` complete agent messages arrived; returns them. */
  async agentMessages(n: number): Promise<Array<{ type: number; data: Buffer }>> {
    const out: Array<{ type: number; data: Buffer }> = [];
    for (;;) {
      while (this.stream.length >= 20 && this.stream.length >= 20 + this.stream.readUInt32LE(16)) {
        const size = this.stream.readUInt32LE(16);
        out.push({ type: this.stream.readUInt32LE(4), data: Buffer.from(this.stream.subarray(20, 20 + size)) });
        this.stream = this.stream.subarray(20 + size);
        if (out.length === n) return out;
      }
      const m = await this.c.readMsg();
      if (m.type === AGENT_TOKEN_C) this.tokensBack += m.payload.readUInt32LE(0);
      else if (m.type === AGENT_DATA_C) {
        expect(m.payload.length).toBeLessThanOrEqual(VD_AGENT_MAX_DATA_SIZE);
        this.chunks.push(m.payload);
        this.stream = Buffer.concat([this.stream, m.payload]);
      }
    }
  }
  /** Reads client messages until `n` agent data pieces arrived in all (kept for agentMessages()). */
  async chunksUntil(n: number): Promise<void> {
    while (this.chunks.length < n) {
      const m = await this.c.readMsg();
      if (m.type === AGENT_TOKEN_C) this.tokensBack += m.payload.readUInt32LE(0);
      else if (m.type === AGENT_DATA_C) {
        this.chunks.push(m.payload);
        this.stream = Buffer.concat([this.stream, m.payload]);
      }
    }
  }
  /** Reads client messages until `n` tokens came back in total (bounded by `ms`). */
  async tokensUntil(n: number, ms = 5000): Promise<number> {
    const end = Date.now() + ms;
    while (this.tokensBack < n && Date.now() < end) {
      const m = await Promise.race([this.c.readMsg(), new Promise<undefined>((r) => setTimeout(r, end - Date.now()))]);
      if (m?.type === AGENT_TOKEN_C) this.tokensBack += m.payload.readUInt32LE(0);
    }
    return this.tokensBack;
  }
  /** Sends one agent message split into pieces of `piece` bytes (one AGENT_DATA each). */
  send(type: number, data: Buffer, piece = 2048): void {
    const msg = agentMsg(type, data);
    for (let o = 0; o < msg.length; o += piece) this.c.sendMsg(109, msg.subarray(o, o + piece));
  }
}

describe('clipboard through the guest agent (fake server)', () => {
  const track = closeAfterEach();

  /** Starts a fake whose main channel has an agent with `tokens`; resolves the agent side. */
  async function setup(tokens: number, handlers: ConstructorParameters<typeof SpiceClient>[0]['clipboard']) {
    let side!: (a: FakeAgentSide) => void;
    const agentSide = new Promise<FakeAgentSide>((r) => (side = r));
    const s = await fakeServer(async (c) => {
      const link = await c.accept();
      if (link.channelType === 1) {
        const init = mainInit(3);
        init.writeUInt32LE(1, 16); // agent_connected
        init.writeUInt32LE(tokens, 20); // agent_tokens
        c.sendMsg(103, init);
        expect((await c.readMsg()).type).toBe(104); // ATTACH_CHANNELS
        const start = await c.readMsg();
        expect(start.type).toBe(AGENT_START);
        expect(start.payload.readUInt32LE(0)).toBeGreaterThan(0);
        c.sendMsg(104, channelsList());
        side(new FakeAgentSide(c));
      } else {
        c.sendMsg(101, Buffer.from([0, 0]));
      }
    });
    track(s);
    const client = new SpiceClient({ address: parseSpiceAddress(s.address), clipboard: handlers });
    track(client);
    await client.connect();
    return { client, agent: await agentSide };
  }

  it('announces clipboard-by-demand, then gets guest text split over several messages (CRLF → LF)', async () => {
    const grabs: number[][] = [];
    const { client, agent } = await setup(10, { guestGrab: (t) => grabs.push(t) });
    const [announce] = await agent.agentMessages(1);
    expect(announce!.type).toBe(AgentMsg.ANNOUNCE_CAPABILITIES);
    expect(announce!.data.readUInt32LE(0)).toBe(1); // request the guest's caps
    expect(announce!.data.readUInt32LE(4) & (1 << AgentCap.CLIPBOARD_BY_DEMAND)).not.toBe(0);

    agent.send(AgentMsg.ANNOUNCE_CAPABILITIES, u32s(0, (1 << AgentCap.CLIPBOARD_BY_DEMAND) | (1 << AgentCap.GUEST_LINEEND_CRLF)), 7);
    agent.send(AgentMsg.CLIPBOARD_GRAB, u32s(ClipboardType.UTF8_TEXT));
    await waitFor(() => grabs.length > 0, 30_000, "the guest's clipboard grab");
    expect(grabs).toEqual([[ClipboardType.UTF8_TEXT]]);

    const text = client.clipboardRequestText();
    const [req] = await agent.agentMessages(1);
    expect(req).toEqual({ type: AgentMsg.CLIPBOARD_REQUEST, data: u32s(ClipboardType.UTF8_TEXT) });
    agent.send(AgentMsg.CLIPBOARD, Buffer.concat([u32s(ClipboardType.UTF8_TEXT), Buffer.from('hello\r\nwörld\0')]), 9);
    expect(await text).toBe('hello\nwörld');
    // Every AGENT_DATA the server sent was paid back with a token.
    const sentPieces = Math.ceil((20 + 8) / 7) + 1 + Math.ceil((20 + 4 + Buffer.byteLength('hello\r\nwörld\0')) / 9);
    expect(await agent.tokensUntil(sentPieces)).toBe(sentPieces);
  });

  it('gives host text when the guest pastes, in ≤ 2048-byte pieces, waiting for tokens (LF → CRLF)', async () => {
    const host = 'line one\n' + 'x'.repeat(5000) + '\nend';
    const { client, agent } = await setup(2, { hostText: () => host });
    await agent.agentMessages(1); // ANNOUNCE: 1 token left
    agent.send(AgentMsg.ANNOUNCE_CAPABILITIES, u32s(0, 1 << AgentCap.GUEST_LINEEND_CRLF));
    client.clipboardGrabText(); // last token
    const [grab] = await agent.agentMessages(1);
    expect(grab).toEqual({ type: AgentMsg.CLIPBOARD_GRAB, data: u32s(ClipboardType.UTF8_TEXT) });

    // The request and the tokens after it arrive in order on the one main channel.
    agent.send(AgentMsg.CLIPBOARD_REQUEST, u32s(ClipboardType.UTF8_TEXT));
    const before = agent.chunks.length;
    agent.c.sendMsg(110, u32s(1)); // one token: one piece may go
    await agent.chunksUntil(before + 1);
    agent.c.sendMsg(110, u32s(10));
    const [clip] = await agent.agentMessages(1);
    expect(agent.chunks.length - before).toBe(Math.ceil((20 + 4 + host.length + 2) / 2048));
    expect(clip!.type).toBe(AgentMsg.CLIPBOARD);
    expect(clip!.data.readUInt32LE(0)).toBe(ClipboardType.UTF8_TEXT);
    expect(clip!.data.subarray(4).toString('utf8')).toBe(host.replace(/\n/g, '\r\n'));
  });

  it('fails a pending request when the agent goes away, and rejects without an agent', async () => {
    const states: boolean[] = [];
    const { client, agent } = await setup(10, { agentState: (c) => states.push(c) });
    await agent.agentMessages(1);
    const pending = client.clipboardRequestText();
    await agent.agentMessages(1);
    agent.c.sendMsg(108, u32s(0)); // AGENT_DISCONNECTED
    await expect(pending).rejects.toMatchObject({ code: 'ERR_SPICE_CLOSED' });
    expect(states).toEqual([true, false]);
    await expect(client.clipboardRequestText()).rejects.toMatchObject({ code: 'ERR_SPICE_CLOSED' });
  });
});
