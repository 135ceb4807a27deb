import { InvalidArgumentError } from 'commander';
import type { LengthDistribution } from '../dataset/lengths.js';

/** A commander argument parser for an integer of at least `min`. */
export function integerAtLeast(min: number): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (!/^-?\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < min) throw new InvalidArgumentError(`expected an integer >= ${min}, got '${value}'.`);
    return n;
  };
}

/** A commander argument parser for a finite number in (min, max]. */
export function numberAbove(min: number, max = Infinity): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (value.trim() === '' || !Number.isFinite(n) || n <= min || n > max) throw new InvalidArgumentError(`expected a number in (${min}, ${max}], got '${value}'.`);
    return n;
  };
}

/** Comma-separated integers >= 1, e.g. `1,2,4,8`. */
export function integerList(value: string): number[] {
  return value.split(',').map((part) => integerAtLeast(1)(part.trim()));
}

/** Comma-separated request rates per second; `inf` sends every request at once. */
export function rateList(value: string): number[] {
  return value.split(',').map((part) => (part.trim() === 'inf' ? Infinity : numberAbove(0)(part.trim())));
}

/** `MIN:MAX` (inclusive integers). */
export function range(value: string): [number, number] {
  const match = /^(\d+):(\d+)$/.exec(value.trim());
  if (!match || Number(match[1]) < 1 || Number(match[1]) > Number(match[2])) throw new InvalidArgumentError(`expected MIN:MAX with 1 <= MIN <= MAX, got '${value}'.`);
  return [Number(match[1]), Number(match[2])];
}

/** `NAME=N,NAME=N`. */
export function countsByName(value: string): Record<string, number> {
  return Object.fromEntries(
    value.split(',').map((part) => {
      const [name, count] = part.split('=');
      if (!name || count === undefined) throw new InvalidArgumentError(`expected NAME=N, got '${part}'.`);
      return [name.trim(), integerAtLeast(1)(count)];
    }),
  );
}

/** A length from `--X-len`, `--X-std` (normal) and `--X-range` (uniform). */
export function lengthFrom(len: number, std: number | undefined, span: [number, number] | undefined, flag: string): LengthDistribution {
  if (std !== undefined && span) throw new InvalidArgumentError(`--${flag}-std and --${flag}-range exclude each other.`);
  if (span) return { kind: 'uniform', min: span[0], max: span[1] };
  if (std !== undefined && std > 0) return { kind: 'normal', mean: len, std };
  return { kind: 'fixed', value: len };
}
