import type { Sharp } from 'sharp';
import { InvalidParamError } from '../errors.ts';
import { IDENTITY, affineGeometry, type Geometry } from './geometry.ts';
import { expected, range } from './params.ts';
import type { ImageSize, OpName, Operation, Range, RawImage, Rng } from './types.ts';

/**
 * What the colour operations share: bounded values, a fixed value or a sampled one, and the shapes
 * of a one-factor operation and of a parameterless one. Colour operations keep every pixel where it
 * is, so targets pass through unchanged.
 */

/** Inclusive bounds of one parameter; `integer` also asks for whole numbers. */
export interface Bounds {
  lowest: number;
  highest: number;
  integer?: boolean;
}

export const NON_NEGATIVE: Bounds = { lowest: 0, highest: Infinity };

function described({ lowest, highest, integer }: Bounds): string {
  const kind = integer ? 'an integer' : 'a number';
  return highest === Infinity ? `${kind} >= ${lowest}` : `${kind} in [${lowest}, ${highest}]`;
}

function invalid(what: string, name: string, value: unknown): Error {
  return Object.assign(new InvalidParamError(expected(what, name, value)), { param: name });
}

/** `value` when it is a finite number within `bounds`; otherwise a 400 naming `name`. */
export function within(name: string, value: unknown, bounds: Bounds): number {
  const ok =
    typeof value === 'number' &&
    Number.isFinite(value) &&
    value >= bounds.lowest &&
    value <= bounds.highest &&
    (!bounds.integer || Number.isInteger(value));
  if (!ok) throw invalid(described(bounds), name, value);
  return value as number;
}

/** A `[min, max]` range within `bounds` (min > max or an end outside: AUG_INVALID_RANGE), or `fallback`. */
export function rangeWithin(name: string, value: unknown, fallback: Range, bounds: Bounds): Range {
  const checked = range(name, value, fallback, { lowest: bounds.lowest, highest: bounds.highest });
  if (bounds.integer && !checked.every(Number.isInteger)) throw invalid('two integers', name, value);
  return checked;
}

/**
 * A fixed value wins over its range; both are checked so that a bad request fails alike. A sampled
 * value is uniform over the range (integers: each of min..max equally likely).
 */
export function fixedOrSampled(
  rng: Rng,
  fixed: { name: string; value: unknown },
  spread: { name: string; value: unknown; fallback: Range },
  bounds: Bounds,
): number {
  const [lo, hi] = rangeWithin(spread.name, spread.value, spread.fallback, bounds);
  if (fixed.value !== undefined) return within(fixed.name, fixed.value, bounds);
  return bounds.integer ? rng.int(lo, hi + 1) : rng.uniform(lo, hi);
}

/** Colour operations leave every point where it is. */
export function unmoved(_params: unknown, size: ImageSize): Geometry {
  return affineGeometry(IDENTITY, size);
}

export interface FactorParams {
  factor?: number;
  factor_range?: Range;
}
export interface FactorResolved {
  factor: number;
}

/**
 * An operation that is one functional adjustment of one factor (brightness, contrast, saturation,
 * sharpness, hue): `factor`, or uniform over `factor_range` (default `fallback`), both within
 * `bounds`. `fused`, where libvips gives exactly `adjust`'s pixels, runs it inside the one-pass
 * decode → encode pipeline (not on a profiled upload, whose values are not yet sRGB there).
 */
export function factorOp(
  name: OpName,
  adjust: (image: RawImage, factor: number) => RawImage,
  fallback: Range,
  bounds: Bounds,
  fused?: (factor: number) => (pipeline: Sharp) => Sharp,
): Operation<FactorParams, FactorResolved> {
  return {
    ...(fused && { transform: ({ factor }, _size, source) => (source.profiled ? undefined : fused(factor)) }),
    name,
    sample(rng, _size, params) {
      const factor = fixedOrSampled(
        rng,
        { name: 'factor', value: params.factor },
        { name: 'factor_range', value: params.factor_range, fallback },
        bounds,
      );
      return { factor };
    },
    async apply(image, { factor }) {
      return adjust(image, factor);
    },
    geometry: unmoved,
  };
}

/** An operation without parameters (equalize, autocontrast, invert). */
export function plainOp(
  name: OpName,
  adjust: (image: RawImage) => RawImage,
  fused?: (pipeline: Sharp) => Sharp,
): Operation<Record<string, never>, Record<string, never>> {
  return {
    ...(fused && { transform: (_params, _size, source) => (source.profiled ? undefined : fused) }),
    name,
    sample: () => ({}),
    async apply(image) {
      return adjust(image);
    },
    geometry: unmoved,
  };
}
