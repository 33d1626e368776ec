/**
 * The region as a relay holds it: the mapping, a DataView over it and a watcher thread on it, and
 * the two ways of waiting for a producer (through the event loop, or blocking the relay's own
 * thread in short slices). Knows when the mapping is no good any more: the file shrank under it
 * (a SIGBUS the addon survived) or the path now names another file (deleted and re-created).
 */
import { setImmediate as nextTurn } from 'node:timers/promises';
import { openRegion, regionFileChanged, type Region } from '../region.js';
import { native, WATCH_CANCELLED, WATCH_TIMEOUT, type NativeWatcher, type WatcherOptions } from '../native.js';

/** Blocking waits: the longest the thread blocks before its event loop runs (messages, timers). */
const BLOCKING_SLICE_MS = 5;

/**
 * One open region with its watcher, made by open() and owned by one FrameRelay, which closes it.
 * `dv` covers the whole mapping and dies with close() (a late access throws TypeError: the buffer
 * is detached). Same thread as its relay.
 */
export class RelayRegion {
  readonly dv: DataView;
  private readonly watcher: NativeWatcher;

  private constructor(readonly region: Region, watcherOptions: WatcherOptions | undefined) {
    this.dv = new DataView(region.buffer);
    try {
      this.watcher = new native.Watcher(region, watcherOptions);
    } catch (err) {
      region.close();
      throw err;
    }
  }

  /** Maps `path` (throws the errors of openRegion: missing, permissions, not a region). */
  static open(path: string, watcherOptions?: WatcherOptions): RelayRegion {
    return new RelayRegion(openRegion(path), watcherOptions);
  }

  /** Stops the watcher (an outstanding wait settles with WATCH_CLOSED) and unmaps. */
  close(): void {
    this.watcher.close();
    this.region.close();
  }

  /** Ends an outstanding event-loop wait with WATCH_CANCELLED. */
  cancel(): void {
    this.watcher.cancel();
  }

  /** Why the mapping must be re-opened, or null while it is good. */
  lost(): { code: 'ERR_REGION_TRUNCATED' | 'ERR_REGION_REPLACED'; why: string } | null {
    const r = this.region;
    if (r.broken) return { code: 'ERR_REGION_TRUNCATED', why: `${r.path} shrank under glasspane (truncated or re-created)` };
    const why = regionFileChanged(r);
    return why ? { code: 'ERR_REGION_REPLACED', why } : null;
  }

  /**
   * Waits until one of the watched (offset, value) words differs; the watcher's result index.
   * `onThisThread`: block this thread (Watcher.waitSync) in slices, running the event loop between
   * them and giving up with WATCH_CANCELLED once `stop()` says so.
   */
  async waitForChange(words: number[], timeoutMs: number, onThisThread: boolean, stop: () => boolean): Promise<number> {
    if (!onThisThread) return new Promise<number>((resolve) => this.watcher.wait(words, timeoutMs, resolve));
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const [index] = this.watcher.waitSync(words, Math.max(0, Math.min(BLOCKING_SLICE_MS, deadline - performance.now())));
      if (index !== WATCH_TIMEOUT) return index;
      if (performance.now() >= deadline) return WATCH_TIMEOUT;
      await nextTurn(); // messages (close, cursor position) and timers
      if (stop()) return WATCH_CANCELLED;
    }
  }
}
