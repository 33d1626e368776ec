/**
 * In-process stand-ins for the viewer's window and frame source, so viewer behaviour (capture,
 * key routing, OSD messages, the fault barrier, figures) is tested without SDL or a child
 * process: FakeWindowBackend records what the viewer does to the window and lets the test play
 * the user's events; FakeFrameSource hands the viewer frames the test makes.
 */
import { EventEmitter } from 'node:events';
import type { WindowBackend, WindowEvents } from '../../src/viewer/window-backend.js';
import type { FrameGeometry, OverlayPlacement, Scaling } from '../../src/viewer/native-presenter.js';
import type { Rect } from '../../src/viewer/geometry.js';
import type { FrameSource, FrameSourceEvents } from '../../src/relay/frame-source.js';
import type { TakenFrame } from '../../src/relay/frame-mailbox.js';
import type { RelayCounters, RelayState } from '../../src/relay/frame-relay.js';
import type { KvmfrInfo } from '../../src/kvmfr/header.js';
import type { InputSink, KeyId, LockState, MouseButton } from '../../src/input/sink.js';
import { formatOf } from '../../src/kvmfr/formats.js';
import { pixelGeometry } from '../../src/kvmfr/geometry.js';
import type { FrameInfo } from '../../src/kvmfr/frame.js';
import { Viewer, type ViewerOptions } from '../../src/viewer/viewer.js';

export class FakeWindowBackend extends EventEmitter<WindowEvents> implements WindowBackend {
  pixelWidth = 640;
  pixelHeight = 360;
  destroyed = false;
  readonly titles: string[] = [];
  readonly captures: Array<{ on: boolean; relative: boolean; keyboard?: boolean }> = [];
  readonly sizes: Array<{ width: number; height: number }> = [];
  minimized = 0;
  readonly frames: Array<{ geometry: FrameGeometry; rects: readonly Rect[] | undefined; firstByte: number }> = [];
  readonly overlays = new Map<number, OverlayPlacement>();
  readonly presents: Array<{ dst: Rect; scaling: Scaling; quarterTurns: number }> = [];
  readonly messageScreens: string[][] = [];
  fullscreenToggles = 0;
  /** When set, setFrame throws it (a renderer refusing a frame). */
  failSetFrame: Error | null = null;
  keyboardGrab = true;
  locks: Required<LockState> | null = { capsLock: false, numLock: true, scrollLock: false };
  clipboard = null;
  audio = null;

  setTitle(title: string): void {
    this.titles.push(title);
  }
  toggleFullscreen(): void {
    this.fullscreenToggles++;
  }
  minimize(): void {
    this.minimized++;
  }
  setSize(width: number, height: number): void {
    this.sizes.push({ width, height });
  }
  setCapture(on: boolean, relative: boolean, keyboard?: boolean): boolean {
    this.captures.push(keyboard === false ? { on, relative, keyboard } : { on, relative });
    return this.keyboardGrab;
  }
  hostLocks(): Required<LockState> | null {
    return this.locks;
  }
  setFrame(data: Uint8Array, geometry: FrameGeometry, rects: readonly Rect[] | undefined): void {
    if (this.failSetFrame) throw this.failSetFrame;
    this.frames.push({ geometry, rects, firstByte: data[0]! });
  }
  setOverlay(slot: number, placement: OverlayPlacement): void {
    this.overlays.set(slot, { ...this.overlays.get(slot), ...placement });
  }
  present(dst: Rect, scaling: Scaling, quarterTurns = 0): void {
    this.presents.push({ dst, scaling, quarterTurns });
  }
  showMessage(lines: string[]): void {
    this.messageScreens.push(lines);
  }
  destroy(): void {
    this.destroyed = true;
  }

  /** The user taps a key (down, then up). */
  tap(scancode: number): void {
    this.emit('keyDown', { scancode, repeat: false });
    this.emit('keyUp', { scancode, repeat: false });
  }
}

