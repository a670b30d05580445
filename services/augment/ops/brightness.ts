import { NON_NEGATIVE, factorOp } from './colour-ops.ts';
import { adjustBrightness } from './photometric.ts';
import type { Range } from './types.ts';

export const DEFAULT_BRIGHTNESS_RANGE: Range = [0.6, 1.4];

/** torchvision's `adjust_brightness`: the image × factor (0 black, 1 unchanged), clipped. */
export const brightness = factorOp('brightness', adjustBrightness, DEFAULT_BRIGHTNESS_RANGE, NON_NEGATIVE);
