/**
 * Against real QEMU 7.2 (TCG, no guest disk): what QEMU's input layer receives, read from its
 * `-trace 'input_event_*'` log. Covers `glasspane send` keys and mouse over TCP and a unix
 * socket, the password, the motion window with 500 events, and reconnecting when QEMU restarts.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SpiceInputSink } from '../../src/spice/input-sink.js';
import { parseSpiceAddress } from '../../src/spice/address.js';
import { SpiceClient, type SpiceStatus } from '../../src/spice/client.js';
import { runCli, waitFor } from '../support/helpers.js';
import { closeAfterEach } from './cleanup.js';
import { sleep, startQemu } from './qemu.js';
import { needs } from '../support/system.js';
import { exitStatusOf } from '../support/errors.js';

const track = closeAfterEach();

async function qemu(opts: Parameters<typeof startQemu>[0] = {}) {
  return track(await startQemu(opts));
}

const keyLines = (t: string[]) => t.filter((l) => l.startsWith('input_event_key'));

/** Asserts each qcode went down once then up once, in this order, and nothing was unmapped. */
function expectKeySequence(trace: string[], seq: Array<[string, 0 | 1]>) {
  const keys = keyLines(trace);
  expect(keys.join('\n')).not.toContain('unmapped');
  expect(keys.map((l) => /qcode (\S+), down (\d)/.exec(l)!.slice(1).join(' '))).toEqual(seq.map(([q, d]) => `${q} ${d}`));
}

