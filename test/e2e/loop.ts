/**
 * The whole loop through a real VM: a guest (guest.ts) runs guest-stub's input-echo scene on the
 * ivshmem BAR; here, on the host, a FrameRelay reads its frames from the /dev/shm side of the same
 * memory and checks each one completely (EchoVerifier), and a SpiceInputSink sends keys and mouse
 * motion to QEMU over SPICE. Each input is sent only after the previous one was seen echoed, so
 * every echo is unambiguous: the first frame whose key-event count moved must show exactly that
 * key event (code and press/release) and the held-keys bitmap must agree.
 *
 * inputToFrameMs: host CLOCK_MONOTONIC when the key event was handed to the SPICE client →
 * host CLOCK_MONOTONIC when the first frame showing its echo was copied out of the region. One
 * sample per key event (press and release each).
 */
import { FrameRelay, type LentFrame } from '../../src/relay/frame-relay.js';
import { SpiceInputSink } from '../../src/spice/input-sink.js';
import { EchoVerifier, isHeld, type EchoState } from '../../guest-stub/evdev-echo.js';
import { startE2eGuest, type E2eGuest } from './guest.js';

/** KeyboardEvent.code → Linux key code (input-event-codes.h) for the keys the loop types. */
export const LINUX_KEYCODES: Record<string, number> = {
  Digit1: 2, Digit2: 3, Digit3: 4, Digit4: 5, Digit5: 6, Digit6: 7, Digit7: 8, Digit8: 9, Digit9: 10, Digit0: 11,
  KeyQ: 16, KeyW: 17, KeyE: 18, KeyR: 19, KeyT: 20, KeyY: 21, KeyU: 22, KeyI: 23, KeyO: 24, KeyP: 25,
  KeyA: 30, KeyS: 31, KeyD: 32, KeyF: 33, KeyG: 34, KeyH: 35, KeyJ: 36, KeyK: 37, KeyL: 38,
  KeyZ: 44, KeyX: 45, KeyC: 46, KeyV: 47, KeyB: 48, KeyN: 49, KeyM: 50,
};

export interface LoopOptions {
  keys: number;
  mouseMoves: number;
  width: number;
  height: number;
  fps: number;
  /** Wait this long for the guest's first frame (boot + node start under TCG). */
  bootTimeoutMs?: number;
  /** Wait this long for each echo before counting the input as lost. */
  echoTimeoutMs?: number;
  log?: (line: string) => void;
}

export interface LoopResult {
  framesFromGuest: number;
  verifyFailures: number;
  keysSent: number;
  keysEchoed: number;
  inputToFrameMs: { p50: number | null; p99: number | null };
  mouseSent: number;
  mouseEchoed: number;
  /** Key events: samples behind inputToFrameMs. */
  samples: number;
  /** Host ms from starting QEMU to the first verified guest frame. */
  bootMs: number;
  /** Guest-side share: µs from the kernel's event timestamp to the stub reading it (p50), guest clock. */
  guestQueueUs: { p50: number | null };
  errors: string[];
  /** Serial console tail when something went wrong. */
  serialTail?: string;
}

interface Seen {
  state: EchoState;
  copiedAtNs: bigint;
}

