import { InvalidParamError } from '../../errors.ts';
import { affineGeometry, IDENTITY } from '../geometry.ts';
import { boolean, expected } from '../params.ts';
import type { Operation, RawImage, Rng } from '../types.ts';
import { AUGMIX_BINS, applySubOps, augMixSpace, boundedInteger, coin, drawEntry, magnitudeOf, resampler, subOps, type Resampler, type SubOp } from './table.ts';

export const DEFAULT_AUGMIX_SEVERITY = 3;
export const DEFAULT_AUGMIX_WIDTH = 3;
/** Negative (or 0): each chain's depth drawn from 1–3, as torchvision. */
export const DEFAULT_AUGMIX_DEPTH = -1;
export const DEFAULT_AUGMIX_ALPHA = 1;
export const MAX_AUGMIX_WIDTH = 16;
export const MAX_AUGMIX_DEPTH = 10;
/** torchvision's AugMix default, unlike its other policies. */
export const DEFAULT_AUGMIX_INTERPOLATION = 'bilinear';

export interface AugMixParams {
  severity?: number;
  mixture_width?: number;
  chain_depth?: number;
  alpha?: number;
  all_ops?: boolean;
  interpolation?: string;
  fill?: string;
  chains?: SubOp[][];
  weights?: number[];
  mixing?: number[];
}
export interface AugMixResolved extends Resampler {
  chains: SubOp[][];
  /** Each chain's share of the augmented part (Dirichlet(α)), summing to 1. */
  weights: number[];
  /** `[m0, m1]`: the original's and the chains' shares (Beta(α, α)), summing to 1. */
  mixing: [number, number];
}

/** Normalised Gamma(α) draws; when all underflow (tiny α), one of them at random takes everything. */
function dirichlet(rng: Rng, alpha: number, n: number): number[] {
  const draws = Array.from({ length: n }, () => rng.gamma(alpha));
  const sum = draws.reduce((a, b) => a + b, 0);
  if (sum > 0) return draws.map((v) => v / sum);
  const winner = rng.int(0, n);
  return draws.map((_, i) => (i === winner ? 1 : 0));
}

function shares(name: string, value: unknown, length: number): number[] {
  if (!Array.isArray(value) || value.length !== length || !value.every((v) => typeof v === 'number' && Number.isFinite(v) && v >= 0 && v <= 1)) {
    throw new InvalidParamError(expected(`${length} numbers in [0, 1]`, name, value));
  }
  const sum = (value as number[]).reduce((a, b) => a + b, 0);
  if (Math.abs(sum - 1) > 1e-4) throw new InvalidParamError(expected('numbers summing to 1', name, value));
  return value as number[];
}

/**
 * torchvision's AugMix: `mixture_width` chains of 1–3 (or `chain_depth`) sub-operations drawn
 * uniformly from its space, each magnitude from the first `severity` of 10 bins, mixed by
 * Dirichlet(α) weights and then with the original by a Beta(α, α) pair. The original is always
 * in the mix, so boxes, keypoints and masks stay where they were (no single map moves a blend of
 * differently moved chains).
 */
export const augmix: Operation<AugMixParams, AugMixResolved> = {
  name: 'augmix',
  sample(rng, size, params) {
    const severity = boundedInteger('severity', params.severity, DEFAULT_AUGMIX_SEVERITY, 1, AUGMIX_BINS);
    const width = boundedInteger('mixture_width', params.mixture_width, DEFAULT_AUGMIX_WIDTH, 1, MAX_AUGMIX_WIDTH);
    const depth = boundedInteger('chain_depth', params.chain_depth, DEFAULT_AUGMIX_DEPTH, -1, MAX_AUGMIX_DEPTH);
    const alpha = params.alpha ?? DEFAULT_AUGMIX_ALPHA;
    if (typeof alpha !== 'number' || !(alpha >= 0.01 && alpha <= 100)) throw new InvalidParamError(expected('a number in [0.01, 100]', 'alpha', alpha));
    const allOps = params.all_ops === undefined ? true : boolean('all_ops', params.all_ops);
    const resampling = resampler(params, DEFAULT_AUGMIX_INTERPOLATION);
    const replay = [params.chains, params.weights, params.mixing];
    if (replay.some((v) => v !== undefined)) {
      const missing = (['chains', 'weights', 'mixing'] as const).find((_, i) => replay[i] === undefined);
      if (missing) throw new InvalidParamError(expected('a value (chains, weights and mixing replay together)', missing, undefined));
      if (!Array.isArray(params.chains) || params.chains.length < 1 || params.chains.length > MAX_AUGMIX_WIDTH) {
        throw new InvalidParamError(expected(`1 to ${MAX_AUGMIX_WIDTH} lists of {name, magnitude}`, 'chains', params.chains));
      }
      const chains = params.chains.map((chain, i) => subOps(`chains[${i}]`, chain));
      const weights = shares('weights', params.weights, chains.length);
      const [m0, m1] = shares('mixing', params.mixing, 2) as [number, number];
      return { ...resampling, chains, weights, mixing: [m0, m1] };
    }
    const space = augMixSpace(size, allOps);
    // torchvision's draw order: the mixing pair, the chain weights, then each chain.
    const m0 = rng.beta(alpha, alpha);
    const weights = dirichlet(rng, alpha, width);
    const chains = weights.map(() => {
      const length = depth > 0 ? depth : rng.int(1, 4);
      return Array.from({ length }, () => {
        const entry = drawEntry(rng, space);
        const bin = entry.bins ? rng.int(0, severity) : 0;
        return { name: entry.name, magnitude: magnitudeOf(entry, bin, coin(rng)) };
      });
    });
    return { ...resampling, chains, weights, mixing: [m0, 1 - m0] };
  },
  async apply(image, params) {
    return mixChains(image, params);
  },
  geometry(_params, size) {
    return affineGeometry(IDENTITY, size);
  },
};

/**
 * `m0·x + Σ (wᵢ·m1)·chainᵢ(x)` in float32, as torchvision accumulates it, truncated to 8 bits
 * (its `.to(uint8)`).
 */
export function mixChains(image: RawImage, { chains, weights, mixing, interpolation, fill }: AugMixResolved): RawImage {
  const f = Math.fround;
  const [m0, m1] = [f(mixing[0]), f(mixing[1])];
  const src = image.data;
  const mix = new Float32Array(src.length);
  for (let i = 0; i < src.length; i++) mix[i] = m0 * src[i]!;
  chains.forEach((chain, c) => {
    const weight = f(f(weights[c]!) * m1);
    const aug = applySubOps(image, chain, { interpolation, fill }).data;
    for (let i = 0; i < src.length; i++) mix[i] = mix[i]! + f(weight * aug[i]!);
  });
  const data = Buffer.allocUnsafe(src.length);
  for (let i = 0; i < src.length; i++) data[i] = Math.min(255, Math.trunc(mix[i]!));
  return { ...image, data };
}
