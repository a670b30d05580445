import type { Operation } from '../types.ts';
import { magnitudeBins } from './randaugment.ts';
import { applySubOps, coin, drawEntry, magnitudeOf, resampler, subOps, subOpsGeometry, wideSpace, type Resampler, type SubOp } from './table.ts';

export interface TrivialAugmentParams {
  num_magnitude_bins?: number;
  interpolation?: string;
  fill?: string;
  ops?: SubOp[];
}
export interface TrivialAugmentResolved extends Resampler {
  ops: SubOp[];
}

/**
 * torchvision's TrivialAugmentWide: one sub-operation drawn uniformly from the wide space, at a
 * uniformly drawn bin, a signed magnitude negated on a fair coin.
 */
export const trivialaugment: Operation<TrivialAugmentParams, TrivialAugmentResolved> = {
  name: 'trivialaugment',
  sample(rng, _size, params) {
    const bins = magnitudeBins(params.num_magnitude_bins);
    const resampling = resampler(params);
    if (params.ops !== undefined) return { ...resampling, ops: subOps('ops', params.ops) };
    const entry = drawEntry(rng, wideSpace(bins));
    // torchvision draws a bin only for an operation that has magnitudes.
    const bin = entry.bins ? rng.int(0, entry.bins.length) : 0;
    return { ...resampling, ops: [{ name: entry.name, magnitude: magnitudeOf(entry, bin, coin(rng)) }] };
  },
  async apply(image, params) {
    return applySubOps(image, params.ops, params);
  },
  geometry(params, size) {
    return subOpsGeometry(params.ops, size);
  },
};
