import { affine } from './affine.ts';
import { crop } from './crop.ts';
import { cutmix } from './cutmix.ts';
import { cutout } from './cutout.ts';
import { erase } from './erase.ts';
import { flip } from './flip.ts';
import { perspective } from './perspective.ts';
import { gaussianBlur } from './gaussian-blur.ts';
import { gaussianNoise } from './gaussian-noise.ts';
import { jpeg } from './jpeg.ts';
import { mixup } from './mixup.ts';
import { mosaic } from './mosaic.ts';
import { rotate } from './rotate.ts';
import { scale } from './scale.ts';
import { autocontrast } from './autocontrast.ts';
import { brightness } from './brightness.ts';
import { colorJitter } from './color-jitter.ts';
import { contrast } from './contrast.ts';
import { equalize } from './equalize.ts';
import { gamma } from './gamma.ts';
import { grayscale } from './grayscale.ts';
import { hue } from './hue.ts';
import { invert } from './invert.ts';
import { posterize } from './posterize.ts';
import { saturation } from './saturation.ts';
import { sharpness } from './sharpness.ts';
import { solarize } from './solarize.ts';
import { autoaugment } from './policies/autoaugment.ts';
import { augmix } from './policies/augmix.ts';
import { randaugment } from './policies/randaugment.ts';
import { trivialaugment } from './policies/trivialaugment.ts';
import { OP_NAMES, type OpName, type Operation } from './types.ts';

export * from './types.ts';
export type { CropParams, CropResolved } from './crop.ts';
export type { CutmixParams, CutmixResolved } from './cutmix.ts';
export type { CutoutParams, CutoutResolved } from './cutout.ts';
export type { FlipParams, FlipResolved } from './flip.ts';
export type { MixupParams, MixupResolved } from './mixup.ts';
export type { MosaicParams, MosaicResolved } from './mosaic.ts';
export type { RotateParams, RotateResolved } from './rotate.ts';
export type { ScaleParams, ScaleResolved } from './scale.ts';
export type { AffineParams, AffineResolved } from './affine.ts';
export type { PerspectiveParams, PerspectiveResolved } from './perspective.ts';
export { crop, cutmix, cutout, flip, rotate, scale, affine, perspective, autocontrast, brightness, colorJitter, contrast, equalize, gamma, grayscale, hue, invert, posterize, saturation, sharpness, solarize, gaussianBlur, gaussianNoise, jpeg, erase, mixup, mosaic, autoaugment, randaugment, trivialaugment, augmix };

export type { AutoAugmentParams, AutoAugmentResolved } from './policies/autoaugment.ts';
export type { RandAugmentParams, RandAugmentResolved } from './policies/randaugment.ts';
export type { TrivialAugmentParams, TrivialAugmentResolved } from './policies/trivialaugment.ts';
export type { AugMixParams, AugMixResolved } from './policies/augmix.ts';
export type { FactorParams, FactorResolved } from './colour-ops.ts';
export type { ColorJitterParams, ColorJitterResolved } from './color-jitter.ts';
export type { GammaParams, GammaResolved } from './gamma.ts';
export type { GrayscaleParams, GrayscaleResolved } from './grayscale.ts';
export type { PosterizeParams, PosterizeResolved } from './posterize.ts';
export type { SolarizeParams, SolarizeResolved } from './solarize.ts';
export type { GaussianBlurParams, GaussianBlurResolved } from './gaussian-blur.ts';
export type { GaussianNoiseParams, GaussianNoiseResolved } from './gaussian-noise.ts';
export type { JpegParams, JpegResolved } from './jpeg.ts';
export type { EraseParams, EraseResolved } from './erase.ts';

/** Every operation by its public name. */
export const operations: Record<OpName, Operation<any, any>> = {
  flip,
  rotate,
  crop,
  scale,
  cutout,
  cutmix,
  affine,
  perspective,
  brightness,
  contrast,
  saturation,
  hue,
  color_jitter: colorJitter,
  sharpness,
  gamma,
  posterize,
  solarize,
  equalize,
  autocontrast,
  invert,
  grayscale,
  gaussian_blur: gaussianBlur,
  gaussian_noise: gaussianNoise,
  jpeg,
  erase,
  mixup,
  mosaic,
  autoaugment,
  randaugment,
  trivialaugment,
  augmix,
};

export function isOpName(value: unknown): value is OpName {
  return (OP_NAMES as readonly unknown[]).includes(value);
}
