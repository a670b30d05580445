import { InvalidParamError } from '../../errors.ts';
import { expected } from '../params.ts';
import type { Operation } from '../types.ts';
import { applySubOps, boundedInteger, coin, drawEntry, magnitudeOf, randAugmentSpace, resampler, subOps, subOpsGeometry, type Resampler, type SubOp } from './table.ts';

export const DEFAULT_RANDAUGMENT_NUM_OPS = 2;
export const DEFAULT_RANDAUGMENT_MAGNITUDE = 9;
export const DEFAULT_NUM_MAGNITUDE_BINS = 31;
/** Each op is a full pass over the image; more than this is no longer an augmentation recipe. */
export const MAX_POLICY_OPS = 16;
export const MAX_MAGNITUDE_BINS = 1000;

export interface RandAugmentParams {
  num_ops?: number;
  magnitude?: number;
  num_magnitude_bins?: number;
  interpolation?: string;
  fill?: string;
  ops?: SubOp[];
}
export interface RandAugmentResolved extends Resampler {
  ops: SubOp[];
}

/** The magnitude-bin count (at least 2: torchvision's posterize bins divide by bins − 1). */
export function magnitudeBins(value: unknown): number {
  return boundedInteger('num_magnitude_bins', value, DEFAULT_NUM_MAGNITUDE_BINS, 2, MAX_MAGNITUDE_BINS);
}

/**
 * torchvision's RandAugment: `num_ops` sub-operations drawn uniformly (with repeats) from its 14,
 * each at bin `magnitude` of `num_magnitude_bins`, a signed magnitude negated on a fair coin.
 */
export const randaugment: Operation<RandAugmentParams, RandAugmentResolved> = {
  name: 'randaugment',
  sample(rng, size, params) {
    const numOps = boundedInteger('num_ops', params.num_ops, DEFAULT_RANDAUGMENT_NUM_OPS, 0, MAX_POLICY_OPS);
    const bins = magnitudeBins(params.num_magnitude_bins);
    const magnitude = params.magnitude ?? DEFAULT_RANDAUGMENT_MAGNITUDE;
    if (typeof magnitude !== 'number' || !Number.isSafeInteger(magnitude) || magnitude < 0 || magnitude >= bins) {
      throw new InvalidParamError(expected(`an integer in [0, ${bins - 1}] (below num_magnitude_bins)`, 'magnitude', magnitude));
    }
    const resampling = resampler(params);
    if (params.ops !== undefined) return { ...resampling, ops: subOps('ops', params.ops) };
    const space = randAugmentSpace(bins, size);
    const ops = Array.from({ length: numOps }, () => {
      const entry = drawEntry(rng, space);
      return { name: entry.name, magnitude: magnitudeOf(entry, magnitude, coin(rng)) };
    });
    return { ...resampling, ops };
  },
  async apply(image, params) {
    return applySubOps(image, params.ops, params);
  },
  geometry(params, size) {
    return subOpsGeometry(params.ops, size);
  },
};
