import { crop } from './crop.ts';
import { cutmix } from './cutmix.ts';
import { cutout } from './cutout.ts';
import { flip } from './flip.ts';
import { mixup } from './mixup.ts';
import { mosaic } from './mosaic.ts';
import { rotate } from './rotate.ts';
import { scale } from './scale.ts';
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
export { crop, cutmix, cutout, flip, rotate, scale, mixup, mosaic };

/** Every operation by its public name. */
export const operations: Record<OpName, Operation<any, any>> = { flip, rotate, crop, scale, cutout, cutmix, mixup, mosaic };

export function isOpName(value: unknown): value is OpName {
  return (OP_NAMES as readonly unknown[]).includes(value);
}
