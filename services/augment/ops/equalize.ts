import { plainOp } from './colour-ops.ts';
import { equalize as equalizeImage } from './photometric.ts';

/** torchvision's `equalize`: each colour channel's histogram spread over 0–255. */
export const equalize = plainOp('equalize', equalizeImage);
