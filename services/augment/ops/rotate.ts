import { DEFAULT_FILL, colourPixel, parseColour } from '../colour.ts';
import { boolean, fixedOrUniform } from './params.ts';
import { centreFit, cloneImage, sharpBackground, viaSharp } from './raster.ts';
import type { Operation, Range } from './types.ts';

export const DEFAULT_ANGLE_RANGE: Range = [-30, 30];
export const DEFAULT_ROTATE_EXPAND = false;

export interface RotateParams {
  /** Degrees, positive counter-clockwise (torchvision, albumentations). */
  angle?: number;
  angle_range?: Range;
  fill?: string;
  expand?: boolean;
}
export interface RotateResolved {
  angle: number;
  fill: string;
  expand: boolean;
}

/**
 * Rotates about the centre. Without `expand` the output keeps the input's size (the grown canvas
 * is cropped back around the centre, or padded with `fill` where a quarter turn makes it narrower).
 * Multiples of 90° are exact pixel permutations.
 */
export const rotate: Operation<RotateParams, RotateResolved> = {
  name: 'rotate',
  sample(rng, _size, params) {
    const angle = fixedOrUniform(
      rng,
      { name: 'angle', value: params.angle },
      { name: 'angle_range', value: params.angle_range, fallback: DEFAULT_ANGLE_RANGE },
    );
    const fill = parseColour(params.fill ?? DEFAULT_FILL, 'fill').hex;
    const expand = params.expand === undefined ? DEFAULT_ROTATE_EXPAND : boolean('expand', params.expand);
    return { angle, fill, expand };
  },
  async apply(image, { angle, fill, expand }) {
    if (angle % 360 === 0) return cloneImage(image);
    const colour = parseColour(fill, 'fill');
    // sharp turns clockwise for a positive angle.
    const turned = await viaSharp(image, (s) =>
      s.rotate(-angle, { background: sharpBackground(colour, image.channels) }),
    );
    return expand ? turned : centreFit(turned, image.width, image.height, colourPixel(colour, image.channels));
  },
};
