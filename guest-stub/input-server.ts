/**
 * guest-stub's input endpoint: a WebSocket server (loopback) that takes the viewer's stub input
 * sink messages, keeps the guest-side state (held keys, pointer, buttons) the way a guest would,
 * and draws it as an overlay for the "input" scene. Every message can also be logged as a JSON
 * line (tests read that log).
 */
import { WebSocketServer } from 'ws';
import type { AddressInfo } from 'node:net';
import type { PixelLayout } from '../src/kvmfr/pixels.js';
import { textPanel, type TextPanel } from '../src/draw/text-panel.js';
import type { StubInputMessage } from '../src/scenes/input-messages.js';

const isInt = (v: unknown): v is number => Number.isSafeInteger(v);
const BUTTON_NAMES: ReadonlySet<unknown> = new Set(['left', 'middle', 'right', 'side', 'extra']);

/**
 * Whether `m` (parsed JSON from the socket) is a StubInputMessage with every field of the right
 * type and integers in range, so a malformed message is dropped instead of throwing inside the
 * socket's listener (which would end the stub).
 */
export function isStubInputMessage(m: unknown): m is StubInputMessage {
  if (typeof m !== 'object' || m === null) return false;
  const o = m as Record<string, unknown>;
  switch (o.t) {
    case 'key':
      return typeof o.down === 'boolean' && isInt(o.scancode) && (o.scancode as number) >= 0 && (o.scancode as number) <= 0xffff;
    case 'motion':
      return isInt(o.dx) && isInt(o.dy) && isInt(o.buttons);
    case 'position':
      return isInt(o.x) && isInt(o.y) && isInt(o.buttons);
    case 'button':
      return BUTTON_NAMES.has(o.button) && typeof o.down === 'boolean' && isInt(o.buttons);
    case 'wheel':
      return isInt(o.notches);
    default:
      return false;
  }
}

/**
 * guest-stub's input endpoint (see the module comment), made by listen(). Listens on 127.0.0.1
 * only; messages are taken as the viewer's StubInputSink sends them (a message that is not JSON, or not
 * of that shape — isStubInputMessage — is ignored). The
 * pointer is clamped to the frame for motion, not for absolute positions; drawing clips.
 */
export class StubInputServer {
  readonly held = new Set<number>();
  pointer = { x: 0, y: 0 };
  buttons = 0;
  readonly recent: string[] = [];
  received = 0;
  private overlay: TextPanel | null = null;
  private overlayStale = true;

  private constructor(
    private readonly wss: WebSocketServer,
    private readonly bounds: { width: number; height: number },
    private readonly onMessage?: (m: StubInputMessage) => void,
  ) {
    this.pointer = { x: bounds.width >> 1, y: bounds.height >> 1 };
    wss.on('connection', (ws) => {
      ws.on('message', (data) => {
        let m: unknown;
        try {
          m = JSON.parse(String(data));
        } catch {
          return; // not ours: ignore
        }
        if (isStubInputMessage(m)) this.apply(m);
      });
    });
  }

  /**
   * Starts listening on 127.0.0.1:`port` (0 = any free port) for a frame of `bounds` pixels;
   * `onMessage` sees every message after it was applied. Rejects with the listen error
   * (EADDRINUSE…).
   */
  static async listen(port: number, bounds: { width: number; height: number }, onMessage?: (m: StubInputMessage) => void): Promise<StubInputServer> {
    const wss = new WebSocketServer({ host: '127.0.0.1', port });
    await new Promise<void>((resolve, reject) => {
      wss.once('listening', resolve);
      wss.once('error', reject);
    });
    return new StubInputServer(wss, bounds, onMessage);
  }

  /** The ws:// URL clients connect to (the port actually bound). */
  get url(): string {
    return `ws://127.0.0.1:${(this.wss.address() as AddressInfo).port}`;
  }

  private apply(m: StubInputMessage): void {
    this.received++;
    let text = '';
    switch (m.t) {
      case 'key':
        if (m.down) this.held.add(m.scancode);
        else this.held.delete(m.scancode);
        text = `key ${m.down ? 'down' : 'up'} 0x${m.scancode.toString(16)}`;
        break;
      case 'motion':
        this.pointer = {
          x: Math.min(this.bounds.width - 1, Math.max(0, this.pointer.x + m.dx)),
          y: Math.min(this.bounds.height - 1, Math.max(0, this.pointer.y + m.dy)),
        };
        text = `motion ${m.dx} ${m.dy}`;
        break;
      case 'position':
        this.pointer = { x: m.x, y: m.y };
        text = `position ${m.x} ${m.y}`;
        break;
      case 'button':
        this.buttons = m.buttons;
        text = `button ${m.button} ${m.down ? 'down' : 'up'}`;
        break;
      case 'wheel':
        text = `wheel ${m.notches}`;
        break;
      default:
        return;
    }
    this.recent.push(text);
    if (this.recent.length > 6) this.recent.shift();
    this.overlayStale = true;
    this.onMessage?.(m);
  }

  /** The overlay panel for the "input" scene, redrawn only after input changed. */
  panel(layout: PixelLayout): TextPanel {
    if (this.overlay && !this.overlayStale) return this.overlay;
    this.overlay = textPanel(
      [
        [`guest input · pointer ${this.pointer.x},${this.pointer.y} · buttons ${this.buttons}`, '#ffff80'],
        [`held: ${[...this.held].map((s) => s.toString(16)).join(' ') || '-'}`, '#ffff80'],
        ...this.recent.map((t): [string, string] => [t, '#ffffff']),
      ],
      { width: 360, background: '#000030', lineHeight: 16, fit: true, maxWidth: 720 },
      layout,
    );
    this.overlayStale = false;
    return this.overlay;
  }

  /**
   * The "input" scene's overlay: the panel at (16, 120) — below the viewer's OSD — and a white
   * crosshair at the pointer, drawn into 32-bit `pixels` of `width` x `rows` with `pitch` bytes a row.
   */
  drawOnto(pixels: Buffer, width: number, rows: number, pitch: number, layout: PixelLayout): void {
    const p = this.panel(layout);
    const x0 = 16;
    const y0 = 120;
    for (let y = 0; y < p.height && y0 + y < rows; y++) {
      const w = Math.min(p.width, width - x0) * 4;
      if (w > 0) p.pixels.copy(pixels, (y0 + y) * pitch + x0 * 4, y * p.width * 4, y * p.width * 4 + w);
    }
    const { x, y } = this.pointer;
    for (let d = -8; d <= 8; d++) {
      for (const [px, py] of [[x + d, y], [x, y + d]] as const) {
        if (px > 0 && py > 0 && px < width && py < rows) pixels.writeUInt32LE(0xffffffff, py * pitch + px * 4);
      }
    }
  }

  /** Drops every client and stops listening; resolves when the server is closed. */
  close(): Promise<void> {
    for (const c of this.wss.clients) c.terminate();
    return new Promise((resolve) => this.wss.close(() => resolve()));
  }
}
