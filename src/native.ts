/**
 * The only module that loads the native addon (build/Release/glasspane.node); everything else
 * imports the typed surface from here. The addon knows nothing about frames: it maps memory,
 * does atomics and bulk copies at bounds-checked offsets, and runs watcher threads.
 *
 * Errors from the addon are plain JS errors, not GlasspaneError: TypeError for an argument of the
 * wrong type, RangeError for an offset, length or value out of bounds (nothing is touched then),
 * Error("region is closed") / Error("watcher is closed") after close(), and errno errors
 * (`code` such as 'ENOENT', `errno`, `syscall`, `path`) from opening a region or /dev/kvm.
 * src/region.ts turns the open errors into GlasspaneError ERR_REGION_OPEN with a fix; the callers
 * above treat the rest as bugs or as "the region went away".
 *
 * Blocking: `copyOut` and `writeIn` block the calling thread for the copy (copyOut also while it
 * waits for the producer, at most `timeoutMs` without progress), `Watcher.waitSync` up to its
 * `timeoutMs` (or until its bell rings), and the Presenter's setFrame/setOverlay/present for the upload and (present, with
 * vsync) the display's refresh; everything else returns at once. Region and Watcher calls may run
 * on any thread that created the object (the relay worker opens its own); the SDL calls
 * (`Presenter`, `sdlWindowGrab`, `sdlRelativeMouse`, `sdlTakeMotion`, `sdlLockState`) only on the
 * JS main thread, the one that runs SDL.
 *
 * A detached buffer: `NativeRegion.buffer` is an ArrayBuffer over the mapping itself. close()
 * detaches it, so every view made from it reads as length 0 (a typed-array index returns
 * undefined, a DataView access throws TypeError) instead of touching unmapped memory, and the
 * `buffer` getter itself throws Error("region is closed"). Views taken from the buffer are
 * therefore valid only until the region is closed.
 */
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { GlasspaneError } from './errors.js';

/** How the region was opened: a regular file (/dev/shm/NAME), a kvmfr device, or a PCI BAR file. */
export type RegionKind = 'file' | 'device' | 'pci-bar';

/** Options of `new native.Region(path, options)`; src/region.ts's openRegion() fills them. */
export interface RegionOpenOptions {
  /** Create the file if missing and grow it to `size` bytes (regular files only; never shrinks). */
  create?: boolean;
  /** Bytes to map; 0/undefined = the file's size or the kvmfr device's size. */
  size?: number;
  /**
   * Map read-only (O_RDONLY, PROT_READ). A write through it (a store, an atomic read-modify-write,
   * writeIn, a write into `buffer`) is a SIGSEGV that ends the process: only for pure readers.
   */
  readOnly?: boolean;
}

/**
 * A mapped shared-memory region. All offsets are byte offsets from the region start; every call
 * throws RangeError (and touches nothing) when offset+width is outside the region or misaligned,
 * TypeError when an argument has the wrong type, and Error("region is closed") after close().
 * Atomics use acquire (loads), release (stores) or acq_rel (read-modify-write) ordering. 32-bit
 * values are unsigned numbers; 64-bit values are bigints. Offsets are bounds-checked in C++, but
 * what the memory holds is the other side's: treat every value read as untrusted.
 *
 * Made by `new native.Region(path, options)` (use src/region.ts's openRegion() for errors a user
 * can act on): throws an errno error (code, errno, syscall, path) when open/fstat/ftruncate/mmap
 * fails. The mapping stays alive until close() or until both this object and `buffer` are
 * garbage; environment teardown (process exit, worker exit) closes what is still open.
 */
export interface NativeRegion {
  /** The whole mapping, lent to JS. Detached by close(): a late read throws, never segfaults. */
  readonly buffer: ArrayBuffer;
  readonly byteLength: number;
  readonly path: string;
  readonly kind: RegionKind;
  readonly closed: boolean;
  /**
   * True once the file shrank under the mapping (truncated, re-created, tmpfs full): a SIGBUS
   * inside it was survived by mapping zero pages over the whole region, so reads now return 0 and
   * writes reach nobody. The owner should report it and re-open the path.
   */
  readonly broken: boolean;
  /** "st_dev:st_ino" of the file that was mapped: compare with the path's stat to notice a re-created file. */
  readonly fileId: string;
  /** Unmaps (after any in-flight async copy ends) and detaches `buffer`. Safe to call twice. */
  close(): void;

