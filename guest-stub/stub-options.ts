/** What a StubProducer is asked to do, and the check that turns a bad request into a usage error. */
import { formatByName, type FormatInfo } from '../src/kvmfr/formats.js';
import { GlasspaneError } from '../src/errors.js';
import type { Tamper } from './tamper.js';
import type { StubInputMessage } from '../src/scenes/input-messages.js';
import { MIN_SCENE_WIDTH, type SceneName } from '../src/scenes/bars.js';
import { MIN_ECHO_HEIGHT, MIN_ECHO_WIDTH } from './evdev-echo.js';

/** What a StubProducer produces and where. Sizes in pixels (frame) and MiB (region), times in s. */
export interface StubOptions {
  shmPath: string;
  sizeMiB: number;
  width: number;
  height: number;
  /** Frames per second cap; 0 = as fast as the consumer acknowledges. */
  fps: number;
  scene: SceneName;
  /** bgr_32 and rgb_24: B7's 24-bit layouts (pack24.ts); bars scene only, not verifiable headless. */
  format: 'bgra' | 'rgba' | 'bgr_32' | 'rgb_24';
  /** Stop after this many seconds (undefined = until stop()). */
  seconds?: number;
  /** The VM UUID to advertise in VMINFO (default: random). */
  uuid?: string;
  /** Post this many frames, then only keep the session alive (heartbeat, cursor). */
  frames?: number;
  /** Called for every input message the viewer sends (see listenForInput()). */
  onInput?: (m: StubInputMessage) => void;
  /** Bytes to map when the region is a PCI BAR file (its size from the device's resource table). */
  mapBytes?: number;
  /** input-echo scene: the event devices to read (default: every /dev/input/event*). */
  evdevPaths?: string[];
  /** Told about what the stub recovered from (a region truncated or re-created, a lock left taken). */
  onProblem?: (message: string) => void;
  /** Fuzzing only: called at fixed points of the producer's work to spoil the region (tamper.ts). */
  tamper?: Tamper;
}

/**
 * Checks the format, the scene and the frame size of `options` (before anything is opened) and
 * returns the frame format. Throws GlasspaneError ERR_USAGE naming the bad value and the flag that
 * fixes it: a format the stub cannot draw, a 24-bit format with a scene other than bars, a size
 * outside MIN_SCENE_WIDTH x 2 .. 16384 x 16384, or input-echo in a frame smaller than it needs.
 */
export function checkStubOptions(options: StubOptions): FormatInfo {
  const fmt = formatByName(options.format);
  if (!fmt || !['BGRA', 'RGBA', 'BGR_32', 'RGB_24'].includes(fmt.name)) {
    throw new GlasspaneError('ERR_USAGE', `format "${options.format}" is not supported by the stub`, 'use --format bgra, rgba, bgr_32 or rgb_24');
  }
  const packed = fmt.name === 'BGR_32' || fmt.name === 'RGB_24';
  if (packed && options.scene !== 'bars') {
    throw new GlasspaneError('ERR_USAGE', `the ${options.scene} scene draws 32-bit pixels only (got --format ${options.format})`, 'use --scene bars with a 24-bit format, or --format bgra');
  }
  if (!Number.isInteger(options.width) || !Number.isInteger(options.height) || options.width < MIN_SCENE_WIDTH || options.height < 2 || options.width > 16384 || options.height > 16384) {
    throw new GlasspaneError('ERR_USAGE', `frame size ${options.width}x${options.height} is outside ${MIN_SCENE_WIDTH}x2 .. 16384x16384`, 'pass --width and --height within that range');
  }
  if (options.scene === 'input-echo' && (options.width < MIN_ECHO_WIDTH || options.height < MIN_ECHO_HEIGHT)) {
    throw new GlasspaneError('ERR_USAGE', `the input-echo scene needs a frame of at least ${MIN_ECHO_WIDTH}x${MIN_ECHO_HEIGHT} (got ${options.width}x${options.height})`, 'pass a larger --width and --height');
  }
  return fmt;
}
