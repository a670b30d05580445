import { NON_NEGATIVE, factorOp } from './colour-ops.ts';
import { adjustSaturation } from './photometric.ts';
import type { Range } from './types.ts';

export const DEFAULT_SATURATION_RANGE: Range = [0.6, 1.4];

/** torchvision's `adjust_saturation`: blended with the pixel's own grey (0 grey, 1 unchanged); grey stays grey. */
export const saturation = factorOp('saturation', adjustSaturation, DEFAULT_SATURATION_RANGE, NON_NEGATIVE);
