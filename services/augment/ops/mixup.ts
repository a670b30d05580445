import { InvalidParamError } from '../errors.ts';
import { conformMix, mixLabels, requireMix } from './cutmix.ts';
import { expected, finite } from './params.ts';
import { RESIZE } from './raster.ts';
import { IDENTITY, resizing } from './geometry.ts';
import type { OpContext, Operation, RawImage } from './types.ts';

export const DEFAULT_MIXUP_ALPHA = 1;

export interface MixupParams {
  /** λ ~ Beta(alpha, alpha). */
  alpha?: number;
  /** A fixed λ (the image's weight) instead of a Beta draw: replay. */
  lambda?: number;
  /** Class of the image, of the mix image, and how many classes: all three or none. */
  label?: number;
  mix_label?: number;
  num_classes?: number;
  /** Output only; ignored when sent back (recomputed from λ). */
  label_vector?: number[];
}
export interface MixupResolved {
  lambda: number;
  label?: number;
  mix_label?: number;
  num_classes?: number;
  /** λ·onehot(label) + (1 − λ)·onehot(mix_label). */
  label_vector?: number[];
}

/** The mix image stretched to `image`'s size and layout (the resize CutMix uses). */
function stretchedMix(image: RawImage, ctx: OpContext): Promise<RawImage> {
  return conformMix(requireMix(ctx), image, (s) => s.resize(image.width, image.height, RESIZE));
}

/**
 * MixUp (Zhang et al. 2018): every pixel λ·image + (1 − λ)·mix image (stretched to image's size),
 * rounded to 8 bits, with λ ~ Beta(α, α). Both images' targets are kept: the mix image's scaled by
 * the stretch, after the image's; its masks after the image's.
 */
export const mixup: Operation<MixupParams, MixupResolved> = {
  name: 'mixup',
  sample(rng, _size, params, ctx) {
    requireMix(ctx);
    const alpha = finite('alpha', params.alpha ?? DEFAULT_MIXUP_ALPHA);
    if (!(alpha > 0)) throw new InvalidParamError(expected('a number > 0', 'alpha', alpha));
    const lambda = params.lambda === undefined ? rng.beta(alpha, alpha) : finite('lambda', params.lambda);
    if (!(lambda >= 0 && lambda <= 1)) throw new InvalidParamError(expected('a number in [0, 1]', 'lambda', lambda));
    const mixed = mixLabels(params, lambda);
    if (!mixed) return { lambda };
    const { vector, ...classes } = mixed;
    return { lambda, ...classes, label_vector: vector };
  },
  async apply(image, { lambda }, ctx) {
    const mix = await stretchedMix(image, ctx);
    const out = Buffer.allocUnsafe(image.data.length);
    const [a, b] = [image.data, mix.data];
    const mu = 1 - lambda;
    for (let i = 0; i < out.length; i++) out[i] = Math.round(lambda * a[i]! + mu * b[i]!);
    return { data: out, width: image.width, height: image.height, channels: image.channels };
  },
  geometry(_resolved, size, ctx) {
    const frame: [number, number, number, number] = [0, 0, size.width, size.height];
    return {
      matrix: IDENTITY,
      width: size.width,
      height: size.height,
      covered: [],
      layers: {
        sources: [
          { source: 0, matrix: IDENTITY, region: frame },
          { source: 1, matrix: resizing(requireMix(ctx), size), region: frame },
        ],
        masks: 'stack',
      },
    };
  },
};