  /**
   * Values stored must be integers in 0..0xffffffff (32-bit) or bigints in 0..2^64-1; others throw
   * RangeError (no silent wrap). Offsets must be multiples of the width (4 or 8). The
   * read-modify-write calls (add, and, or, xchg) return the value before the change.
   */
  load32(offset: number): number;
  store32(offset: number, value: number): void;
  /** Returns the value found; the swap happened when it equals `expected`. */
  cas32(offset: number, expected: number, desired: number): number;
  add32(offset: number, value: number): number;
  and32(offset: number, value: number): number;
  or32(offset: number, value: number): number;
  xchg32(offset: number, value: number): number;
  load64(offset: number): bigint;
  store64(offset: number, value: bigint): void;
  cas64(offset: number, expected: bigint, desired: bigint): bigint;
  add64(offset: number, value: bigint): bigint;
  and64(offset: number, value: bigint): bigint;
  or64(offset: number, value: bigint): bigint;
  xchg64(offset: number, value: bigint): bigint;

  /**
   * Copies `length` bytes at `srcOffset` into `dest` at `destOffset` while a producer may still be
   * writing them: the u32 at `wpOffset` (bytes written so far, relative to srcOffset) is followed;
   * the copy waits for more (spin, then sleep with backoff) and gives up after `timeoutMs` without
   * progress. `wpOffset < 0` copies at once. Returns the bytes copied (< length = gave up).
   * With `abortOffset`, waiting also ends as soon as the u32 there differs from `abortValue`
   * (the producer's session id: a producer restarting mid-frame ends the copy at once).
   * Blocks the calling thread while it waits (at most `timeoutMs` ms without progress; default
   * 10). `dest` is the caller's; the region bytes copied may be torn or hostile, check them after.
   * Throws RangeError when either range is out of bounds, a word offset is misaligned, or a
   * tracked copy exceeds 4 GiB.
   */
  copyOut(srcOffset: number, length: number, dest: ArrayBufferView | ArrayBuffer, destOffset: number, wpOffset: number, timeoutMs: number, abortOffset?: number, abortValue?: number): number;
  /**
   * copyOut on the libuv thread pool; the event loop stays free. Argument errors throw at the
   * call; a region closed before the copy starts rejects with Error("region is closed"). Until
   * the promise settles the mapping stays mapped even if close() is called meanwhile, and the
   * memory behind `dest` stays allocated even if it is detached (transferred) meanwhile: the copy
   * then lands where nobody reads it, never in freed memory. Do not detach it if you want the bytes.
   */
  copyOutAsync(srcOffset: number, length: number, dest: ArrayBufferView | ArrayBuffer, destOffset: number, wpOffset: number, timeoutMs: number, abortOffset?: number, abortValue?: number): Promise<number>;
  /**
   * Producer side: copies `length` bytes of `src` into the region at `dstOffset`, storing the
   * bytes written so far into the u32 at `wpOffset` after every `step` bytes (default 1 MiB;
   * `wpOffset < 0` = no write pointer). Blocks for the copy; never waits on the other side.
   * Throws RangeError when either range is out of bounds or `wpOffset` is misaligned.
   */
  writeIn(src: ArrayBufferView | ArrayBuffer, srcOffset: number, dstOffset: number, length: number, wpOffset: number, step?: number): void;
  /**
   * writeIn on the libuv thread pool; resolves to the bytes written. The memory behind `src` stays
   * allocated until it settles, even if `src` is detached meanwhile.
   */
  writeInAsync(src: ArrayBufferView | ArrayBuffer, srcOffset: number, dstOffset: number, length: number, wpOffset: number, step?: number): Promise<number>;
}

/**
 * Polling policy of a Watcher (all times in µs unless the name says ms; each 0..1e7, else
 * RangeError). The defaults suit a 60–240 fps producer that may sit idle for long stretches. The
 * trade-off at idle (docs/bench.md "Idle"): every wake of the polling thread costs tens of µs of
 * CPU on a VM, so after `deepIdleAfterMs` without a change it looks only every `deepIdleSleepUs`,
 * and the first change after that is seen up to that late; hint() ends the backoff at once.
 */
