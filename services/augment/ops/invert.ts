import { plainOp } from './colour-ops.ts';
import { invert as invertImage } from './photometric.ts';

/** torchvision's `invert`: 255 − v on the colour channels (libvips' `negate` in one pass). */
export const invert = plainOp('invert', invertImage, (s) => s.negate({ alpha: false }));
