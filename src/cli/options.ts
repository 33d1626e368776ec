/** Argument parsers for commander options: each names the option and the accepted range. */
import { InvalidArgumentError } from 'commander';

export function intOption(name: string, min: number, max: number): (v: string) => number {
  return (v: string) => {
    const n = Number(v);
    if (!/^\d+$/.test(v.trim()) || !Number.isInteger(n) || n < min || n > max) {
      throw new InvalidArgumentError(`${name} must be a whole number from ${min} to ${max}, got "${v}"`);
    }
    return n;
  };
}

export function numberOption(name: string, min: number, max: number): (v: string) => number {
  return (v: string) => {
    const n = Number(v);
    if (v.trim() === '' || !Number.isFinite(n) || n < min || n > max) throw new InvalidArgumentError(`${name} must be a number from ${min} to ${max}, got "${v}"`);
    return n;
  };
}

export function choiceOption<T extends string>(name: string, choices: readonly T[]): (v: string) => T {
  return (v: string) => {
    const c = choices.find((x) => x === v.toLowerCase());
    if (!c) throw new InvalidArgumentError(`${name} must be one of ${choices.join(', ')}, got "${v}"`);
    return c;
  };
}

/** "WxH" → {width, height}. */
export function sizeOption(name: string): (v: string) => { width: number; height: number } {
  return (v: string) => {
    const m = /^(\d+)x(\d+)$/i.exec(v.trim());
    if (!m) throw new InvalidArgumentError(`${name} must look like 1920x1080, got "${v}"`);
    return { width: Number(m[1]), height: Number(m[2]) };
  };
}