export interface WatcherOptions {
  /** Busy-wait this long at the start of every wait before sleeping (default 0: never). */
  spinUs?: number;
  /** First sleep, doubled up to maxSleepUs while nothing changes (at least 1 µs; default 5). */
  minSleepUs?: number;
  /** Sleep cap while changes are recent (default 100 us). */
  maxSleepUs?: number;
  /** Sleep cap once nothing changed for idleAfterMs (default 1000 us). */
  idleSleepUs?: number;
  /** Milliseconds without a change after which the idle sleep cap applies (default 500). */
  idleAfterMs?: number;
  /** Sleep cap once nothing changed for deepIdleAfterMs (default 16 000 us: a 60 Hz frame). */
  deepIdleSleepUs?: number;
  /** Milliseconds without a change after which the deep-idle cap applies (default 3000). */
  deepIdleAfterMs?: number;
  /** Near an expected change of a steady producer's word 0: poll this often (default 10 us). */
  fineSleepUs?: number;
  /** Before it: sleep at most this long at a time (default 500 us). */
  coarseSleepUs?: number;
  /**
   * In the window just before a steady producer's expected change: spin instead of napping every
   * fineSleepUs (default false: on a shared VM no quicker, and ~3 % more of a core at 144 fps).
   */
  spinBeforeExpected?: boolean;
  /**
   * Ask for SCHED_FIFO priority 1 for the polling thread when the process may (root,
   * CAP_SYS_NICE or an RLIMIT_RTPRIO). Default false: a real-time thread that spins before each
   * expected frame can starve the rest of a small machine, so it is never chosen for the user.
   */
  realtime?: boolean;
  /**
   * waitSync() polls on the calling thread — napping in the kernel on the bell, so a ring still
   * ends a nap at once — instead of handing the poll to the watcher's thread and sleeping until
   * it answers (default true: no thread hand-off between the change and the caller, which on a
   * busy machine costs a scheduler wake-up; docs/bench.md compares the two).
   */
  pollOnCaller?: boolean;
  /**
   * A bell (see `native.ringBell`): an Int32Array of at least 4 words over a SharedArrayBuffer.
   * waitSync() then also returns WATCH_BELL when the bell is rung, and the polling thread sleeps on
   * its hint word (hintBell ends a backoff). The watcher keeps the buffer alive while it runs.
   */
  bell?: Int32Array;
}

/** Watcher result index: which word changed, or one of these. This one: `timeoutMs` passed with no change. */
export const WATCH_TIMEOUT = -1;
/** Watcher result index: cancel() ended the wait. */
export const WATCH_CANCELLED = -2;
/** Watcher result index: the watcher or its region was closed during the wait. */
export const WATCH_CLOSED = -3;
/** Watcher result index (waitSync with a bell): the bell was rung, a message is waiting for this thread. */
export const WATCH_BELL = -4;
/** Words of a bell (WatcherOptions.bell): how long its Int32Array must be. */
export const BELL_WORDS = 4;
/** The bell word that counts rings (ringBell): a waiter passes the count it has handled as `mailSeen`. */
export const BELL_MAIL = 1;

/**
 * A native thread that polls up to four u32 words of a region for a change (acquire loads), made
 * by `new native.Watcher(region, options)` (TypeError without a Region or with a bad bell; Error
 * when the region is closed). It holds the mapping while it polls, so closing the region ends a
 * wait with WATCH_CLOSED rather than a fault. Offsets must be 4-byte aligned and inside the region
 * (RangeError otherwise); `timeoutMs` is clamped to 0..3 600 000. A second wait while one is
 * outstanding throws Error. The polling policy: WatcherOptions.
 */
