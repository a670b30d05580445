import { plainOp } from './colour-ops.ts';
import { autocontrast as autocontrastImage } from './photometric.ts';

/** torchvision's `autocontrast`: each colour channel stretched from its darkest to its lightest value to 0–255. */
export const autocontrast = plainOp('autocontrast', autocontrastImage);
