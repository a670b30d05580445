import { ImpossibleParamError, InvalidParamError, InvalidRangeError } from '../errors.ts';
import type { Box, ImageSize, Range, Rng } from './types.ts';

/** The one message shape: "expected <what> for <name>, got <value>". */
export function expected(what: string, name: string, value: unknown): string {
  return `expected ${what} for ${name}, got ${JSON.stringify(value) ?? String(value)}`;
}

export function finite(name: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw new InvalidParamError(expected('a finite number', name, value));
  }
  return value;
}

export function integer(name: string, value: unknown, min = Number.MIN_SAFE_INTEGER): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) {
    throw new InvalidParamError(expected(`an integer >= ${min}`, name, value));
  }
  return value;
}

export function boolean(name: string, value: unknown): boolean {
  if (typeof value !== 'boolean') throw new InvalidParamError(expected('true or false', name, value));
  return value;
}

export function oneOf<T extends string>(name: string, value: unknown, choices: readonly T[]): T {
  if (!choices.includes(value as T)) {
    throw new InvalidParamError(expected(`one of ${choices.join(', ')}`, name, value));
  }
  return value as T;
}

/**
 * A `[min, max]` range, or `fallback` when absent. min > max, or an end outside
 * [lowest, highest] (exclusive of `lowest` when `openLow`), throws InvalidRangeError.
 */
export function range(
  name: string,
  value: unknown,
  fallback: Range,
  bounds: { lowest?: number; openLow?: boolean; highest?: number } = {},
): Range {
  if (value === undefined) return fallback;
  if (!Array.isArray(value) || value.length !== 2 || !value.every((v) => typeof v === 'number' && Number.isFinite(v))) {
    throw new InvalidParamError(expected('[min, max] (two finite numbers)', name, value));
  }
  const [min, max] = value as [number, number];
  if (min > max) throw new InvalidRangeError(expected('min <= max', name, value));
  const { lowest = -Infinity, openLow = false, highest = Infinity } = bounds;
  if ((openLow ? min <= lowest : min < lowest) || max > highest) {
    const low = openLow ? `> ${lowest}` : `>= ${lowest}`;
    throw new InvalidRangeError(expected(`ends ${low} and <= ${highest}`, name, value));
  }
  return [min, max];
}

/** Both of two fields or neither: half a pair is meaningless. */
export function pair<T>(names: readonly [string, string], a: T | undefined, b: T | undefined): [T, T] | undefined {
  if (a === undefined && b === undefined) return undefined;
  if (a === undefined || b === undefined) {
    const [missing, given] = a === undefined ? names : [names[1], names[0]];
    throw new InvalidParamError(expected(`a value (${given} needs it)`, missing, undefined));
  }
  return [a, b];
}

/** `[x1, y1, x2, y2]`: malformed → InvalidParamError, outside this image → ImpossibleParamError. */
export function box(name: string, value: unknown, size: ImageSize): Box {
  if (!Array.isArray(value) || value.length !== 4 || !value.every((v) => Number.isSafeInteger(v))) {
    throw new InvalidParamError(expected('[x1, y1, x2, y2] (four integers)', name, value));
  }
  const [x1, y1, x2, y2] = value as Box;
  if (x1 > x2 || y1 > y2) throw new InvalidParamError(expected('x1 <= x2 and y1 <= y2', name, value));
  if (x1 < 0 || y1 < 0 || x2 > size.width || y2 > size.height) {
    throw new ImpossibleParamError(expected(`a box inside the ${size.width}x${size.height} image`, name, value));
  }
  return [x1, y1, x2, y2];
}

/** A w×h box around (cx, cy), then clipped to the image (Cutout, CutMix). */
export function clippedSquare(cx: number, cy: number, w: number, h: number, size: ImageSize): Box {
  const x1 = cx - Math.floor(w / 2);
  const y1 = cy - Math.floor(h / 2);
  const clamp = (v: number, hi: number) => Math.min(Math.max(v, 0), hi);
  return [clamp(x1, size.width), clamp(y1, size.height), clamp(x1 + w, size.width), clamp(y1 + h, size.height)];
}

/** A fixed value wins over its range; the range is still checked so a bad request fails alike. */
export function fixedOrUniform(
  rng: Rng,
  fixed: { name: string; value: unknown },
  spread: { name: string; value: unknown; fallback: Range; bounds?: Parameters<typeof range>[3] },
): number {
  const [lo, hi] = range(spread.name, spread.value, spread.fallback, spread.bounds);
  return fixed.value === undefined ? rng.uniform(lo, hi) : finite(fixed.name, fixed.value);
}
