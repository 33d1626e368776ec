/**
 * How a relay uses the thread it runs on, one of its parts, chosen once when the relay is made:
 *  - on a shared thread (the main thread: `view --screenshot`, tests): woken through the event
 *    loop by the watcher's callback, copying on the libuv pool — the thread stays free;
 *  - on a thread of its own (the relay worker): blocked in the kernel until the watcher says a
 *    word changed (Watcher.waitSync, a futex) and copying on itself — no thread hand-off between
 *    the producer's post and the copy. Its event loop (messages from the window, timers) runs
 *    only when this part lets it: when the host rang the bell (it posted a message), after a wait
 *    that timed out, and at least every HOUSEKEEPING_MS while frames keep it busy.
 */
import { setImmediate as nextTurn } from 'node:timers/promises';
import { BELL_MAIL, WATCH_BELL, WATCH_TIMEOUT, type NativeRegion, type NativeWatcher } from '../native.js';

/** While frames keep a blocking relay busy, its event loop still runs at least this often. */
const HOUSEKEEPING_MS = 50;

/** The knobs of RelayOptions this part reads (see relay-types.ts). */
export interface RelayThreadOptions {
  waitOnThisThread?: boolean;
  copyOnThisThread?: boolean;
  bell?: Int32Array;
}

/** The arguments of NativeRegion.copyOut after the region. */
export type CopyArgs = Parameters<NativeRegion['copyOut']>;

/** One relay's use of its thread (see the module comment). Same thread as its relay. */
export class RelayThread {
  /** Waits block this thread (Watcher.waitSync). */
  readonly blocking: boolean;
  private readonly copyHere: boolean;
  private mailSeen = 0;
  private lastTurn = performance.now();

  constructor(private readonly o: RelayThreadOptions) {
    this.blocking = o.waitOnThisThread ?? false;
    this.copyHere = o.copyOnThisThread ?? false;
    if (o.bell) this.mailSeen = Atomics.load(o.bell, BELL_MAIL);
  }

  /** The bell the relay's watcher is made with (it rings when the host posts a message). */
  get bell(): Int32Array | undefined {
    return this.o.bell;
  }

  /**
   * Blocking relays: runs one turn of this thread's event loop when a message is waiting or
   * housekeeping is due; resolves at once otherwise. Event-loop relays: resolves at once.
   */
  async service(): Promise<void> {
    if (!this.blocking) return;
    const rang = this.o.bell !== undefined && Atomics.load(this.o.bell, BELL_MAIL) !== this.mailSeen;
    if (rang || performance.now() - this.lastTurn >= HOUSEKEEPING_MS) await this.turn();
  }

  /**
   * Waits until one of the watched (offset, value) words differs; the watcher's result index
   * (WATCH_BELL: a message came first — it has been handled when this resolves).
   */
  async wait(watcher: NativeWatcher, words: number[], timeoutMs: number): Promise<number> {
    if (!this.blocking) return new Promise<number>((resolve) => watcher.wait(words, timeoutMs, resolve));
    const [index] = this.o.bell ? watcher.waitSync(words, timeoutMs, this.mailSeen) : watcher.waitSync(words, timeoutMs);
    if (index === WATCH_BELL || index === WATCH_TIMEOUT) await this.turn();
    return index;
  }

  /** Copies out of the region (NativeRegion.copyOut's arguments) on this thread or on the libuv pool. */
  copy(region: NativeRegion, ...args: CopyArgs): Promise<number> | number {
    return this.copyHere ? region.copyOut(...args) : region.copyOutAsync(...args);
  }

  private async turn(): Promise<void> {
    if (this.o.bell) this.mailSeen = Atomics.load(this.o.bell, BELL_MAIL);
    this.lastTurn = performance.now();
    await nextTurn();
  }
}
