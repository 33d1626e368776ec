/**
 * A hand-driven producer in the B7 layout whose every byte a test can spoil: one LGMP session with
 * the frame and pointer queues, one frame buffer, a 10 ms heartbeat. `post()` writes a frame
 * (fields overridable), lets the test spoil the struct, sets the write pointer, and posts it.
 */
import type { Region } from '../../src/region.js';
import { LgmpProducer, type Allocation, type ProducerQueue } from '../../src/lgmp/producer.js';
import { buildKvmfrUdata } from '../../src/kvmfr/header.js';
import { writeFrame, type FrameFields } from '../../src/kvmfr/frame.js';
import { FRAME, FrameType, KVMFR } from '../../src/kvmfr/layout.js';

/** Pixel data starts this far into the frame buffer allocation (page-aligned, as B7 does). */
const FB_OFFSET = 4092;

export class RawProducer {
  lgmp: LgmpProducer;
  frames: ProducerQueue;
  pointer: ProducerQueue;
  frameMem: Allocation;
  timer: NodeJS.Timeout;
  dv: DataView;
  static readonly good: FrameFields = {
    formatVer: 1,
    frameSerial: 0,
    type: FrameType.BGRA,
    screenWidth: 64,
    screenHeight: 32,
    dataWidth: 64,
    dataHeight: 32,
    frameWidth: 64,
    frameHeight: 32,
    rotation: 0,
    stride: 64,
    pitch: 256,
    flags: 0,
    damageRects: [],
  };

  constructor(
    readonly region: Region,
    udata = buildKvmfrUdata({ producerVersion: 'raw' }),
    frameBytes = 2 << 20,
  ) {
    this.lgmp = new LgmpProducer(region, udata);
    this.frames = this.lgmp.addQueue({ queueID: KVMFR.QUEUE_FRAME, numMessages: 2, subTimeoutMs: 1000 });
    this.pointer = this.lgmp.addQueue({ queueID: KVMFR.QUEUE_POINTER, numMessages: 20, subTimeoutMs: 1000 });
    this.frameMem = this.lgmp.alloc(frameBytes, 4096)!;
    this.dv = new DataView(region.buffer);
    this.timer = setInterval(() => this.lgmp.process(), 10);
  }

  /** Region offset of the first pixel byte of the frame buffer. */
  get pixelOffset(): number {
    return this.frameMem.offset + FB_OFFSET + 4;
  }

  /**
   * Posts a frame with `fields` over the good defaults; `spoil` may change the struct after it is
   * written; wp is set to `wp` (default: the whole pitch * dataHeight).
   */
  post(spoil?: (frameOffset: number) => void, wp?: number, fields: Partial<FrameFields> = {}): void {
    const f = { ...RawProducer.good, ...fields };
    const o = this.frameMem.offset;
    writeFrame(this.dv, o, f);
    this.dv.setUint32(o + FRAME.offset, FB_OFFSET, true);
    this.region.store32(o + FB_OFFSET, wp ?? f.pitch * f.dataHeight);
    spoil?.(o);
    this.frames.post(0, this.frameMem);
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
