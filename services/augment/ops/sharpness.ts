import { NON_NEGATIVE, factorOp } from './colour-ops.ts';
import { adjustSharpness } from './photometric.ts';
import type { Range } from './types.ts';

export const DEFAULT_SHARPNESS_RANGE: Range = [0.6, 1.4];

/** torchvision's `adjust_sharpness`: blended with a 3×3 blur (0 blurred, 1 unchanged, 2 sharpened). */
export const sharpness = factorOp('sharpness', adjustSharpness, DEFAULT_SHARPNESS_RANGE, NON_NEGATIVE);
