import { NON_NEGATIVE, factorOp } from './colour-ops.ts';
import { adjustContrast } from './photometric.ts';
import type { Range } from './types.ts';

export const DEFAULT_CONTRAST_RANGE: Range = [0.6, 1.4];

/** torchvision's `adjust_contrast`: blended with the image's mean grey (0 flat grey, 1 unchanged). */
export const contrast = factorOp('contrast', adjustContrast, DEFAULT_CONTRAST_RANGE, NON_NEGATIVE);
