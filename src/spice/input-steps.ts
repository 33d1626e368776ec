/**
 * The key and mouse sequences `glasspane send` takes on its command line, parsed into steps for the
 * SPICE inputs channel (set-1 scancodes, SPICE button ids). Everything is parsed and checked before
 * anything is sent, so a typo never sends half a sequence; errors are ERR_SPICE_KEY naming the bad
 * word and the fix. The SPICE layer owns this because the steps are inputs-channel messages; the
 * command only connects and sends them.
 */
import { scancodeForCode, similarCodes } from '../input/scancodes.js';
import { SpiceError } from './errors.js';
import { SpiceButton } from './protocol.js';

/** One key step: press these scancodes in order, then release them in reverse. */
export type KeyStep = { names: string[]; scancodes: number[] };

/** One mouse step: relative motion, a button (SPICE button id) clicked, pressed or released, or wheel notches (negative = up). */
export type MouseStep =
  | { op: 'move'; dx: number; dy: number }
  | { op: 'click' | 'press' | 'release'; button: number }
  | { op: 'wheel'; notches: number };

const BUTTONS: Record<string, number> = {
  left: SpiceButton.LEFT,
  middle: SpiceButton.MIDDLE,
  right: SpiceButton.RIGHT,
  side: SpiceButton.SIDE,
  extra: SpiceButton.EXTRA,
};

function usage(message: string, fix: string): SpiceError {
  return new SpiceError('ERR_SPICE_KEY', message, fix);
}

/** Parses `KeyA`, `Control+Alt+Delete`, ... into key steps; throws ERR_SPICE_KEY naming the bad key. */
export function parseKeyArgs(args: readonly string[]): KeyStep[] {
  if (args.length === 0) throw usage('no keys given', 'name keys by KeyboardEvent.code, e.g. glasspane send --spice ADDR key KeyA Control+Alt+Delete');
  return args.map((arg) => {
    const names = arg.split('+');
    const scancodes = names.map((n) => {
      const sc = n ? scancodeForCode(n) : undefined;
      if (sc === undefined) {
        const like = similarCodes(n);
        throw usage(
          `unknown key "${n}"${names.length > 1 ? ` in "${arg}"` : ''}`,
          like.length ? `did you mean ${like.join(', ')}? Keys are KeyboardEvent.code names` : 'keys are KeyboardEvent.code names such as KeyA, Digit1, Enter, ControlLeft, ArrowUp, F5',
        );
      }
      return sc;
    });
    return { names, scancodes };
  });
}

/** Parses `move DX DY`, `click|press|release BUTTON`, `wheel up|down [N]` sequences. */
export function parseMouseArgs(args: readonly string[]): MouseStep[] {
  const fix = 'actions: move DX DY | click|press|release left|middle|right|side|extra | wheel up|down [N]';
  const steps: MouseStep[] = [];
  const int = (s: string | undefined, what: string): number => {
    if (s === undefined || !/^[+-]?\d+$/.test(s)) throw usage(`mouse ${what}: expected an integer, got ${s === undefined ? 'nothing' : `"${s}"`}`, fix);
    return Number(s);
  };
  if (args.length === 0) throw usage('no mouse actions given', fix);
  for (let i = 0; i < args.length; ) {
    const op = args[i++];
    switch (op) {
      case 'move': {
        const dx = int(args[i++], 'move DX');
        const dy = int(args[i++], 'move DY');
        steps.push({ op: 'move', dx, dy });
        break;
      }
      case 'click':
      case 'press':
      case 'release': {
        const name = args[i++];
        const button = name === undefined ? undefined : BUTTONS[name];
        if (button === undefined) throw usage(`mouse ${op}: unknown button ${name === undefined ? '(none given)' : `"${name}"`}`, fix);
        steps.push({ op, button });
        break;
      }
      case 'wheel': {
        const dir = args[i++];
        if (dir !== 'up' && dir !== 'down') throw usage(`mouse wheel: expected up or down, got ${dir === undefined ? 'nothing' : `"${dir}"`}`, fix);
        let n = 1;
        if (args[i] !== undefined && /^\d+$/.test(args[i]!)) n = Number(args[i++]);
        steps.push({ op: 'wheel', notches: dir === 'up' ? -n : n });
        break;
      }
      default:
        throw usage(`unknown mouse action "${op}"`, fix);
    }
  }
  return steps;
}