export interface NativeWatcher {
  /**
   * Arms one wait: `words` holds up to 4 (offset, expectedValue) pairs; the native thread calls
   * back on the JS thread with the index of the first word found different and its value, or
   * WATCH_TIMEOUT / WATCH_CANCELLED / WATCH_CLOSED. One wait at a time. Only an armed wait keeps
   * the process alive. close() during a wait settles it with WATCH_CLOSED before returning.
   */
  wait(words: number[], timeoutMs: number, callback: (index: number, value: number) => void): void;
  /**
   * The same wait with the calling thread blocked in the kernel (a futex: no slices, no spinning
   * in the caller) until the polling thread reports [index, value] as wait() would. With a bell
   * and `mailSeen` (the bell's BELL_MAIL count the caller has handled), it returns
   * [WATCH_BELL, 0] as soon as the bell is rung — also at once, without waiting, when it already
   * was. For a thread that only consumes (the relay worker). Not while a wait() is outstanding.
   */
  waitSync(words: number[], timeoutMs: number, mailSeen?: number): [number, number];
  /**
   * Ends the outstanding wait with WATCH_CANCELLED. With no wait outstanding it cancels the next
   * one (a cancel is never lost to a race with the arm).
   */
  cancel(): void;
  /** A change is likely soon: end the idle backoff and poll fast (as after a change). */
  hint(): void;
  /** Stops and joins the thread. Safe to call twice. */
  close(): void;
  /** True while a wait() is armed and its callback has not run yet. */
  readonly busy: boolean;
}

/**
 * Presents frames in an SDL window through the window's own renderer, with persistent textures
 * (native/sdl_present.h). Typed loosely on purpose: src/viewer/native-presenter.ts is its only
 * user and validates every argument before the call. JS main thread only.
 */
export interface NativePresenterHandle {
  /** Re-checks the window's renderer; returns a generation number that changes when the textures were lost. Throws when the window is gone. */
  check(): number;
  /** Uploads `rects` (x, y, w, h groups; null = all) of the frame; returns the bytes uploaded. */
  setFrame(pixels: Uint8Array, width: number, height: number, stride: number, srcFormat: number, rects: Int32Array | null): number;
  setOverlay(slot: number, pixels: Uint8Array | null, width: number, height: number, stride: number, rgba: boolean): void;
  /**
   * Draws the frame into dst, turned clockwise by quarterTurns × 90°, and the overlays ([slot, x, y,
   * space] groups; space 0 frame pixels, 1 window pixels) over it, then presents; false = no frame texture.
   */
  present(dx: number, dy: number, dw: number, dh: number, linear: boolean, overlays: Float64Array, quarterTurns: number): boolean;
  info(): { renderer: string; software: boolean; textureFormat: string; glRenderer: string | null; maxTextureWidth: number; maxTextureHeight: number; generation: number };
  /** The last present(): µs drawing into the back buffer, µs in SDL_RenderPresent (the put to the display). */
  timings(): [drawUs: number, presentUs: number];
  close(): void;
}