describe.skipIf(needs('qemu'))('real QEMU 7.2 via the built CLI', () => {
  it('send key: KeyA ControlRight NumpadEnter Pause PrintScreen ArrowUp, then a Control+Alt+Delete chord (TCP)', async () => {
    const q = await qemu({ transport: 'tcp' });
    const r = await runCli(['send', '--spice', q.address, 'key', 'KeyA', 'ControlRight', 'NumpadEnter', 'Pause', 'PrintScreen', 'ArrowUp']);
    // Success is said on stderr (what and where); stdout stays empty for scripts.
    expect(r.stderr).toBe(`glasspane: sent 6 keys (KeyA ControlRight NumpadEnter Pause PrintScreen ArrowUp) to ${q.address}\n`);
    expect(r.stdout).toBe('');
    expect(r.code).toBe(0);
    const want: Array<[string, 0 | 1]> = [];
    for (const qc of ['a', 'ctrl_r', 'kp_enter', 'pause', 'print', 'up']) want.push([qc, 1], [qc, 0]);
    expectKeySequence(await q.waitTrace((t) => keyLines(t).length >= want.length), want);

    const r2 = await runCli(['send', '--spice', q.address, 'key', 'Control+Alt+Delete']);
    expect(r2.code).toBe(0);
    want.push(['ctrl', 1], ['alt', 1], ['delete', 1], ['delete', 0], ['alt', 0], ['ctrl', 0]);
    expectKeySequence(await q.waitTrace((t) => keyLines(t).length >= want.length), want);
  });

  it('send mouse: move 10 -5, left/right/middle/side clicks, wheel up and down (unix socket)', async () => {
    const q = await qemu({ transport: 'unix' });
    const r = await runCli(['send', '--spice', q.address, 'mouse', 'move', '10', '-5', 'click', 'left', 'click', 'right', 'click', 'middle', 'click', 'side', 'wheel', 'up', 'wheel', 'down']);
    expect(r.stderr).toBe(`glasspane: sent 7 mouse actions (move 10 -5 click left click right click middle click side wheel up wheel down) to ${q.address}\n`);
    expect(r.stdout).toBe('');
    expect(r.code).toBe(0);
    const want = ['left', 'right', 'middle', 'side', 'wheel-up', 'wheel-down'].flatMap((b) => [`${b} 1`, `${b} 0`]);
    const trace = await q.waitTrace((t) => t.filter((l) => l.startsWith('input_event_btn')).length >= want.length);
    const btns = trace.filter((l) => l.startsWith('input_event_btn')).map((l) => /button (\S+), down (\d)/.exec(l)!.slice(1).join(' '));
    expect(btns).toEqual(want);
    // The motion is the first relative event pair, before any button.
    const rel = trace.filter((l) => l.startsWith('input_event_rel') && !/value 0$/.test(l));
    expect(rel).toEqual(['input_event_rel con -1, axis x, value 10', 'input_event_rel con -1, axis y, value -5']);
    expect(trace.findIndex((l) => l.includes('value 10'))).toBeLessThan(trace.findIndex((l) => l.startsWith('input_event_btn')));
  });

  it('password: the right one links and types, a wrong one exits non-zero saying it was refused', async () => {
    const q = await qemu({ transport: 'unix', password: 'correct-horse' });
    const pwFile = join(q.dir, 'pw');
    writeFileSync(pwFile, 'correct-horse\n', { mode: 0o600 });
    const ok = await runCli(['send', '--spice', q.address, '--spice-password-file', pwFile, 'key', 'KeyB']);
    expect(ok.stderr).toMatch(/^glasspane: sent 1 key \(KeyB\) to unix:/);
    expect(ok.code).toBe(0);
    expectKeySequence(await q.waitTrace((t) => keyLines(t).length >= 2), [['b', 1], ['b', 0]]);

    const bad = await runCli(['send', '--spice', q.address, 'key', 'KeyC'], { env: { GLASSPANE_SPICE_PASSWORD: 'battery-staple' } });
    expect(bad.code).toBe(exitStatusOf('ERR_SPICE_AUTH')); // the message is the CLI's output
    expect(bad.stderr).toMatch(/permission denied: wrong SPICE password/);
    expect(bad.stderr).toMatch(/fix: .*--spice-password-file/);
    // The refused send's key never came: a later, accepted send's key is the next one QEMU saw
    // (the refused process had exited before that one started).
    await runCli(['send', '--spice', q.address, '--spice-password-file', pwFile, 'key', 'KeyD']);
    const after = keyLines(await q.waitTrace((t) => keyLines(t).length >= 4));
    expect(after.join('\n')).not.toMatch(/qcode c,/);
    expect(after.slice(2).join('\n')).toMatch(/qcode d,/);
  });

  it('500 motion events in one second: at most 8 unacknowledged, QEMU receives exactly the summed motion', async () => {
    const q = await qemu({ transport: 'unix' });
    const c = new SpiceClient({ address: parseSpiceAddress(q.address) });
    track(c);
    await c.connect();
    const inputs = c.inputs!;
    let sx = 0;
    let sy = 0;
    let maxSeen = 0;
    for (let n = 0; n < 500; n++) {
      const dx = (n % 7) - 3;
      const dy = (n % 5) - 2 || -1;
      inputs.motion(dx, dy);
      sx += dx;
      sy += dy;
      maxSeen = Math.max(maxSeen, inputs.unacknowledged);
      if (n % 5 === 4) await sleep(10);
    }
    await inputs.drain();
    expect(maxSeen).toBeLessThanOrEqual(8);
    expect(inputs.maxUnacked).toBeLessThanOrEqual(8);
    const sums = (t: string[]) => {
      let x = 0;
      let y = 0;
      for (const l of t) {
        const m = /input_event_rel con -?\d+, axis ([xy]), value (-?\d+)/.exec(l);
        if (m) m[1] === 'x' ? (x += Number(m[2])) : (y += Number(m[2]));
      }
      return [x, y];
    };
    const trace = await q.waitTrace((t) => sums(t)[0] === sx && sums(t)[1] === sy);
    expect(sums(trace)).toEqual([sx, sy]);
    expect(c.state.state).toBe('connected');
  });

  it('client mouse mode when asked for and available (usb-tablet): absolute positions clamped to the surface', async () => {
    const q = await qemu({ transport: 'unix', extraArgs: ['-usb', '-device', 'usb-tablet'] });
    const modes: string[] = [];
    const c = new SpiceClient({ address: parseSpiceAddress(q.address), mouseMode: 'client', onState: (s) => s.mouseMode && modes.push(s.mouseMode) });
    track(c);
    const sink = new SpiceInputSink(c);
    await c.connect();
    expect(sink.absolute).toBe(false); // PS/2 mouse active: only server mode is possible yet
    const mice = (await q.qmp('query-mice')) as Array<{ index: number; absolute: boolean }>;
    await q.hmp(`mouse_set ${mice.find((m) => m.absolute)!.index}`);
    await waitFor(() => sink.absolute);
    sink.mousePosition(-50, 5000, 100, 100); // clamped to (0, 99)
    sink.mousePosition(0, 99, 100, 100);
    sink.mousePosition(50, 50, 100, 100);
    const abs = (t: string[]) => t.filter((l) => l.startsWith('input_event_abs')).map((l) => /axis ([xy]), value (\S+)/.exec(l)!.slice(1).join('='));
    const got = abs(await q.waitTrace((t) => abs(t).length >= 6));
    expect(got.length).toBe(6);
    expect(got[0]).toBe('x=0x0'); // -50 unclamped would reach QEMU as 2^32-50
    expect(got.slice(0, 2)).toEqual(got.slice(2, 4));
    expect(got.slice(4)).not.toEqual(got.slice(2, 4));
    expect(modes[0]).toBe('server');
    await waitFor(() => modes.at(-1) === 'client', 5000, 'the client mode to be reported (status the server feeds is reported at most every 100 ms)');
    expect(c.state.state).toBe('connected'); // nothing we sent made the server drop us

    // The mode is the server's, not the client's: a later `send mouse move` is told so.
    await c.close();
    const r = await runCli(['send', '--spice', q.address, 'mouse', 'move', '1', '1', 'click', 'left']);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/client \(absolute\) mouse mode, which ignores relative moves/);
  });

  it('a short send while a viewer is connected completes; the viewer takes the session back afterwards', async () => {
    const q = await qemu({ transport: 'unix' });
    const states: SpiceStatus[] = [];
    const viewer = track(new SpiceClient({ address: parseSpiceAddress(q.address), onState: (s) => states.push(s) }));
    const sink = new SpiceInputSink(viewer);
    viewer.start();
    await viewer.whenConnected();
    // send links a new main channel: the server drops the viewer, which waits lostLinkDelayMs (1 s).
    // 6 keys = 12 events × 30 ms ≈ 0.4 s: longer than a 250 ms retry, shorter than the 1 s one.
    const r = await runCli(['send', '--spice', q.address, 'key', 'KeyA', 'KeyB', 'KeyC', 'KeyD', 'KeyE', 'KeyF']);
    expect(r.stderr).toMatch(/^glasspane: sent 6 keys /);
    expect(r.code).toBe(0);
    await waitFor(() => states.some((s) => s.state === 'waiting') && viewer.state.state === 'connected');
    expect(sink.keyDown('KeyZ')).toBe(true);
    expect(sink.keyUp('KeyZ')).toBe(true);
    const want: Array<[string, 0 | 1]> = [];
    for (const qc of ['a', 'b', 'c', 'd', 'e', 'f', 'z']) want.push([qc, 1], [qc, 0]);
    expectKeySequence(await q.waitTrace((t) => keyLines(t).length >= want.length), want);
  });

  it('send exits non-zero when another client takes the session over in the middle of it', async () => {
    const q = await qemu({ transport: 'unix' });
    // A client that takes the session back after 400 ms: after send has linked (tens of ms),
    // well within its 20-key sequence (40 events × 30 ms).
    const pushy = track(new SpiceClient({ address: parseSpiceAddress(q.address), lostLinkDelayMs: 400 }));
    pushy.start();
    await pushy.whenConnected();
    const keys = 'ABCDEFGHIJKLMNOPQRST'.split('').map((k) => `Key${k}`);
    const r = await runCli(['send', '--spice', q.address, 'key', ...keys]);
    expect(r.code).toBe(exitStatusOf('ERR_SPICE_CLOSED'));
    expect(r.stderr).toMatch(/before everything was sent; the rest of the sequence did not reach the VM/);
    expect(r.stderr).toMatch(/fix: another SPICE client/);
  });

  it('reconnects with backoff when QEMU restarts, releasing nothing twice and typing again after', async () => {
    const q1 = await qemu({ transport: 'unix' });
    const states: SpiceStatus[] = [];
    const c = new SpiceClient({ address: parseSpiceAddress(q1.address), initialDelayMs: 100, maxDelayMs: 400, lostLinkDelayMs: 100, onState: (s) => states.push(s) });
    track(c);
    const sink = new SpiceInputSink(c);
    c.start();
    await c.whenConnected();
    expect(sink.keyDown('KeyD')).toBe(true);
    expect(sink.keyUp('KeyD')).toBe(true);
    expectKeySequence(await q1.waitTrace((t) => keyLines(t).length >= 2), [['d', 1], ['d', 0]]);

    // A key held when QEMU goes away must not be released into the next QEMU by us.
    sink.keyDown('ShiftLeft');
    await q1.waitTrace((t) => keyLines(t).length >= 3);
    await q1.stop(true);
    await waitFor(() => states.some((s) => s.state === 'waiting'));
    expect(sink.keyDown('KeyE')).toBe(false); // dropped while disconnected, not queued
    await waitFor(() => states.filter((s) => s.state === 'waiting').length >= 2, 30_000, 'a retry to fail against the missing socket');
    const q2 = await qemu({ transport: 'unix', dir: q1.dir });
    await c.whenConnected();
    sink.releaseAll(); // nothing is held in the new session
    expect(sink.keyDown('KeyF')).toBe(true);
    expect(sink.keyUp('KeyF')).toBe(true);
    expectKeySequence(await q2.waitTrace((t) => keyLines(t).length >= 2), [['f', 1], ['f', 0]]);
    const seq = states.map((s) => s.state);
    expect(seq).toContain('waiting');
    expect(seq.lastIndexOf('connected')).toBeGreaterThan(seq.indexOf('waiting'));
    expect(states.find((s) => s.state === 'waiting')?.error?.code).toBe('ERR_SPICE_CLOSED');
    await q2.stop();
  });
});