export function percentile(sorted: number[], p: number): number | null {
  if (!sorted.length) return null;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

export async function runLoop(o: LoopOptions): Promise<LoopResult> {
  const started = process.hrtime.bigint();
  const elapsed = () => `${(Number(process.hrtime.bigint() - started) / 1e9).toFixed(2)} s`;
  const log = (line: string) => o.log?.(`[${elapsed()}] ${line}`);
  const errors: string[] = [];
  const addError = (m: string) => {
    log(m);
    if (errors.length < 50) errors.push(m);
  };
  let guest: E2eGuest | undefined;
  let relay: FrameRelay | undefined;
  let sink: SpiceInputSink | undefined;
  let frames = 0;
  let verifyFailures = 0;
  let latest: Seen | null = null;
  let firstFrameNs = 0n;
  /** Called with every verified frame; the current echo wait installs itself here. */
  let onSeen: ((s: Seen) => void) | null = null;
  const verifier = new EchoVerifier();
  const latencies: number[] = [];
  const queueUs: number[] = [];
  let keysSent = 0;
  let keysEchoed = 0;
  let mouseSent = 0;
  let mouseEchoed = 0;

  /** Set once the guest side is gone (stub exited, QEMU died): every wait ends at once. */
  let gone = '';
  let onGone: (() => void) | null = null;
  const waitFor = (pred: (s: Seen) => boolean, timeoutMs: number): Promise<Seen | null> =>
    new Promise((resolve) => {
      if (latest && pred(latest)) return resolve(latest);
      if (gone) return resolve(null);
      const done = (s: Seen | null) => {
        clearTimeout(t);
        onSeen = null;
        onGone = null;
        resolve(s);
      };
      const t = setTimeout(() => done(null), timeoutMs);
      onSeen = (s) => pred(s) && done(s);
      onGone = () => done(null);
    });
  const watchGuest = setInterval(() => {
    if (gone || !guest) return;
    const exit = guest.lines().find((l) => l.startsWith('stub-exit'));
    if (exit) gone = `the stub in the guest exited (${exit})`;
    else if (guest.qemu.proc.exitCode !== null || guest.qemu.proc.signalCode !== null) gone = `QEMU exited: ${guest.qemu.stderr().slice(-500)}`;
    if (gone) {
      addError(gone);
      onGone?.();
    }
  }, 250);

  try {
    log(`booting the guest (${o.width}x${o.height} input-echo at ${o.fps} fps on the ivshmem BAR)…`);
    guest = await startE2eGuest({ width: o.width, height: o.height, fps: o.fps });
    relay = new FrameRelay({ path: guest.shmPath });
    // Before the first frame the guest is still booting: an all-zero region, then a session
    // being laid out. Those reports are expected; after it, any problem is an error of the run.
    relay.on('problem', (p) => (firstFrameNs ? addError(`relay: ${p.message}`) : log(`(booting) relay: ${p.message}`)));
    relay.on('frame', (f: LentFrame) => {
      try {
        frames++;
        const i = f.info;
        const r = verifier.verify(f.data, i.frameWidth, i.frameHeight, i.dataHeight, i.pitch, i.type, i.frameSerial);
        if (r.error || !r.state) {
          verifyFailures++;
          addError(`frame ${i.frameSerial}: ${r.error}`);
          return;
        }
        if (!firstFrameNs) firstFrameNs = f.copiedAtNs;
        latest = { state: r.state, copiedAtNs: f.copiedAtNs };
        onSeen?.(latest);
      } finally {
        f.release();
      }
    });
    void relay.start();

    const first = await waitFor(() => true, o.bootTimeoutMs ?? 180_000);
    if (!first) throw new Error(gone ? 'no frame from the guest' : `no verified frame from the guest within ${Math.round((o.bootTimeoutMs ?? 180_000) / 1000)} s`);
    log(`first guest frame after ${Number((firstFrameNs - started) / 1_000_000n)} ms; connecting SPICE`);

    sink = SpiceInputSink.open({ spice: guest.spice });
    await Promise.race([sink.client.whenConnected(), new Promise((_, reject) => setTimeout(() => reject(new Error(`SPICE did not connect to ${guest!.spice}`)), 30_000))]);

    log('SPICE connected; typing');
    const echoTimeout = o.echoTimeoutMs ?? 20_000;
    const keyNames = Object.keys(LINUX_KEYCODES);
    /** Sends one key event and waits for its echo; returns true when it was echoed exactly. */
    const keyEvent = async (name: string, down: boolean): Promise<boolean> => {
      const code = LINUX_KEYCODES[name]!;
      const base = latest!.state.keyEvents;
      const sentNs = process.hrtime.bigint();
      if (!(down ? sink!.keyDown(name) : sink!.keyUp(name))) {
        addError(`SPICE client refused ${name} ${down ? 'down' : 'up'} (not connected?)`);
        return false;
      }
      const seen = await waitFor((s) => s.state.keyEvents !== base, echoTimeout);
      if (!seen) {
        addError(`${name} ${down ? 'press' : 'release'} (code ${code}) was not echoed within ${echoTimeout} ms`);
        return false;
      }
      const s = seen.state;
      if (s.keyEvents !== base + 1 || s.lastCode !== code || s.lastValue !== (down ? 1 : 0) || isHeld(s, code) !== down) {
        addError(`${name} ${down ? 'press' : 'release'}: expected event #${base + 1} = code ${code} value ${down ? 1 : 0}, the frame shows #${s.keyEvents} = code ${s.lastCode} value ${s.lastValue}`);
        return false;
      }
      latencies.push(Number(seen.copiedAtNs - sentNs) / 1e6);
      if (s.lastReadUs > 0n && s.lastTimeUs > 0n) queueUs.push(Number(s.lastReadUs - s.lastTimeUs));
      return true;
    };

    for (let k = 0; k < o.keys && !gone; k++) {
      const name = keyNames[k % keyNames.length]!;
      keysSent++;
      const down = await keyEvent(name, true);
      const up = await keyEvent(name, false);
      if (down && up) keysEchoed++;
    }

    // Relative motion (SPICE server mouse mode → PS/2 mouse → REL_X/REL_Y): the guest pointer
    // must end where the sum of the moves puts it (the moves stay clear of the frame edges).
    for (let m = 0; m < o.mouseMoves && !gone; m++) {
      const dx = [7, -5, 3, -9][m % 4]!;
      const dy = [-4, 6, 2, -3][m % 4]!;
      const from = latest!.state;
      const want = { x: from.x + dx, y: from.y + dy };
      mouseSent++;
      sink.mouseMotion(dx, dy);
      const seen = await waitFor((s) => s.state.relEvents !== from.relEvents && s.state.x === want.x && s.state.y === want.y, echoTimeout);
      if (seen) mouseEchoed++;
      else addError(`mouse move (${dx}, ${dy}) from (${from.x}, ${from.y}) was not echoed within ${echoTimeout} ms: pointer at (${latest!.state.x}, ${latest!.state.y})`);
    }
  } catch (err) {
    addError((err as Error).message);
  }
  {
    // Always reached: close SPICE and the relay, kill QEMU, remove the region.
    clearInterval(watchGuest);
    await sink?.close().catch(() => undefined);
    await relay?.close().catch(() => undefined);
    const failed = errors.length > 0 || keysEchoed !== keysSent;
    const tail = failed ? guest?.serial().slice(-3000) : undefined;
    await guest?.stop();
    latencies.sort((a, b) => a - b);
    queueUs.sort((a, b) => a - b);
    const r2 = (v: number | null) => (v === null ? null : Math.round(v * 100) / 100);
    const result: LoopResult = {
      framesFromGuest: frames,
      verifyFailures,
      keysSent,
      keysEchoed,
      inputToFrameMs: { p50: r2(percentile(latencies, 50)), p99: r2(percentile(latencies, 99)) },
      mouseSent,
      mouseEchoed,
      samples: latencies.length,
      bootMs: firstFrameNs ? Number((firstFrameNs - started) / 1_000_000n) : -1,
      guestQueueUs: { p50: percentile(queueUs, 50) },
      errors,
      ...(tail !== undefined ? { serialTail: tail } : {}),
    };
    return result;
  }
}