interface Addon {
  Region: new (path: string, options?: RegionOpenOptions) => NativeRegion;
  Watcher: new (region: NativeRegion, options?: WatcherOptions) => NativeWatcher;
  /**
   * Rings a bell (WatcherOptions.bell) from any thread of this process: its BELL_MAIL count goes
   * up and a thread blocked in waitSync on a watcher with this bell returns WATCH_BELL. Use it
   * after posting that thread a message. TypeError/RangeError for anything but an Int32Array of
   * at least BELL_WORDS words over a SharedArrayBuffer.
   */
  ringBell(bell: Int32Array): void;
  /** Tells the polling thread of the watcher with this bell that a change is likely soon (see NativeWatcher.hint). */
  hintBell(bell: Int32Array): void;
  setCopyStrategy(strategy: 'auto' | 'memcpy' | 'avx2-stream'): void;
  getCopyStrategy(): 'auto' | 'memcpy' | 'avx2-stream';
  /** libc memcpy of min(dst, src) bytes: the benchmarks' yardstick. */
  memcpyBaseline(dst: Uint8Array, src: Uint8Array): void;
  cpuHasAvx2: boolean;
  /** SIGBUS faults inside our mappings survived so far in this process (see `NativeRegion.broken`). */
  guardFaultCount(): number;
  /**
   * Grabs (or releases) keyboard and mouse for an SDL window by its id, through the SDL2 library
   * already loaded in this process (the viewer's). Returns the grab state SDL reports afterwards,
   * or null when SDL2 >= 2.0.16 is not loaded or no window has that id. SDL grabs only while the
   * window has input focus. JS main thread only.
   */
  sdlWindowGrab(windowId: number, keyboard: boolean, mouse: boolean): { keyboard: boolean; mouse: boolean } | null;
  /**
   * SDL's pending error text, cleared by the call (SDL_GetError + SDL_ClearError through the loaded
   * SDL2; see native/sdl_grab.h); null when none is pending or SDL2 is not loaded. Main thread.
   */
  sdlTakeError(): string | null;
  /**
   * Starts SDL's video subsystem again through the loaded SDL2 (see native/sdl_grab.h): the
   * driver's name, or null when it still does not start or SDL2 is not loaded. Main thread.
   */
  sdlStartVideo(): string | null;
  /** Throws when SDL2 is not loaded in this process or no window has that id. */
  Presenter: new (windowId: number) => NativePresenterHandle;
  /**
   * SDL's relative mouse mode on/off through the loaded SDL2 (see native/sdl_input.h); on also
   * zeroes and starts the xrel/yrel sums. Null when SDL2 is not loaded. JS main thread only.
   */
  sdlRelativeMouse(on: boolean): boolean | null;
  /** The xrel/yrel sums and motion-event count since the last call (zeroed by it). */
  sdlTakeMotion(): [dx: number, dy: number, events: number];
  /**
   * The file descriptor of the X11 connection the SDL window `windowId` gets its events from, or
   * -1 (another video driver, SDL2 not loaded, no such window). Only for watching: never read it.
   */
  sdlEventFd(windowId: number): number;
  /**
   * Calls `callback` on this thread's event loop whenever `fd` is readable (level-triggered: the
   * callback must drain what is pending, or it runs again next turn) until close(). Keeps the
   * event loop alive while open. TypeError/RangeError for a bad fd or callback.
   */
  FdWatch: new (fd: number, callback: () => void) => { close(): void };
  /** The host's lock keys as SDL knows them (SDL_GetModState), or null when SDL2 is not loaded. */
  sdlLockState(): { caps: boolean; num: boolean; scroll: boolean } | null;
  /** Opens `path` read-write and returns its KVM_GET_API_VERSION (12); throws an errno error (code, syscall, path) otherwise. */
  kvmApiVersion(path: string): number;
}

/** The package folder: the nearest one up from this module that holds binding.gyp (src/ or dist/src/ below it). */
function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5 && !existsSync(join(dir, 'binding.gyp')); i++) dir = dirname(dir);
  return dir;
}

const require = createRequire(import.meta.url);
let addon: Addon | undefined;

/**
 * Loads the addon the way `npm install` found or built it (node-gyp-build: build/Release, or a
 * prebuilds/ binary for this platform and ABI), or the file GLASSPANE_NATIVE_ADDON names (the
 * sanitizer build `npm run test:native-sanitize` makes). Throws GlasspaneError
 * ERR_NATIVE_MISSING, with the command that builds it, when there is none or it does not load.
 */
export function loadAddon(): Addon {
  if (addon) return addon;
  const root = packageRoot();
  try {
    const override = process.env.GLASSPANE_NATIVE_ADDON;
    addon = (override ? require(override) : require('node-gyp-build')(root)) as Addon;
    return addon;
  } catch (err) {
    throw new GlasspaneError(
      'ERR_NATIVE_MISSING',
      `the native addon build/Release/glasspane.node is missing or does not load (${err instanceof Error ? err.message.split('\n')[0] : String(err)})`,
      `run \`tools/setup\` in ${root} (or \`npm run build:native\`; it needs g++, make and python3)`,
      { cause: err },
    );
  }
}

/**
 * The addon, loaded on first use: commands that never touch shared memory (--help, send, doctor,
 * vm, vfio) work without it, and those that do get the error above instead of a stack trace.
 */
export const native: Addon = new Proxy({} as Addon, {
  get: (_target, key) => Reflect.get(loadAddon(), key),
  has: (_target, key) => Reflect.has(loadAddon(), key),
});

/**
 * The X server's screen as X11Capture.screen() reads it: the root window's size (a round trip),
 * the root depth, the bits per pixel and scanline pad of that depth's pixmaps, the server's image
 * byte order and the root visual's channel masks.
 */
