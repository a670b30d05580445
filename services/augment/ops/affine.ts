import { DEFAULT_FILL, colourPixel, parseColour } from '../colour.ts';
import { InvalidParamError, InvalidRangeError } from '../errors.ts';
import { expected, finite, oneOf, range } from './params.ts';
import { affineGeometry, projective, torchvisionAffine, type Affine } from './geometry.ts';
import { INTERPOLATIONS, roundHalfEven, warp, type Interpolation } from './warp.ts';
import type { ImageSize, Operation, Range, Resampling, Rng } from './types.ts';

export const DEFAULT_AFFINE_INTERPOLATION: Interpolation = 'bilinear';
/** Shear angles are kept off ±90°, where the map degenerates. */
const SHEAR_LIMIT = 90;

type Pair = readonly [number, number];

export interface AffineParams {
  /** Degrees, positive counter-clockwise (like rotate; torchvision's `F.affine` takes −angle). */
  angle?: number;
  angle_range?: Range;
  /** Pixels. */
  translate?: Pair;
  /** Fractions of W and H: tx uniform in [−fx·W, fx·W], rounded (RandomAffine). */
  translate_range?: Pair;
  scale?: number;
  scale_range?: Range;
  /** Degrees, x then y. */
  shear?: Pair;
  /** `min,max` (x only) or `xmin,xmax,ymin,ymax`. */
  shear_range?: readonly number[];
  center?: Pair;
  interpolation?: Interpolation;
  fill?: string;
}
export interface AffineResolved {
  angle: number;
  translate: [number, number];
  scale: number;
  shear: [number, number];
  center: [number, number];
  interpolation: Interpolation;
  fill: string;
}

/**
 * torchvision's `F.affine` (tensor backend): rotation, scale and shear about `center`, then a
 * translation, in one resampling (the shared warp). Sampling follows `RandomAffine.get_params`
 * (angle, translation, scale, shear, in that order); a component neither fixed nor given a range
 * is not applied.
 */
export const affine: Operation<AffineParams, AffineResolved> = {
  name: 'affine',
  sample(rng, size, params) {
    const angle = fixedOr(rng, 'angle', params.angle, 'angle_range', params.angle_range, 0);
    const translate = sampleTranslate(rng, size, params);
    const scale = fixedOr(rng, 'scale', params.scale, 'scale_range', params.scale_range, 1, { lowest: 0, openLow: true });
    if (!(scale > 0)) throw new InvalidParamError(expected('a number > 0', 'scale', scale));
    const shear = sampleShear(rng, params);
    const center: [number, number] = params.center === undefined ? [size.width / 2, size.height / 2] : finitePair('center', params.center);
    const interpolation = oneOf('interpolation', params.interpolation ?? DEFAULT_AFFINE_INTERPOLATION, INTERPOLATIONS);
    const fill = parseColour(params.fill ?? DEFAULT_FILL, 'fill').hex;
    return { angle, translate, scale, shear, center, interpolation, fill };
  },
  async apply(image, params) {
    const { forward, width, height, interpolation } = affine.resampling!(params, { width: image.width, height: image.height });
    return warp(image, forward, width, height, { interpolation, fill: colourPixel(parseColour(params.fill, 'fill'), image.channels) });
  },
  geometry(params, size) {
    return affineGeometry(affineMap(params, size), size);
  },
  resampling(params, size) {
    return { forward: projective(affineMap(params, size)), ...size, interpolation: params.interpolation, fill: params.fill } satisfies Resampling;
  },
};

function affineMap({ angle, translate, scale, shear, center }: AffineResolved, size: ImageSize): Affine {
  return torchvisionAffine({ angle, translate, scale, shear, center }, size);
}

/** A fixed value, else a uniform draw from its range when one is given, else `absent` (no draw). */
function fixedOr(
  rng: Rng,
  name: string,
  value: unknown,
  rangeName: string,
  rangeValue: unknown,
  absent: number,
  bounds?: Parameters<typeof range>[3],
): number {
  // The range is checked even beside a fixed value, so a bad request fails alike.
  const spread = rangeValue === undefined ? undefined : range(rangeName, rangeValue, [absent, absent], bounds);
  if (value !== undefined) return finite(name, value);
  return spread ? rng.uniform(spread[0], spread[1]) : absent;
}

function finitePair(name: string, value: unknown): [number, number] {
  if (!Array.isArray(value) || value.length !== 2 || !value.every((v) => typeof v === 'number' && Number.isFinite(v))) {
    throw new InvalidParamError(expected('two finite numbers', name, value));
  }
  return [value[0], value[1]];
}

function sampleTranslate(rng: Rng, size: ImageSize, params: AffineParams): [number, number] {
  let fractions: [number, number] | undefined;
  if (params.translate_range !== undefined) {
    fractions = finitePair('translate_range', params.translate_range);
    if (fractions.some((f) => f < 0 || f > 1)) throw new InvalidRangeError(expected('fractions in [0, 1]', 'translate_range', params.translate_range));
  }
  if (params.translate !== undefined) return finitePair('translate', params.translate);
  if (!fractions) return [0, 0];
  // RandomAffine: int(round(uniform(−max, max))), Python's round (halves to even).
  const maxX = fractions[0] * size.width;
  const tx = roundHalfEven(rng.uniform(-maxX, maxX));
  const maxY = fractions[1] * size.height;
  return [tx, roundHalfEven(rng.uniform(-maxY, maxY))];
}

function sampleShear(rng: Rng, params: AffineParams): [number, number] {
  let ranges: Range[] | undefined;
  if (params.shear_range !== undefined) {
    const value = params.shear_range;
    if (!Array.isArray(value) || (value.length !== 2 && value.length !== 4) || !value.every((v) => typeof v === 'number' && Number.isFinite(v))) {
      throw new InvalidParamError(expected('min,max or xmin,xmax,ymin,ymax (finite numbers)', 'shear_range', value));
    }
    const bounds = { lowest: -SHEAR_LIMIT, openLow: true, highest: SHEAR_LIMIT };
    ranges = [range('shear_range', value.slice(0, 2), [0, 0], bounds)];
    if (value.length === 4) ranges.push(range('shear_range', value.slice(2, 4), [0, 0], bounds));
    if (ranges.some(([, max]) => max === SHEAR_LIMIT)) throw new InvalidRangeError(expected(`ends inside (-${SHEAR_LIMIT}, ${SHEAR_LIMIT})`, 'shear_range', value));
  }
  if (params.shear !== undefined) {
    const shear = finitePair('shear', params.shear);
    if (shear.some((v) => Math.abs(v) >= SHEAR_LIMIT)) throw new InvalidParamError(expected(`degrees inside (-${SHEAR_LIMIT}, ${SHEAR_LIMIT})`, 'shear', params.shear));
    return shear;
  }
  if (!ranges) return [0, 0];
  const x = rng.uniform(ranges[0]![0], ranges[0]![1]);
  return [x, ranges[1] ? rng.uniform(ranges[1][0], ranges[1][1]) : 0];
}
