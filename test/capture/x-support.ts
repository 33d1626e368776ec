/**
 * What the X11 capture tests share: the drawing client (fixtures/x-draw.c, built once per test
 * process), a nested Xephyr (the X server here that resizes with xrandr), and the pixel check of a
 * captured frame against the display's own contents (xwd).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { startXServer, type Xvfb } from '../support/xvfb.js';
import type { XImage } from '../support/xwd.js';
import type { FrameInfo, Rect } from '../../src/kvmfr/frame.js';
import { FrameType } from '../../src/kvmfr/layout.js';

let xdrawBin: string | null = null;

/** fixtures/x-draw.c built with gcc and libX11 (once per process); throws with the compiler's output. */
export function buildXDraw(): string {
  if (xdrawBin) return xdrawBin;
  const bin = join(mkdtempSync(join(tmpdir(), 'glasspane-xdraw-')), 'x-draw');
  const cc = spawnSync('gcc', ['-O1', '-o', bin, join(import.meta.dirname, 'fixtures', 'x-draw.c'), '-lX11'], { encoding: 'utf8' });
  if (cc.status !== 0) throw new Error(`cannot build x-draw (needs gcc and libx11-dev): ${cc.stderr}`);
  xdrawBin = bin;
  return bin;
}

/** A running x-draw on one display: do() sends a command and resolves once the X server has done it. */
export class XDraw {
  private readonly proc: ChildProcess;
  private readonly waiting: Array<{ done: () => void; fail: (e: Error) => void }> = [];
  private stderr = '';

  constructor(display: string) {
    this.proc = spawn(buildXDraw(), [], { env: { ...process.env, DISPLAY: display }, stdio: ['pipe', 'pipe', 'pipe'] });
    this.proc.stderr!.on('data', (d) => (this.stderr += d));
    this.proc.once('exit', () => {
      for (const w of this.waiting.splice(0)) w.fail(new Error(`x-draw exited: ${this.stderr}`));
    });
    createInterface({ input: this.proc.stdout! }).on('line', () => this.waiting.shift()?.done());
  }

  /** Runs one command (see x-draw.c); rejects when x-draw exits or does not answer within 30 s. */
  do(command: string): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`x-draw did not answer "${command}" in 30 s: ${this.stderr}`)), 30_000);
      const settle = (f: () => void) => () => {
        clearTimeout(timer);
        f();
      };
      this.waiting.push({ done: settle(resolve), fail: (e) => settle(() => reject(e))() });
      this.proc.stdin!.write(`${command}\n`);
    });
  }

  /** Ends the client: its windows go away (damage on the display). */
  close(): Promise<void> {
    return new Promise((resolve) => {
      if (this.proc.exitCode !== null || this.proc.signalCode !== null) return resolve();
      this.proc.once('exit', () => resolve());
      this.proc.kill('SIGKILL');
    });
  }
}

/** Starts Xephyr as a window of `host` with a `width` x `height` screen that xrandr -s can resize; resolves once it accepts clients. */
export function startXephyr(host: Xvfb, width: number, height: number): Promise<Xvfb> {
  return startXServer('Xephyr', ['-screen', `${width}x${height}`, '-resizeable', '-nolisten', 'tcp', '-retro'], host.env, 'xserver-xephyr');
}

/** [r, g, b] of pixel (x, y) of a captured 32-bit frame. */
export function framePixel(data: Uint8Array, info: Pick<FrameInfo, 'pitch' | 'type'>, x: number, y: number): [number, number, number] {
  const o = y * info.pitch + x * 4;
  return info.type === FrameType.RGBA ? [data[o]!, data[o + 1]!, data[o + 2]!] : [data[o + 2]!, data[o + 1]!, data[o]!];
}

/**
 * Compares every pixel of a captured frame with the screen's (outside `except`); returns the
 * number that differ and the first few, "x,y frame=r,g,b screen=r,g,b".
 */
export function compareWithScreen(data: Uint8Array, info: Pick<FrameInfo, 'pitch' | 'type' | 'frameWidth' | 'dataHeight'>, screen: XImage, except: Rect[] = []): { differ: number; first: string[] } {
  const out = { differ: 0, first: [] as string[] };
  const skip = (x: number, y: number) => except.some((r) => x >= r.x && x < r.x + r.width && y >= r.y && y < r.y + r.height);
  for (let y = 0; y < Math.min(info.dataHeight, screen.height); y++) {
    for (let x = 0; x < Math.min(info.frameWidth, screen.width); x++) {
      if (skip(x, y)) continue;
      const f = framePixel(data, info, x, y);
      const s = screen.rgb(x, y);
      if (f[0] !== s[0] || f[1] !== s[1] || f[2] !== s[2]) {
        if (out.differ++ < 5) out.first.push(`${x},${y} frame=${f.join(',')} screen=${s.join(',')}`);
      }
    }
  }
  return out;
}
