/** B7's 24-bit layouts as guest-stub produces them (the viewer side is in test/viewer/window.test.ts). */
import { describe, expect, it } from 'vitest';
import { layout24, pack24 } from '../../guest-stub/pack24.js';
import { FrameType } from '../../src/kvmfr/layout.js';
import { StubProducer } from '../../guest-stub/producer.js';

describe('24-bit frame layouts', () => {
  it('BGR_32: texel rows of ceil(3W/4) rounded up to 64 texels, as B7\'s DXGI/D12 packing', () => {
    expect(layout24(FrameType.BGR_32, 1920)).toEqual({ dataWidth: 1472, stride: 1472, pitch: 5888 });
    expect(layout24(FrameType.BGR_32, 64)).toEqual({ dataWidth: 64, stride: 64, pitch: 256 });
    expect(layout24(FrameType.BGR_32, 10)).toEqual({ dataWidth: 64, stride: 64, pitch: 256 });
  });

  it('RGB_24: pixel width kept, stride padded to 256 pixels, 3 bytes each', () => {
    expect(layout24(FrameType.RGB_24, 1920)).toEqual({ dataWidth: 1920, stride: 2048, pitch: 6144 });
    expect(layout24(FrameType.RGB_24, 640)).toEqual({ dataWidth: 640, stride: 768, pitch: 2304 });
    expect(() => layout24(FrameType.BGRA, 640)).toThrow(RangeError);
  });

  it('packs the first three bytes of each 4-byte pixel and leaves row padding alone', () => {
    const src = Buffer.from([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16]); // 2x2 pixels, pitch 8
    const dst = Buffer.alloc(16, 0xee); // pitch 8: 6 bytes of image, 2 of padding
    pack24(src, 8, dst, 8, 2, 2);
    expect([...dst]).toEqual([1, 2, 3, 5, 6, 7, 0xee, 0xee, 9, 10, 11, 13, 14, 15, 0xee, 0xee]);
  });

  it('the stub refuses a 24-bit format with a scene that draws 32-bit pixels', () => {
    const make = () => new StubProducer({ shmPath: '/dev/shm/unused', sizeMiB: 8, width: 640, height: 360, fps: 30, scene: 'input', format: 'bgr_32' });
    expect(make).toThrow(expect.objectContaining({ code: 'ERR_USAGE', message: expect.stringMatching(/input scene draws 32-bit pixels only/), fix: expect.stringMatching(/--scene bars/) }));
  });
});
