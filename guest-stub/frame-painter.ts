/**
 * The pixels of the stub's frames: what the scene draws, packed into B7's 24-bit layouts when the
 * format asks for them (pack24.ts), and the KVMFRFrame fields that describe them. Knows nothing of
 * the region or the LGMP queues: the producer writes `pixels` and `frameFields()` where they go.
 */
import { FrameFlags, FrameType } from '../src/kvmfr/layout.js';
import type { FrameFields } from '../src/kvmfr/frame.js';
import { layout24, pack24, type Layout24 } from './pack24.js';

/** What draws a frame's 32-bit pixels for frame `serial` (the stub's BarsScene). */
export interface SceneDrawer {
  render(buf: Buffer, stride: number, rows: number, serial: number): void;
}

/**
 * The 32-bit pixel order a scene must draw for frames of `frameType`: a 24-bit type is drawn in
 * the 32-bit order whose first 3 bytes it keeps (BGR_32 from BGRA, RGB_24 from RGBA), then packed.
 */
export function sceneFrameType(frameType: number): number {
  return frameType === FrameType.BGR_32 ? FrameType.BGRA : frameType === FrameType.RGB_24 ? FrameType.RGBA : frameType;
}

/** Whether `frameType` is one of B7's 24-bit layouts (packed from 32-bit rows). */
export function isPacked24(frameType: number): boolean {
  return frameType === FrameType.BGR_32 || frameType === FrameType.RGB_24;
}

/**
 * One frame's pixel buffer, redrawn for each frame. `pixels` holds `rows` rows of `pitch` bytes
 * and is replaced (not resized in place) when setRows() changes the row count; it is valid until
 * the next paint() or setRows().
 */
export class FramePainter {
  /** The frame as it goes into the region: `rows` rows of `pitch` bytes. */
  pixels: Buffer = Buffer.alloc(0);
  /** The region's row layout: dataWidth, stride and pitch as KVMFRFrame carries them. */
  readonly layout: Layout24;
  /** 24-bit formats: the scene's 32-bit rows before packing. */
  private unpacked: Buffer | null = null;
  private rows = 0;

  /** `scene` draws `width` texels of 32-bit pixels in sceneFrameType(`frameType`) order. */
  constructor(
    private readonly scene: SceneDrawer,
    readonly width: number,
    readonly height: number,
    readonly frameType: number,
  ) {
    this.layout = isPacked24(frameType) ? layout24(frameType, width) : { dataWidth: width, stride: width, pitch: width * 4 };
  }

  /** Bytes per row in the region (the 24-bit layouts pad rows). */
  get pitch(): number {
    return this.layout.pitch;
  }

  /** Sizes the buffers for `rows` rows: the height, or fewer when the region's frame buffers are too small (truncated). */
  setRows(rows: number): void {
    this.rows = rows;
    if (this.pixels.length !== this.pitch * rows) this.pixels = Buffer.alloc(this.pitch * rows);
    if (isPacked24(this.frameType)) this.unpacked = Buffer.alloc(this.width * 4 * rows);
  }

  /** Draws frame `serial` into `pixels` (packing it for the 24-bit formats). */
  paint(serial: number): void {
    if (this.unpacked) {
      this.scene.render(this.unpacked, this.width * 4, this.rows, serial);
      pack24(this.unpacked, this.width * 4, this.pixels, this.pitch, this.width, this.rows);
    } else {
      this.scene.render(this.pixels, this.pitch, this.rows, serial);
    }
  }

  /** The KVMFRFrame fields for frame `serial` as painted; a truncated frame says so (formatVer 2, TRUNCATED). */
  frameFields(serial: number, truncated: boolean): FrameFields {
    return {
      formatVer: 1 + (truncated ? 1 : 0),
      frameSerial: serial,
      type: this.frameType,
      screenWidth: this.width,
      screenHeight: this.height,
      dataWidth: this.layout.dataWidth,
      dataHeight: this.rows,
      frameWidth: this.width,
      frameHeight: this.height,
      rotation: 0,
      stride: this.layout.stride,
      pitch: this.pitch,
      flags: truncated ? FrameFlags.TRUNCATED : 0,
      damageRects: [],
    };
  }
}
