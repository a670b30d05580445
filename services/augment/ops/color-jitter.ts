import { InvalidParamError } from '../errors.ts';
import { NON_NEGATIVE, rangeWithin, unmoved, within, type Bounds } from './colour-ops.ts';
import { HUE_BOUNDS } from './hue.ts';
import { expected } from './params.ts';
import { cloneImage } from './raster.ts';
import { adjustBrightness, adjustContrast, adjustHue, adjustSaturation } from './photometric.ts';
import type { Operation, Range, RawImage, Rng } from './types.ts';

/** ColorJitter's adjustments, in torchvision's order of its arguments. */
export const JITTER_ADJUSTMENTS = ['brightness', 'contrast', 'saturation', 'hue'] as const;
export type JitterAdjustment = (typeof JITTER_ADJUSTMENTS)[number];

/** A strength `v` or a `[min, max]` range (from text, `v` arrives as `[v]`). */
type Strength = number | readonly number[];

export interface ColorJitterParams {
  brightness?: Strength;
  contrast?: Strength;
  saturation?: Strength;
  hue?: Strength;
  /** Replay: the adjustments in the order to apply them; each named field is then its factor. */
  order?: string[];
}
export type ColorJitterResolved = { order: JitterAdjustment[] } & Partial<Record<JitterAdjustment, number>>;

const ADJUST: Record<JitterAdjustment, (image: RawImage, factor: number) => RawImage> = {
  brightness: adjustBrightness,
  contrast: adjustContrast,
  saturation: adjustSaturation,
  hue: adjustHue,
};

/** Where a factor means "unchanged": ColorJitter skips an adjustment whose range is only that. */
const CENTRE: Record<JitterAdjustment, number> = { brightness: 1, contrast: 1, saturation: 1, hue: 0 };
const FACTOR_BOUNDS: Record<JitterAdjustment, Bounds> = { brightness: NON_NEGATIVE, contrast: NON_NEGATIVE, saturation: NON_NEGATIVE, hue: HUE_BOUNDS };
/** A single strength `v`: brightness, contrast and saturation any v >= 0; hue v within [0, 0.5]. */
const STRENGTH_BOUNDS: Record<JitterAdjustment, Bounds> = { ...FACTOR_BOUNDS, hue: { lowest: 0, highest: HUE_BOUNDS.highest } };

function invalid(what: string, name: string, value: unknown): Error {
  return Object.assign(new InvalidParamError(expected(what, name, value)), { param: name });
}

/**
 * torchvision ColorJitter's `_check_input`: a number v means [max(0, 1 − v), 1 + v] (hue: [−v, v]);
 * a range is taken as it is. Undefined when absent or when the range is only the centre.
 */
export function jitterRange(name: JitterAdjustment, value: unknown): Range | undefined {
  if (value === undefined) return undefined;
  const single = typeof value === 'number' ? value : Array.isArray(value) && value.length === 1 ? value[0] : undefined;
  let spread: Range;
  if (single !== undefined) {
    const v = within(name, single, STRENGTH_BOUNDS[name]);
    spread = name === 'hue' ? [-v, v] : [Math.max(0, 1 - v), 1 + v];
  } else {
    spread = rangeWithin(name, value, [CENTRE[name], CENTRE[name]], FACTOR_BOUNDS[name]);
  }
  return spread[0] === CENTRE[name] && spread[1] === CENTRE[name] ? undefined : spread;
}

function permutation<T>(rng: Rng, items: readonly T[]): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = rng.int(0, i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

function replayed(params: ColorJitterParams): ColorJitterResolved {
  const order = params.order!;
  if (!Array.isArray(order) || order.some((name) => !(JITTER_ADJUSTMENTS as readonly unknown[]).includes(name)) || new Set(order).size !== order.length) {
    throw invalid(`distinct names among ${JITTER_ADJUSTMENTS.join(', ')}`, 'order', order);
  }
  const resolved: ColorJitterResolved = { order: order as JitterAdjustment[] };
  for (const name of resolved.order) {
    const value = params[name];
    const factor = Array.isArray(value) && value.length === 1 ? value[0] : value;
    if (typeof factor !== 'number') throw invalid(`one factor (${name} is in order)`, name, value);
    resolved[name] = within(name, factor, FACTOR_BOUNDS[name]);
  }
  return resolved;
}

/**
 * torchvision's ColorJitter: each requested adjustment's factor drawn uniformly from its range, and
 * the adjustments applied in a random order (`adjust_brightness`, `adjust_contrast`,
 * `adjust_saturation`, `adjust_hue`). The applied params are `order` and each factor by name; sent
 * back with `order`, each named field is its factor.
 * @example sample(rng, size, { brightness: 0.4, hue: 0.1 }) // { order: ['hue', 'brightness'], brightness: 1.17, hue: -0.03 }
 */
export const colorJitter: Operation<ColorJitterParams, ColorJitterResolved> = {
  name: 'color_jitter',
  sample(rng, _size, params) {
    if (params.order !== undefined) return replayed(params);
    const ranges = JITTER_ADJUSTMENTS.map((name) => [name, jitterRange(name, params[name])] as const);
    const applied = ranges.filter((entry): entry is readonly [JitterAdjustment, Range] => entry[1] !== undefined);
    const resolved: ColorJitterResolved = { order: permutation(rng, applied.map(([name]) => name)) };
    for (const [name, [lo, hi]] of applied) resolved[name] = rng.uniform(lo, hi);
    return resolved;
  },
  async apply(image, resolved) {
    if (resolved.order.length === 0) return cloneImage(image);
    let out = image;
    for (const name of resolved.order) out = ADJUST[name](out, resolved[name]!);
    return out;
  },
  geometry: unmoved,
};
