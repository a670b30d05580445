import { plainOp } from './colour-ops.ts';
import { invert as invertImage } from './photometric.ts';

/** torchvision's `invert`: 255 − v on the colour channels. */
export const invert = plainOp('invert', invertImage);
