/**
 * The InputSink the viewer uses, over SpiceClient: against real QEMU (HID usages, releaseAll,
 * lock-key sync only on a real mismatch) and against fake servers (order behind a full motion
 * window, backoff delays, giving up on a wrong password, UUID mismatch warning).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SpiceInputSink } from '../../src/spice/input-sink.js';
import { NullInputSink } from '../../src/input/sink.js';
import { parseSpiceAddress } from '../../src/spice/address.js';
import { describeSpiceStatus, SpiceClient, type SpiceStatus } from '../../src/spice/client.js';
import { SpiceError } from '../../src/spice/errors.js';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { uuidMismatchWarning } from '../../src/spice/main-channel.js';
import { closeAfterEach } from './cleanup.js';
import { channelsList, fakeServer, mainInit, type FakeConn } from './fake-server.js';
import { startQemu, type QemuHandle } from './qemu.js';
import { waitFor } from '../support/helpers.js';
import { needs } from '../support/system.js';

const keyEvents = (t: string[]) => t.filter((l) => l.startsWith('input_event_key') || l.startsWith('input_event_btn')).map((l) => l.replace(/^input_event_\w+ con -?\d+, /, ''));

describe.skipIf(needs('qemu'))('SpiceInputSink against real QEMU', () => {
  let q: QemuHandle;
  let client: SpiceClient;
  let sink: SpiceInputSink;
  let seen = 0;
  /** Trace key/button lines that appeared since the last call. */
  async function next(n: number): Promise<string[]> {
    const t = await q.waitTrace((tr) => keyEvents(tr).length >= seen + n);
    const lines = keyEvents(t).slice(seen);
    seen += lines.length;
    return lines;
  }
  /**
   * Nothing else reached QEMU since the last next(): a marker key sent now is the next thing in its
   * trace (one inputs channel, in order), so anything sent before it would show up first.
   */
  async function nothingElse(): Promise<void> {
    sink.keyDown('KeyZ');
    sink.keyUp('KeyZ');
    expect(await next(2), 'the next key events after the marker was sent').toEqual(['key qcode z, down 1', 'key qcode z, down 0']);
  }
  beforeAll(async () => {
    q = await startQemu({ transport: 'unix' });
    client = new SpiceClient({ address: parseSpiceAddress(q.address) });
    sink = new SpiceInputSink(client);
    await client.connect();
  });
  afterAll(async () => {
    await sink?.close();
    await q?.stop();
  });

  it('takes USB HID usages (SDL scancodes) as well as code names; unknown keys return false', async () => {
    expect(sink.keyDown(4)).toBe(true); // HID 0x04 = A
    expect(sink.keyUp(4)).toBe(true);
    expect(sink.keyDown(0xe4)).toBe(true); // HID 0xE4 = Right Control
    expect(sink.keyUp('ControlRight')).toBe(true);
    expect(sink.keyDown('NoSuchKey')).toBe(false);
    expect(sink.keyDown(0x3fff)).toBe(false);
    expect(await next(4)).toEqual(['key qcode a, down 1', 'key qcode a, down 0', 'key qcode ctrl_r, down 1', 'key qcode ctrl_r, down 0']);
  });

  it('ignores host autorepeat: a keyDown for a held key sends nothing', async () => {
    expect(sink.keyDown('KeyG')).toBe(true);
    expect(sink.keyDown('KeyG')).toBe(true);
    expect(sink.keyDown('KeyG')).toBe(true);
    expect(sink.keyUp('KeyG')).toBe(true);
    expect(await next(2)).toEqual(['key qcode g, down 1', 'key qcode g, down 0']);
    await nothingElse();
  });

  it('releaseAll releases held keys in reverse order and held buttons', async () => {
    sink.keyDown('ShiftLeft');
    sink.keyDown('ControlLeft');
    sink.mouseButton('left', true);
    sink.releaseAll();
    sink.releaseAll(); // nothing left: sends nothing
    expect(await next(6)).toEqual([
      'key qcode shift, down 1',
      'key qcode ctrl, down 1',
      'button left, down 1',
      'key qcode ctrl, down 0',
      'key qcode shift, down 0',
      'button left, down 0',
    ]);
    await nothingElse();
  });

  it('syncs lock keys only on a real mismatch and never while a lock key is held', async () => {
    expect(client.state.leds).toBe(0);
    sink.syncLocks({ capsLock: true, numLock: false, scrollLock: false }); // mismatch: the server taps CapsLock
    sink.syncLocks({ capsLock: true, numLock: false, scrollLock: false }); // now matching: nothing
    expect(await next(2)).toEqual(['key qcode caps_lock, down 1', 'key qcode caps_lock, down 0']);
    sink.keyDown('ScrollLock');
    sink.syncLocks({ capsLock: false, numLock: true, scrollLock: false }); // lock key held: nothing
    sink.keyUp('ScrollLock');
    expect(await next(2)).toEqual(['key qcode scroll_lock, down 1', 'key qcode scroll_lock, down 0']);
    await nothingElse();
  });
});

