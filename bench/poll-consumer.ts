/**
 * The comparison consumer: Looking Glass B7's strategy. B7's client frame thread calls
 * lgmpClientProcess() and, when the queue is empty, sleeps `framePollInterval` (1000 us) before
 * looking again (client/src/main.c); its cursor thread does the same. This consumer does exactly
 * that over src/lgmp's LgmpConsumer — a 1 ms sleep between checks instead of glasspane's watcher
 * thread — and copies each frame with the same native wp-following copy as FrameRelay, so the
 * side-by-side numbers differ only in how the consumer learns that a message is there.
 * Benchmark only: no recovery beyond what a trial needs (a session ends the run).
 */
import { EventEmitter } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { openRegion, type Region } from '../src/region.js';
import { LgmpConsumer, type ConsumerQueue } from '../src/lgmp/consumer.js';
import { readFrame, type FrameInfo } from '../src/kvmfr/frame.js';
import { KVMFR } from '../src/kvmfr/layout.js';

export interface PolledFrame {
  info: FrameInfo;
  /** Pixels, valid until release(). */
  data: Buffer;
  /** When process() first returned this message (process.hrtime.bigint()). */
  seenNs: bigint;
  /** When the copy out of the region finished. */
  copiedAtNs: bigint;
  release(): void;
}

export interface PollConsumerOptions {
  path: string;
  /** Sleep between checks of an empty queue (ms). B7 default: 1. */
  intervalMs?: number;
  /** Give up on a frame whose write pointer stops moving for this long (ms); FrameRelay's default. */
  copyTimeoutMs?: number;
  /**
   * Where to copy a frame of `bytes` (default: two buffers of its own, alternating); null skips
   * the frame. The window's poll source (poll-worker.ts) copies straight into a mailbox slot.
   */
  buffer?: (bytes: number) => Buffer | null;
}

interface PollEvents {
  /** Subscribed to both queues of a live producer. */
  session: [];
  frame: [PolledFrame];
  problem: [string];
}

export class PollConsumer extends EventEmitter<PollEvents> {
  private closed = false;
  private loop: Promise<void> | null = null;
  private buffers: Buffer[] = [Buffer.alloc(0), Buffer.alloc(0)];
  private next = 0;

  constructor(readonly options: PollConsumerOptions) {
    super();
  }

  start(): Promise<void> {
    this.loop ??= this.run();
    return this.loop;
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.loop?.catch(() => undefined);
  }

  private async openWhenThere(): Promise<Region | null> {
    while (!this.closed) {
      try {
        return openRegion(this.options.path);
      } catch {
        await sleep(this.options.intervalMs ?? 1);
      }
    }
    return null;
  }

  private async run(): Promise<void> {
    const interval = this.options.intervalMs ?? 1;
    const region = await this.openWhenThere();
    if (!region) return;
    const dv = new DataView(region.buffer);
    let frameQ: ConsumerQueue | null = null;
    let pointerQ: ConsumerQueue | null = null;
    try {
      const consumer = new LgmpConsumer(region);
      while (!this.closed && !frameQ) {
        await sleep(interval);
        try {
          consumer.sessionInit();
          frameQ = consumer.subscribe(KVMFR.QUEUE_FRAME);
          pointerQ = consumer.subscribe(KVMFR.QUEUE_POINTER);
          this.emit('session');
        } catch {
          frameQ?.unsubscribe();
          frameQ = null;
        }
      }
      while (!this.closed && frameQ && pointerQ) {
        const msg = frameQ.process();
        if (typeof msg === 'string') {
          if (msg !== 'empty') {
            this.emit('problem', `frame queue: ${msg}`);
            return;
          }
          // The cursor thread's work, folded in: acknowledge pointer messages.
          while (typeof pointerQ.process() !== 'string') pointerQ.messageDone();
          await sleep(interval);
          continue;
        }
        const seenNs = process.hrtime.bigint();
        const info = readFrame(dv, region.byteLength, msg.offset, msg.size);
        let buf: Buffer | null;
        if (this.options.buffer) {
          buf = this.options.buffer(info.dataBytes);
          if (!buf) {
            frameQ.messageDone();
            continue;
          }
        } else {
          buf = this.buffers[this.next]!;
          if (buf.length < info.dataBytes) buf = this.buffers[this.next] = Buffer.allocUnsafeSlow(info.dataBytes);
          this.next ^= 1;
        }
        let copied = 0;
        try {
          copied = await region.copyOutAsync(info.dataOffset, info.dataBytes, buf, 0, info.wpOffset, this.options.copyTimeoutMs ?? 100);
        } finally {
          frameQ.messageDone();
        }
        if (copied < info.dataBytes) {
          this.emit('problem', `frame ${info.frameSerial}: copy stopped at ${copied} of ${info.dataBytes} bytes`);
          continue;
        }
        const copiedAtNs = process.hrtime.bigint();
        this.emit('frame', { info, data: buf.subarray(0, info.dataBytes), seenNs, copiedAtNs, release: () => undefined });
      }
    } finally {
      frameQ?.unsubscribe();
      pointerQ?.unsubscribe();
      region.close();
    }
  }
}
