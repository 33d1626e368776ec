/**
 * LockSync's policy with an in-memory sink (real QEMU, guest LEDs and xdotool are in
 * test/viewer/guest-av.test.ts): sync at capture start, again when the guest reports something
 * else (after its reports settle), ScrollLock left alone when it is the escape key, the key-event
 * fallback without SDL's state, and no endless loop with a guest that never follows.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { NullInputSink, type LockState } from '../../src/input/sink.js';
import { LockSync } from '../../src/viewer/lock-sync.js';

class Sink extends NullInputSink {
  synced: LockState[] = [];
  report?: (l: Required<LockState>) => void;
  override syncLocks(l: LockState): void {
    this.synced.push(l);
  }
  onGuestLocks(listener: (l: Required<LockState>) => void): void {
    this.report = listener;
  }
}

const locks = (caps: boolean, num = false, scroll = false): Required<LockState> => ({ capsLock: caps, numLock: num, scrollLock: scroll });
/** The settle threshold on a fake clock (timers and performance.now), so the policy is tested without sleeping. */
const wait = (ms: number) => vi.advanceTimersByTime(ms);

describe('LockSync', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('syncs at capture start from the host state, leaving ScrollLock to the guest when it is the escape key', () => {
    const sink = new Sink();
    const ls = new LockSync({ sink, host: () => locks(true, true, true), scroll: false, warn: () => {} });
    ls.setCapture(true);
    expect(sink.synced).toEqual([{ capsLock: true, numLock: true, scrollLock: undefined }]);
    ls.keyEvent({ capslock: false }); // already synced: the key event is not a second source
    expect(sink.synced).toHaveLength(1);
    const withScroll = new Sink();
    new LockSync({ sink: withScroll, host: () => locks(false, false, true), scroll: true, warn: () => {} }).setCapture(true);
    expect(withScroll.synced).toEqual([{ capsLock: false, numLock: false, scrollLock: true }]);
  });

  it('puts the guest back when it reports other LEDs in capture (once the reports settle), not out of capture', () => {
    const sink = new Sink();
    const ls = new LockSync({ sink, host: () => locks(true), scroll: false, warn: () => {}, settleMs: 30 });
    sink.report!(locks(false)); // out of capture: none of our business
    wait(60);
    expect(sink.synced).toEqual([]);
    ls.setCapture(true);
    sink.report!(locks(true)); // the guest followed
    wait(60);
    expect(sink.synced).toHaveLength(1);
    sink.report!(locks(false, true)); // something in the guest toggled two locks, one report each
    sink.report!(locks(false));
    wait(80);
    expect(sink.synced).toHaveLength(2);
    expect(sink.synced[1]).toEqual({ capsLock: true, numLock: false, scrollLock: undefined });
    ls.close();
  });

  it('gives up after a few tries with a guest that never follows, and says so once', () => {
    const sink = new Sink();
    const warnings: string[] = [];
    const ls = new LockSync({ sink, host: () => locks(true), scroll: false, warn: (m) => warnings.push(m), settleMs: 10, maxTries: 3 });
    ls.setCapture(true);
    for (let i = 0; i < 8; i++) {
      sink.report!(locks(i % 2 === 0, false)); // flaps; the settled state keeps disagreeing
      sink.report!(locks(false));
      wait(30);
    }
    expect(sink.synced).toHaveLength(1 + 3);
    expect(warnings).toEqual(["the guest does not follow the host's lock keys (CapsLock/NumLock); toggle them in the guest by hand"]);
    ls.close();
  });

  it('without SDL\'s lock state, the first key event in capture carries it', () => {
    const sink = new Sink();
    const ls = new LockSync({ sink, host: () => null, scroll: false, warn: () => {} });
    ls.keyEvent({ capslock: 1 }); // not in capture: nothing
    ls.setCapture(true);
    expect(sink.synced).toEqual([]);
    ls.keyEvent({ capslock: 1, numlock: 0 });
    ls.keyEvent({ capslock: 0 });
    expect(sink.synced).toEqual([{ capsLock: true, numLock: false, scrollLock: undefined }]);
  });
});
