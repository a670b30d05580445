import { crop } from './crop.ts';
import { cutmix } from './cutmix.ts';
import { cutout } from './cutout.ts';
import { erase } from './erase.ts';
import { flip } from './flip.ts';
import { gaussianBlur } from './gaussian-blur.ts';
import { gaussianNoise } from './gaussian-noise.ts';
import { jpeg } from './jpeg.ts';
import { rotate } from './rotate.ts';
import { scale } from './scale.ts';
import { OP_NAMES, type OpName, type Operation } from './types.ts';

export * from './types.ts';
export type { CropParams, CropResolved } from './crop.ts';
export type { CutmixParams, CutmixResolved } from './cutmix.ts';
export type { CutoutParams, CutoutResolved } from './cutout.ts';
export type { FlipParams, FlipResolved } from './flip.ts';
export type { RotateParams, RotateResolved } from './rotate.ts';
export type { ScaleParams, ScaleResolved } from './scale.ts';
export type { GaussianBlurParams, GaussianBlurResolved } from './gaussian-blur.ts';
export type { GaussianNoiseParams, GaussianNoiseResolved } from './gaussian-noise.ts';
export type { JpegParams, JpegResolved } from './jpeg.ts';
export type { EraseParams, EraseResolved } from './erase.ts';
export { crop, cutmix, cutout, flip, rotate, scale, gaussianBlur, gaussianNoise, jpeg, erase };

/** Every operation by its public name. */
export const operations: Record<OpName, Operation<any, any>> = {
  flip,
  rotate,
  crop,
  scale,
  cutout,
  cutmix,
  gaussian_blur: gaussianBlur,
  gaussian_noise: gaussianNoise,
  jpeg,
  erase,
};

export function isOpName(value: unknown): value is OpName {
  return (OP_NAMES as readonly unknown[]).includes(value);
}
