import { NON_NEGATIVE, fixedOrSampled, unmoved, within } from './colour-ops.ts';
import { adjustGamma } from './photometric.ts';
import type { Operation, Range } from './types.ts';

export const DEFAULT_GAMMA_RANGE: Range = [0.8, 1.2];
export const DEFAULT_GAIN = 1;

export interface GammaParams {
  gamma?: number;
  gamma_range?: Range;
  gain?: number;
}
export interface GammaResolved {
  gamma: number;
  gain: number;
}

/** torchvision's `adjust_gamma`: gain · (v/255)^gamma (below 1 lighter, above 1 darker). */
export const gamma: Operation<GammaParams, GammaResolved> = {
  name: 'gamma',
  sample(rng, _size, params) {
    const value = fixedOrSampled(
      rng,
      { name: 'gamma', value: params.gamma },
      { name: 'gamma_range', value: params.gamma_range, fallback: DEFAULT_GAMMA_RANGE },
      NON_NEGATIVE,
    );
    return { gamma: value, gain: within('gain', params.gain ?? DEFAULT_GAIN, NON_NEGATIVE) };
  },
  async apply(image, params) {
    return adjustGamma(image, params.gamma, params.gain);
  },
  geometry: unmoved,
};
