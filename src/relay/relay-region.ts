/**
 * The region as a relay holds it: the mapping, a DataView over it and a watcher thread on it.
 * Knows when the mapping is no good any more: the file shrank under it (a SIGBUS the addon
 * survived) or the path now names another file (deleted and re-created). How waiting uses the
 * relay's thread is RelayThread's business (relay-thread.ts).
 */
import { openRegion, regionFileChanged, type Region } from '../region.js';
import { native, type NativeWatcher, type WatcherOptions } from '../native.js';
import type { RelayThread } from './relay-thread.js';

/**
 * One open region with its watcher, made by open() and owned by one relay, which closes it.
 * `dv` covers the whole mapping and dies with close() (a late access throws TypeError: the buffer
 * is detached). Same thread as its relay.
 */
export class RelayRegion {
  readonly dv: DataView;
  private readonly watcher: NativeWatcher;

  private constructor(
    readonly region: Region,
    watcherOptions: WatcherOptions | undefined,
    private readonly thread: RelayThread,
  ) {
    this.dv = new DataView(region.buffer);
    try {
      this.watcher = new native.Watcher(region, { ...watcherOptions, bell: thread.bell });
    } catch (err) {
      region.close();
      throw err;
    }
  }

  /** Maps `path` (throws the errors of openRegion: missing, permissions, not a region). */
  static open(path: string, watcherOptions: WatcherOptions | undefined, thread: RelayThread): RelayRegion {
    return new RelayRegion(openRegion(path), watcherOptions, thread);
  }

  /** Stops the watcher (an outstanding wait settles with WATCH_CLOSED) and unmaps. */
  close(): void {
    this.watcher.close();
    this.region.close();
  }

  /** Ends the outstanding wait with WATCH_CANCELLED, or the next one if none is outstanding. */
  cancel(): void {
    this.watcher.cancel();
  }

  /** A change is likely soon (the user sent input to the guest): the watcher polls fast again. */
  hint(): void {
    this.watcher.hint();
  }

  /** Why the mapping must be re-opened, or null while it is good. */
  lost(): { code: 'ERR_REGION_TRUNCATED' | 'ERR_REGION_REPLACED'; why: string } | null {
    const r = this.region;
    if (r.broken) return { code: 'ERR_REGION_TRUNCATED', why: `${r.path} shrank under glasspane (truncated or re-created)` };
    const why = regionFileChanged(r);
    return why ? { code: 'ERR_REGION_REPLACED', why } : null;
  }

  /** Waits until one of the watched (offset, value) words differs; the watcher's result index. */
  waitForChange(words: number[], timeoutMs: number): Promise<number> {
    return this.thread.wait(this.watcher, words, timeoutMs);
  }
}
