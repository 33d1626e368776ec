/**
 * guest-stub's input endpoint over a real WebSocket: malformed messages are dropped (they used to
 * throw inside the socket listener and end the stub), well-formed ones change the guest-side state.
 */
import { afterAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { isStubInputMessage, StubInputServer } from '../../guest-stub/input-server.js';
import { BGRA } from '../../src/kvmfr/pixels.js';
import { waitFor } from '../support/helpers.js';

const servers: StubInputServer[] = [];
afterAll(async () => {
  for (const s of servers) await s.close();
});

describe('stub input endpoint', () => {
  it('drops messages of the wrong shape and applies the right ones', async () => {
    const server = await StubInputServer.listen(0, { width: 64, height: 48 });
    servers.push(server);
    const ws = new WebSocket(server.url);
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    const bad = [
      'not json',
      'null',
      '42',
      '{"t":"key","down":true}', // no scancode: was `undefined.toString` in the listener
      '{"t":"key","down":"yes","scancode":30}',
      '{"t":"key","down":true,"scancode":-1}',
      '{"t":"motion","dx":"1","dy":0,"buttons":0}',
      '{"t":"position","x":1.5,"y":0,"buttons":0}',
      '{"t":"button","button":"nose","down":true,"buttons":0}',
      '{"t":"wheel"}',
      '{"t":"teleport"}',
    ];
    for (const m of bad) ws.send(m);
    ws.send(JSON.stringify({ t: 'key', down: true, scancode: 0x1e }));
    ws.send(JSON.stringify({ t: 'motion', dx: 5, dy: -3, buttons: 0 }));
    await waitFor(() => server.received >= 2, 30_000, 'the two good messages');
    ws.close();
    // Messages arrive in order, so every bad one was seen (and dropped) before the good two.
    expect(server.received).toBe(2);
    expect([...server.held]).toEqual([0x1e]);
    expect(server.pointer).toEqual({ x: 32 + 5, y: 24 - 3 });
  });

  it('checks each field of each message kind', () => {
    expect(isStubInputMessage({ t: 'button', button: 'left', down: false, buttons: 0 })).toBe(true);
    expect(isStubInputMessage({ t: 'wheel', notches: -2 })).toBe(true);
    expect(isStubInputMessage({ t: 'position', x: 3, y: 4, buttons: 1 })).toBe(true);
    expect(isStubInputMessage({ t: 'key', down: true, scancode: 0x10000 })).toBe(false);
    expect(isStubInputMessage({ t: 'wheel', notches: Number.MAX_SAFE_INTEGER + 2 })).toBe(false);
    expect(isStubInputMessage([])).toBe(false);
  });

  it('the input scene\'s panel is as wide as its longest line (docs/demo.png showed the first line running out of it)', async () => {
    const server = await StubInputServer.listen(0, { width: 2560, height: 1440 });
    servers.push(server);
    server.pointer = { x: 1000, y: 570 }; // the 4-digit pointer of a 1080p/1440p guest
    const p = server.panel(BGRA);
    // Its right padding holds nothing but the background (#000030).
    for (let y = 0; y < p.height; y++) {
      for (let x = p.width - 6; x < p.width; x++) {
        const o = (y * p.width + x) * 4;
        expect([p.pixels[o], p.pixels[o + 1], p.pixels[o + 2]], `pixel ${x},${y}`).toEqual([0x30, 0, 0]);
      }
    }
  });
});
