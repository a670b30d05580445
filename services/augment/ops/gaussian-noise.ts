import { InvalidParamError } from '../errors.ts';
import { createRng } from '../random.ts';
import { boolean, expected, finite, fixedOrUniform, integer } from './params.ts';
import { IDENTITY, affineGeometry } from './geometry.ts';
import type { Operation, Range } from './types.ts';

export const DEFAULT_NOISE_SIGMA_RANGE: Range = [0, 25];
export const DEFAULT_NOISE_MEAN = 0;
export const DEFAULT_PER_CHANNEL = true;
const SEEDS = 2 ** 32;

export interface GaussianNoiseParams {
  /** Standard deviation in levels of 0–255; wins over sigma_range. */
  sigma?: number;
  sigma_range?: Range;
  mean?: number;
  per_channel?: boolean;
  /** Replay: the seed of the per-pixel noise; drawn from the request's seed when absent. */
  noise_seed?: number;
}
export interface GaussianNoiseResolved {
  sigma: number;
  mean: number;
  per_channel: boolean;
  noise_seed: number;
}

/**
 * Adds N(mean, sigma²) levels to each colour value (alpha kept), rounded and clipped to 0–255.
 * `per_channel` false adds one draw per pixel to all its colour channels (brightness noise).
 * The noise comes from its own generator seeded by `noise_seed`, so the applied params replay it.
 */
export const gaussianNoise: Operation<GaussianNoiseParams, GaussianNoiseResolved> = {
  name: 'gaussian_noise',
  sample(rng, _size, params) {
    const sigma = fixedOrUniform(
      rng,
      { name: 'sigma', value: params.sigma },
      { name: 'sigma_range', value: params.sigma_range, fallback: DEFAULT_NOISE_SIGMA_RANGE, bounds: { lowest: 0 } },
    );
    if (!(sigma >= 0)) throw new InvalidParamError(expected('a number >= 0', 'sigma', params.sigma));
    const mean = params.mean === undefined ? DEFAULT_NOISE_MEAN : finite('mean', params.mean);
    const per_channel = params.per_channel === undefined ? DEFAULT_PER_CHANNEL : boolean('per_channel', params.per_channel);
    // Fully resolved params draw nothing (a pipeline's replay refuses draws).
    const noise_seed = params.noise_seed === undefined ? rng.int(0, SEEDS) : noiseSeed(params.noise_seed);
    return { sigma, mean, per_channel, noise_seed };
  },
  async apply(image, { sigma, mean, per_channel, noise_seed }) {
    const noise = createRng(noiseSeed(noise_seed));
    const { data, channels } = image;
    const colours = channels === 2 || channels === 4 ? channels - 1 : channels;
    const out = Buffer.from(data);
    for (let p = 0; p < data.length; p += channels) {
      let shift = mean + sigma * noise.normal();
      for (let c = 0; c < colours; c++) {
        if (c > 0 && per_channel) shift = mean + sigma * noise.normal();
        const v = Math.round(data[p + c]! + shift);
        out[p + c] = v < 0 ? 0 : v > 255 ? 255 : v;
      }
    }
    return { ...image, data: out };
  },
  geometry(_params, size) {
    return affineGeometry(IDENTITY, size);
  },
};

function noiseSeed(value: unknown): number {
  const seed = integer('noise_seed', value, 0);
  if (seed >= SEEDS) throw new InvalidParamError(expected(`an integer in [0, ${SEEDS - 1}]`, 'noise_seed', value));
  return seed;
}
