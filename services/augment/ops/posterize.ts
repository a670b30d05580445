import { fixedOrSampled, unmoved, type Bounds } from './colour-ops.ts';
import { posterize as posterizeImage } from './photometric.ts';
import type { Operation, Range } from './types.ts';

/** RandAugment's and TrivialAugment's span of bits (8 is the image unchanged). */
export const DEFAULT_BITS_RANGE: Range = [4, 8];
export const BITS_BOUNDS: Bounds = { lowest: 1, highest: 8, integer: true };

export interface PosterizeParams {
  bits?: number;
  bits_range?: Range;
}
export interface PosterizeResolved {
  bits: number;
}

/** torchvision's `posterize`: only the top `bits` bits of each value kept. */
export const posterize: Operation<PosterizeParams, PosterizeResolved> = {
  name: 'posterize',
  sample(rng, _size, params) {
    const bits = fixedOrSampled(
      rng,
      { name: 'bits', value: params.bits },
      { name: 'bits_range', value: params.bits_range, fallback: DEFAULT_BITS_RANGE },
      BITS_BOUNDS,
    );
    return { bits };
  },
  async apply(image, { bits }) {
    return posterizeImage(image, bits);
  },
  geometry: unmoved,
};
