import { InvalidParamError } from '../errors.ts';
import { unmoved } from './colour-ops.ts';
import { expected } from './params.ts';
import { rgbToGrayscale } from './photometric.ts';
import type { Operation } from './types.ts';

export const DEFAULT_GRAYSCALE_CHANNELS = 3;

export interface GrayscaleParams {
  channels?: number;
}
export interface GrayscaleResolved {
  channels: 1 | 3;
}

/**
 * torchvision's `rgb_to_grayscale`: luma as one channel, or as three equal ones (the shape a
 * colour model expects); alpha kept. `channels` is reported so that a replay needs nothing else.
 */
export const grayscale: Operation<GrayscaleParams, GrayscaleResolved> = {
  name: 'grayscale',
  sample(_rng, _size, params) {
    const channels = params.channels ?? DEFAULT_GRAYSCALE_CHANNELS;
    if (channels !== 1 && channels !== 3) {
      throw Object.assign(new InvalidParamError(expected('1 or 3', 'channels', channels)), { param: 'channels' });
    }
    return { channels };
  },
  async apply(image, { channels }) {
    return rgbToGrayscale(image, channels);
  },
  geometry: unmoved,
};