describe('SpiceInputSink and SpiceClient against fake servers', () => {
  const track = closeAfterEach();

  async function session(c: FakeConn, onInputs?: (c: FakeConn) => Promise<void>, password = '') {
    const link = await c.accept(password);
    if (link.channelType === 1) {
      c.sendMsg(103, mainInit(7));
      await c.readMsg();
      c.sendMsg(104, channelsList());
      const uuid = Buffer.from('00112233445566778899aabbccddeeff', 'hex');
      c.sendMsg(114, uuid);
      await c.reader.closed();
    } else {
      c.sendMsg(101, Buffer.from([0, 0]));
      await onInputs?.(c);
    }
  }

  it('a key asked for while motion waits for an ACK goes out after that motion, not before', async () => {
    const got: string[] = [];
    let inputsConn!: FakeConn;
    let gotKey!: () => void;
    const keyArrived = new Promise<void>((r) => (gotKey = r));
    const s = await fakeServer((c) =>
      session(c, async (i) => {
        inputsConn = i;
        for (;;) {
          const m = await i.readMsg().catch(() => undefined);
          if (!m) return;
          got.push(m.type === 111 ? `motion ${m.payload.readInt32LE(0)}` : m.type === 101 ? 'key' : String(m.type));
          if (m.type === 101) gotKey();
        }
      }),
    );
    track(s);
    const client = new SpiceClient({ address: parseSpiceAddress(s.address) });
    track(client);
    const sink = new SpiceInputSink(client);
    await client.connect();
    for (let n = 0; n < 10; n++) sink.mouseMotion(1, 0); // 8 go out, 2 are summed and wait
    sink.keyDown('KeyA');
    // The summed motion and the key wait in the client (nothing goes before an ACK), and the
    // server has the 8 that went out.
    expect(client.inputs!.queued).toBe(2);
    await waitFor(() => got.length >= 8, 30_000, 'the first 8 motions at the server');
    expect(got).toEqual(Array(8).fill('motion 1'));
    expect(client.inputs!.unacknowledged).toBe(8);
    expect(client.inputs!.queued).toBe(2);
    inputsConn.sendMsg(111); // MOTION_ACK: 4 more may go
    await keyArrived;
    expect(got).toEqual([...Array(8).fill('motion 1'), 'motion 2', 'key']);
  });

  it('backs off 100, 200, 400, 400 ms while the server is down, and reports each wait', async () => {
    const s = await fakeServer(() => {});
    const addr = s.address;
    await s.close();
    const states: SpiceStatus[] = [];
    const client = new SpiceClient({ address: parseSpiceAddress(addr), initialDelayMs: 100, maxDelayMs: 400, onState: (st) => states.push(st) });
    track(client);
    client.start();
    await waitFor(() => states.filter((st) => st.state === 'waiting').length >= 4, 30_000, 'four retry waits');
    const waits = states.filter((st) => st.state === 'waiting');
    expect(waits.slice(0, 4).map((w) => w.retryInMs)).toEqual([100, 200, 400, 400]);
    expect(waits[0]!.error?.code).toBe('ERR_SPICE_CONNECT');
  });

  it('stops retrying on a wrong password (state failed, with the reason)', async () => {
    const s = await fakeServer((c) => session(c, undefined, 'right'));
    track(s);
    const states: SpiceStatus[] = [];
    const client = new SpiceClient({ address: parseSpiceAddress(s.address), password: 'wrong', initialDelayMs: 10, onState: (st) => states.push(st) });
    track(client);
    client.start();
    await waitFor(() => states.some((st) => st.state === 'failed'), 30_000, 'the client to fail');
    const failed = states.find((st) => st.state === 'failed');
    expect(failed?.error?.code).toBe('ERR_SPICE_AUTH');
    expect(states.some((st) => st.state === 'waiting')).toBe(false);
  });

  it('reports the VM UUID and warns when it differs from the frame producer\'s', async () => {
    const s = await fakeServer((c) => session(c));
    track(s);
    const client = new SpiceClient({ address: parseSpiceAddress(s.address) });
    track(client);
    await client.connect();
    await waitFor(() => client.state.vmUuid !== undefined, 30_000, "the VM's UUID from the main channel");
    const uuid = client.state.vmUuid!;
    expect(uuid).toBe('00112233-4455-6677-8899-aabbccddeeff');
    expect(uuidMismatchWarning(uuid, Buffer.from('00112233445566778899aabbccddeeff', 'hex'))).toBeUndefined();
    expect(uuidMismatchWarning(uuid, '00112233-4455-6677-8899-AABBCCDDEEFF')).toBeUndefined();
    expect(uuidMismatchWarning(uuid, new Uint8Array(16))).toBeUndefined(); // producer did not say
    expect(uuidMismatchWarning(uuid, Buffer.from('ffeeddccbbaa99887766554433221100', 'hex'))).toMatch(/differs.*another VM/);
  });

  it('SpiceInputSink.open reads the password file, connects in the background and reports state', async () => {
    const s = await fakeServer((c) => session(c, undefined, 'from-file'), 'unix');
    track(s);
    const dir = mkdtempSync(join(tmpdir(), 'glasspane-pw-'));
    try {
      writeFileSync(join(dir, 'pw'), 'from-file\n');
      const lines: string[] = [];
      const sink = SpiceInputSink.open({ spice: s.address, passwordFile: join(dir, 'pw'), env: { GLASSPANE_SPICE_PASSWORD: 'not-this' }, onState: (st) => lines.push(describeSpiceStatus(st)) });
      track(sink.client);
      await sink.client.whenConnected();
      expect(sink.keyDown('KeyA')).toBe(true);
      expect(lines[0]).toBe('SPICE: connecting');
      expect(lines.at(-1)).toBe('SPICE: connected (relative mouse)');
      expect(() => SpiceInputSink.open({ spice: 'nonsense' })).toThrow(expect.objectContaining({ code: 'ERR_SPICE_ADDRESS' }));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('describeSpiceStatus gives one OSD line per state', () => {
    const err = new SpiceError('ERR_SPICE_CLOSED', 'SPICE server closed the main channel');
    expect(describeSpiceStatus({ state: 'waiting', attempt: 0, retryInMs: 500, error: err })).toBe('SPICE: retrying in 0.5 s: SPICE server closed the main channel');
    expect(describeSpiceStatus({ state: 'waiting', attempt: 2, retryInMs: 2000 })).toBe('SPICE: retrying in 2 s');
    expect(describeSpiceStatus({ state: 'connected', attempt: 0, vmName: 'win11', mouseMode: 'client' })).toBe('SPICE: connected to win11 (absolute mouse)');
    expect(describeSpiceStatus({ state: 'failed', attempt: 1, error: err })).toMatch(/^SPICE: failed: SPICE server closed/);
    expect(describeSpiceStatus({ state: 'connecting', attempt: 3 })).toBe('SPICE: connecting (attempt 4)');
  });

  it('NullInputSink drops everything', async () => {
    const n = new NullInputSink();
    expect(n.keyDown('KeyA')).toBe(false);
    expect(n.absolute).toBe(false);
    await n.close();
  });
});