export interface X11Screen {
  width: number;
  height: number;
  depth: number;
  bitsPerPixel: number;
  scanlinePad: number;
  imageByteOrder: 'lsb' | 'msb';
  redMask: number;
  greenMask: number;
  blueMask: number;
}

/** XFixes' current cursor: (x, y) is the hotspot on the screen; `pixels` ARGB words, alpha premultiplied, row after row. */
export interface X11CursorImage {
  x: number;
  y: number;
  hotX: number;
  hotY: number;
  width: number;
  height: number;
  serial: number;
  pixels: Uint32Array;
}

/** Bits of X11Capture.takeEvents(): what changed since the last call. */
export const X11Pending = { DAMAGE: 1, CURSOR: 2, POINTER: 4, SCREEN: 8, ERROR: 16, GONE: 32 } as const;

/**
 * One connection to an X display for `glasspane capture` (native/x11_capture.h), made by `new
 * X11Capture(display)` (null = $DISPLAY). Errors are plain JS errors with a `code`: X11_CONNECT,
 * X11_EXTENSION, X11_SHM, X11_REQUEST (a request failed or the connection was lost), X11_CLOSED
 * (after close()); TypeError/RangeError for bad arguments. Nothing here blocks the event loop for
 * longer than one round trip to the server (screen(), attach(), setTargets()); the *Async calls
 * run theirs on the libuv pool. The X server writes the pixels into the attached file itself.
 */
export interface NativeX11Capture {
  screen(): X11Screen;
  /** Starts the event thread; `onWake` runs on this thread when takeEvents() has something new (coalesced). Does not keep the process alive. */
  start(onWake: () => void): void;
  /**
   * The X11Pending bits since the last call (cleared), the X errors reported meanwhile, and where
   * the pointer's hotspot is (root coordinates; the event thread reads it after raw motion and
   * warps, and polls for other clients' warps: every 16 ms for half a second after a change, every
   * 100 ms otherwise).
   */
  takeEvents(): { bits: number; errors: string[]; pointer: { x: number; y: number; onScreen: boolean } };
  /** Hands `path` (opened read-write) to the server as the MIT-SHM segment; the server maps the whole file. Drops the previous one and its targets. */
  attach(path: string): void;
  /** One shared pixmap of width x height (the server's pitch for the root depth) at each byte offset of the segment. */
  setTargets(offsets: number[], width: number, height: number): void;
  /** The damage since the last call (x, y, w, h quadruples), cleared. */
  takeDamageAsync(): Promise<Int32Array>;
  /** Copies each rectangle (x, y, w, h) of the screen to the same place of target `target`; resolves when the server is done. */
  copyAsync(target: number, rects: Int32Array): Promise<void>;
  cursorAsync(): Promise<X11CursorImage>;
  /** Moves the pointer to root (x, y) (clamped to 16 bits); the event thread then reads it back (X11Pending.POINTER). */
  warp(x: number, y: number): void;
  /** Stops the thread, ends round trips in flight (they reject), disconnects. Safe twice. */
  close(): void;
  readonly closed: boolean;
}

interface X11Addon {
  X11Capture: new (display: string | null) => NativeX11Capture;
}

let x11Addon: X11Addon | undefined;

/**
 * The X11 capture addon (build/Release/glasspane_x11.node), built beside the core addon where the
 * xcb development files were found. Throws GlasspaneError ERR_X11_MISSING with the packages to
 * install when it was not built or does not load.
 */
export function loadX11Addon(): X11Addon {
  if (x11Addon) return x11Addon;
  const file = join(packageRoot(), 'build', 'Release', 'glasspane_x11.node');
  try {
    x11Addon = require(file) as X11Addon;
    return x11Addon;
  } catch (err) {
    throw new GlasspaneError(
      'ERR_X11_MISSING',
      `the X11 capture addon ${file} ${existsSync(file) ? `does not load (${err instanceof Error ? err.message.split('\n')[0] : String(err)})` : 'was not built (the xcb development files were missing)'}`,
      'install pkg-config libxcb-shm0-dev libxcb-damage0-dev libxcb-xfixes0-dev libxcb-xinput-dev (`tools/setup` does), then `npm run build:native`',
      { cause: err },
    );
  }
}