/** A 64x32 BGRA frame every byte of which is `fill`. */
export function testFrame(serial: number, fill: number, patch: Partial<FrameInfo> = {}): TakenFrame {
  const base = { dataWidth: 64, dataHeight: 32, frameWidth: 64, pitch: 256, ...patch };
  const format = formatOf(patch.type ?? 1)!;
  const geometry = pixelGeometry(format, base);
  if (typeof geometry === 'string') throw new Error(geometry);
  const info: FrameInfo = {
    formatVer: 1, frameSerial: serial, type: 1, screenWidth: 64, screenHeight: 32, frameHeight: 32, rotation: 0, stride: 64, flags: 0,
    damageRects: [], frameOffset: 0, wpOffset: 0, dataOffset: 0, dataBytes: base.pitch * base.dataHeight, ...base, ...patch, format, geometry,
  };
  return { slot: 0, info, data: Buffer.alloc(info.dataBytes, fill), copiedAtNs: process.hrtime.bigint(), fullDamage: true, lease: 0, seenAtNs: 0n, wokeAtNs: 0n };
}

export class FakeFrameSource extends EventEmitter<FrameSourceEvents> implements FrameSource {
  state: RelayState = 'waiting';
  counters: RelayCounters = { framesSkipped: 0, sessions: 0, reopens: 0, lastProblemCode: null };
  session: KvmfrInfo | null = null;
  skipped = 0;
  started = false;
  closed = false;
  private latest: TakenFrame | null = null;

  async start(): Promise<void> {
    this.started = true;
  }
  async close(): Promise<void> {
    this.closed = true;
  }
  takeLatest(): TakenFrame | null {
    const f = this.latest;
    this.latest = null;
    return f;
  }
  setCursorPosition(): boolean {
    return false;
  }
  /** A frame becomes the newest; one not yet taken counts as skipped. */
  push(frame: TakenFrame): void {
    if (this.latest) this.skipped++;
    this.latest = frame;
    this.emit('ready');
  }
}

/** An InputSink that records what reaches the guest. */
export class RecordingSink implements InputSink {
  readonly events: string[] = [];
  absolute = false;
  keyDown(key: KeyId): boolean {
    this.events.push(`down ${key}`);
    return true;
  }
  keyUp(key: KeyId): boolean {
    this.events.push(`up ${key}`);
    return true;
  }
  mouseMotion(dx: number, dy: number): void {
    this.events.push(`motion ${dx},${dy}`);
  }
  mousePosition(x: number, y: number, width: number, height: number): void {
    this.events.push(`position ${x},${y} of ${width}x${height}`);
  }
  mouseButton(button: MouseButton, down: boolean): void {
    this.events.push(`button ${button} ${down ? 'down' : 'up'}`);
  }
  mouseWheel(notches: number): void {
    this.events.push(`wheel ${notches}`);
  }
  syncLocks(locks: LockState): void {
    this.events.push(`locks caps=${locks.capsLock} num=${locks.numLock}`);
  }
  releaseAll(): void {
    this.events.push('releaseAll');
  }
  async close(): Promise<void> {}
}

/**
 * A running Viewer over the fakes above (window, frame source, recording sink), added to `viewers`
 * for the caller to close; resolves once the viewer has opened its window and queued its first
 * present. `opened` holds what the viewer asked of the window (title, size, B7 window options).
 */
export async function startFakeViewer(viewers: Viewer[], extra: Partial<ViewerOptions> = {}) {
  const backend = new FakeWindowBackend();
  const source = new FakeFrameSource();
  const sink = new RecordingSink();
  const messages: string[] = [];
  const figures: Array<Record<string, unknown>> = [];
  const opened: Array<Record<string, unknown>> = [];
  const viewer = new Viewer({
    shm: '/dev/shm/unused',
    sink,
    inputName: 'test',
    source,
    openWindow: async (o) => {
      opened.push(o as unknown as Record<string, unknown>);
      return backend;
    },
    onMessage: (m) => messages.push(m),
    onFigures: (f) => figures.push(f as unknown as Record<string, unknown>),
    ...extra,
  });
  viewers.push(viewer);
  const running = viewer.run();
  const deadline = Date.now() + 5_000;
  while (!opened.length || !source.started) {
    if (Date.now() > deadline) throw new Error('timed out waiting for the fake viewer to open its window');
    await new Promise((r) => setImmediate(r));
  }
  await new Promise((r) => setImmediate(r)); // the first present runs
  return { viewer, backend, source, sink, messages, figures, opened, running };
}
