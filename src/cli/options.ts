/** Argument parsers for commander options: each names the option and the accepted range. */
import { InvalidArgumentError } from 'commander';
import { keyName, unknownKeyMessage } from '../input/key-names.js';

/**
 * A parser for an integer option in min..max (decimal digits only: no sign, no exponent); throws
 * commander's InvalidArgumentError naming the option, the range and the value (exit status 2).
 */
export function intOption(name: string, min: number, max: number): (v: string) => number {
  return (v: string) => {
    const n = Number(v);
    if (!/^\d+$/.test(v.trim()) || !Number.isInteger(n) || n < min || n > max) {
      throw new InvalidArgumentError(`${name} must be a whole number from ${min} to ${max}, got "${v}"`);
    }
    return n;
  };
}

/**
 * A parser for a number option in min..max (decimals allowed); throws commander's
 * InvalidArgumentError naming the option, the range and the value (exit status 2).
 */
export function numberOption(name: string, min: number, max: number): (v: string) => number {
  return (v: string) => {
    const n = Number(v);
    if (v.trim() === '' || !Number.isFinite(n) || n < min || n > max) throw new InvalidArgumentError(`${name} must be a number from ${min} to ${max}, got "${v}"`);
    return n;
  };
}

/** Case-insensitive choice; the parser carries `choices` so shell completion can offer them. */
export function choiceOption<T extends string>(name: string, choices: readonly T[]): ((v: string) => T) & { choices: readonly T[] } {
  const parse = (v: string) => {
    const c = choices.find((x) => x === v.toLowerCase());
    if (!c) throw new InvalidArgumentError(`${name} must be one of ${choices.join(', ')}, got "${v}"`);
    return c;
  };
  return Object.assign(parse, { choices });
}

/** "WxH" → {width, height}. */
export function sizeOption(name: string): (v: string) => { width: number; height: number } {
  return (v: string) => {
    const m = /^(\d+)x(\d+)$/i.exec(v.trim());
    if (!m) throw new InvalidArgumentError(`${name} must look like 1920x1080, got "${v}"`);
    return { width: Number(m[1]), height: Number(m[2]) };
  };
}

/**
 * A key the viewer can use as its escape key, named any way key-names.ts accepts (ScrollLock,
 * scrolllock, KEY_SCROLLLOCK, 70): returns its KeyboardEvent.code name; an unknown one is refused
 * with the closest names.
 */
export function keyCodeOption(name: string): (v: string) => string {
  return (v: string) => {
    const code = keyName(v);
    if (code === undefined) throw new InvalidArgumentError(`${name}: ${unknownKeyMessage(v)}`);
    return code;
  };
}
