/**
 * The X11 capture's bookkeeping without an X server: which rectangles each of the two frame
 * buffers lacks, what a frame tells its consumers as KVMFR damage, and the X cursor (ARGB,
 * premultiplied) as a KVMFR colour cursor (BGRA, straight alpha) with B7's position convention.
 */
import { describe, expect, it } from 'vitest';
import { BufferDamage, MAX_PENDING_RECTS, clipRects, frameDamage, pixelsIn, toQuads } from '../../guest-stub/capture-damage.js';
import { boundingBox } from '../../src/kvmfr/frame.js';
import { cursorShape, cursorTopLeft } from '../../guest-stub/x11-cursor.js';

const A = { x: 10, y: 10, width: 5, height: 5 };
const B = { x: 100, y: 0, width: 20, height: 10 };

describe('capture damage', () => {
  it('clips the server\'s rectangles to the frame and drops empty ones', () => {
    expect(clipRects([-5, -5, 10, 10, 630, 470, 20, 20, 700, 0, 5, 5, 0, 0, 0, 3], 640, 480)).toEqual([
      { x: 0, y: 0, width: 5, height: 5 },
      { x: 630, y: 470, width: 10, height: 10 },
    ]);
    expect([...toQuads([A, B])]).toEqual([10, 10, 5, 5, 100, 0, 20, 10]);
    expect(pixelsIn([A, B])).toBe(25 + 200);
  });

  it('each buffer gets what changed since it was last written: whole at first, then the last two frames\' damage', () => {
    const d = new BufferDamage(2);
    expect(d.take(0)).toBe('full'); // frame 1 into buffer 0
    d.add([A]); // frame 2 into buffer 1: still whole
    expect(d.isFull(1)).toBe(true);
    expect(d.take(1)).toBe('full');
    d.add([B]); // frame 3 into buffer 0: it lacks frame 2's and frame 3's changes
    expect(d.take(0)).toEqual([A, B]);
    d.add([]); // frame 4 into buffer 1: lacks frame 3's only
    expect(d.take(1)).toEqual([B]);
    expect(d.take(0)).toEqual([]);
    d.full();
    expect(d.take(0)).toBe('full');
  });

  it('a buffer that lacks too many rectangles lacks their bounding box instead', () => {
    const d = new BufferDamage(2);
    d.take(0);
    d.take(1);
    d.add(Array.from({ length: MAX_PENDING_RECTS + 1 }, (_, i) => ({ x: i, y: 2 * i, width: 1, height: 1 })));
    expect(d.take(0)).toEqual([{ x: 0, y: 0, width: MAX_PENDING_RECTS + 1, height: 2 * MAX_PENDING_RECTS + 1 }]);
  });

  it('KVMFR damage: none for a whole frame, the rectangles up to 64, their bounding box beyond', () => {
    expect(frameDamage([A, B], true)).toEqual([]);
    expect(frameDamage([A, B], false)).toEqual([A, B]);
    const many = Array.from({ length: 65 }, (_, i) => ({ x: i, y: 0, width: 1, height: 1 }));
    expect(frameDamage(many, false)).toEqual([{ x: 0, y: 0, width: 65, height: 1 }]);
    expect(boundingBox([A, B])).toEqual({ x: 10, y: 0, width: 110, height: 15 });
  });
});

describe('the X cursor as a KVMFR colour cursor', () => {
  it('un-premultiplies ARGB into BGRA with straight alpha; transparent stays zero', () => {
    const s = cursorShape({ x: 50, y: 60, hotX: 1, hotY: 2, width: 2, height: 1, serial: 1, pixels: Uint32Array.from([0x80402010, 0x00000000]) });
    expect(s).toMatchObject({ width: 2, height: 1, hotX: 1, hotY: 2 });
    expect([...s.pixels]).toEqual([32, 64, 128, 128, 0, 0, 0, 0]);
  });

  it('cuts a shape beyond 512x512, clamps the hotspot to int8, and reads missing words as transparent', () => {
    const s = cursorShape({ x: 0, y: 0, hotX: 200, hotY: -3, width: 600, height: 2, serial: 1, pixels: Uint32Array.from([0xffffffff]) });
    expect(s).toMatchObject({ width: 512, height: 2, hotX: 127, hotY: -3 });
    expect(s.pixels.length).toBe(512 * 2 * 4);
    expect([...s.pixels.subarray(0, 8)]).toEqual([255, 255, 255, 255, 0, 0, 0, 0]);
  });

  it('the position is the shape\'s top-left corner: the hotspot\'s screen position less the hotspot (as B7 sends it)', () => {
    expect(cursorTopLeft(100, 80, { hotX: 3, hotY: 5 })).toEqual({ x: 97, y: 75 });
    expect(cursorTopLeft(100, 80, null)).toEqual({ x: 100, y: 80 });
  });
});
