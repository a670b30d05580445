import { fixedOrSampled, unmoved, type Bounds } from './colour-ops.ts';
import { solarize as solarizeImage } from './photometric.ts';
import type { Operation, Range } from './types.ts';

/** From the upper half of the values inverted (PIL's default threshold) to none but white. */
export const DEFAULT_THRESHOLD_RANGE: Range = [128, 255];
export const THRESHOLD_BOUNDS: Bounds = { lowest: 0, highest: 255 };

export interface SolarizeParams {
  threshold?: number;
  threshold_range?: Range;
}
export interface SolarizeResolved {
  threshold: number;
}

/** torchvision's `solarize`: every value `>= threshold` inverted. */
export const solarize: Operation<SolarizeParams, SolarizeResolved> = {
  name: 'solarize',
  sample(rng, _size, params) {
    const threshold = fixedOrSampled(
      rng,
      { name: 'threshold', value: params.threshold },
      { name: 'threshold_range', value: params.threshold_range, fallback: DEFAULT_THRESHOLD_RANGE },
      THRESHOLD_BOUNDS,
    );
    return { threshold };
  },
  async apply(image, { threshold }) {
    return solarizeImage(image, threshold);
  },
  geometry: unmoved,
};
