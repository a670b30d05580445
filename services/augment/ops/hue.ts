import { factorOp, type Bounds } from './colour-ops.ts';
import { adjustHue } from './photometric.ts';
import type { Range } from './types.ts';

export const DEFAULT_HUE_RANGE: Range = [-0.1, 0.1];
/** A hue shift is a fraction of the colour circle: ±0.5 reaches the opposite colour. */
export const HUE_BOUNDS: Bounds = { lowest: -0.5, highest: 0.5 };

/** torchvision's `adjust_hue`: the hue turned by `factor` of the circle; grey stays grey. */
export const hue = factorOp('hue', adjustHue, DEFAULT_HUE_RANGE, HUE_BOUNDS);
