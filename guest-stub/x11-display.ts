/**
 * The X display `glasspane capture` reads: opening it through the X11 addon with errors a user can
 * act on, and the KVMFR frame format its screen gives. Only 24-bit colour in 32-bit pixels is
 * captured (every desktop X server runs that way): the bytes are B, G, R, X (BGRA) or R, G, B, X
 * (RGBA) depending on the visual's masks, and the alpha byte is padding, which viewers ignore.
 */
import { loadX11Addon, type NativeX11Capture, type X11Screen } from '../src/native.js';
import { GlasspaneError } from '../src/errors.js';
import { FrameFlags, FrameType } from '../src/kvmfr/layout.js';
import type { FrameFields, Rect } from '../src/kvmfr/frame.js';

/** A screen as a KVMFR frame: its type (BGRA or RGBA), size in pixels and bytes per row. */
export interface ScreenFormat {
  type: number;
  width: number;
  height: number;
  /** Bytes per row of the X server's pixmaps for this width (its scanline pad). */
  pitch: number;
}

/**
 * The error for something the X11 addon threw (its `code`), as a GlasspaneError: X11_CONNECT →
 * ERR_X11_DISPLAY, X11_EXTENSION → ERR_X11_EXTENSION, X11_SHM → ERR_X11_SHM, the rest (a failed
 * request, a lost or closed connection) → ERR_X11_LOST. A GlasspaneError passes through.
 */
export function x11Error(err: unknown): GlasspaneError {
  if (err instanceof GlasspaneError) return err;
  const code = (err as { code?: unknown })?.code;
  const message = err instanceof Error ? err.message : String(err);
  switch (code) {
    case 'X11_CONNECT':
      return new GlasspaneError('ERR_X11_DISPLAY', message, 'run it inside the desktop session, or pass --display :0 (with XAUTHORITY naming that session\'s cookie file)', { cause: err });
    case 'X11_EXTENSION':
      return new GlasspaneError('ERR_X11_EXTENSION', message, undefined, { cause: err });
    case 'X11_SHM':
      return new GlasspaneError('ERR_X11_SHM', message, undefined, { cause: err });
    default:
      return new GlasspaneError('ERR_X11_LOST', message, undefined, { cause: err });
  }
}

/**
 * Connects to `display` (undefined: $DISPLAY) with every watch the capture needs. Throws
 * GlasspaneError ERR_X11_MISSING (the addon was not built), ERR_X11_DISPLAY, ERR_X11_EXTENSION.
 */
export function openX11Display(display: string | undefined): NativeX11Capture {
  const addon = loadX11Addon();
  if (!display && !process.env.DISPLAY) {
    throw new GlasspaneError('ERR_X11_DISPLAY', 'no X display given: DISPLAY is not set and --display was not passed', 'run it inside the desktop session, or pass --display :0');
  }
  try {
    return new addon.X11Capture(display ?? null);
  } catch (err) {
    throw x11Error(err);
  }
}

/**
 * The frame format of `s`. Throws GlasspaneError ERR_X11_FORMAT, naming what was found, for
 * anything but 32-bit pixels holding 8-bit R, G and B in either byte order the masks allow, in the
 * server's least-significant-byte-first image order.
 */
export function screenFormat(s: X11Screen): ScreenFormat {
  const found = `depth ${s.depth}, ${s.bitsPerPixel} bits a pixel, masks R ${hex(s.redMask)} G ${hex(s.greenMask)} B ${hex(s.blueMask)}, ${s.imageByteOrder}-first`;
  let type: number | null = null;
  if (s.bitsPerPixel === 32 && s.imageByteOrder === 'lsb' && s.greenMask === 0xff00) {
    if (s.redMask === 0xff0000 && s.blueMask === 0xff) type = FrameType.BGRA;
    else if (s.redMask === 0xff && s.blueMask === 0xff0000) type = FrameType.RGBA;
  }
  if (type === null) {
    throw new GlasspaneError('ERR_X11_FORMAT', `the X screen's pixels cannot be sent as KVMFR frames (${found}); 24-bit colour in 32-bit pixels is needed`);
  }
  const pad = s.scanlinePad > 0 ? s.scanlinePad : 32;
  const pitch = (Math.ceil((s.width * s.bitsPerPixel) / pad) * pad) / 8;
  return { type, width: s.width, height: s.height, pitch };
}

function hex(v: number): string {
  return `0x${v.toString(16)}`;
}

/**
 * The KVMFRFrame fields of a frame of the screen in `f`: `rows` rows of it in the buffer (fewer
 * than its height: TRUNCATED), the frame's `serial` and `formatVer`, and its damage ([] = all).
 */
export function screenFrame(f: ScreenFormat, o: { formatVer: number; serial: number; rows: number; damageRects: Rect[] }): FrameFields {
  return {
    formatVer: o.formatVer,
    frameSerial: o.serial,
    type: f.type,
    screenWidth: f.width,
    screenHeight: f.height,
    dataWidth: f.width,
    dataHeight: o.rows,
    frameWidth: f.width,
    frameHeight: f.height,
    rotation: 0,
    stride: f.pitch / 4,
    pitch: f.pitch,
    flags: o.rows < f.height ? FrameFlags.TRUNCATED : 0,
    damageRects: o.damageRects,
  };
}
