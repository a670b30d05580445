import { DEFAULT_FILL, colourPixel, parseColour } from '../colour.ts';
import { InvalidParamError } from '../errors.ts';
import { boolean, expected, fixedOrUniform } from './params.ts';
import { RESIZE_KERNEL, centreFit, centreSpan, cloneImage, viaSharp } from './raster.ts';
import type { Operation, Range } from './types.ts';

export const DEFAULT_FACTOR_RANGE: Range = [0.8, 1.2];
export const DEFAULT_KEEP_SIZE = true;

export interface ScaleParams {
  factor?: number;
  factor_range?: Range;
  keep_size?: boolean;
  fill?: string;
}
export interface ScaleResolved {
  factor: number;
  keep_size: boolean;
  fill: string;
}

/** round(length × factor), at least 1. */
export function scaledLength(length: number, factor: number): number {
  return Math.max(1, Math.round(length * factor));
}

/**
 * Resizes by `factor`. With `keep_size` the output keeps the input's size: a zoom in is cropped
 * around the centre, a zoom out is padded with `fill` around it.
 */
export const scale: Operation<ScaleParams, ScaleResolved> = {
  name: 'scale',
  sample(rng, _size, params) {
    const factor = fixedOrUniform(
      rng,
      { name: 'factor', value: params.factor },
      { name: 'factor_range', value: params.factor_range, fallback: DEFAULT_FACTOR_RANGE, bounds: { lowest: 0, openLow: true } },
    );
    if (!(factor > 0)) throw new InvalidParamError(expected('a number > 0', 'factor', factor));
    const keep_size = params.keep_size === undefined ? DEFAULT_KEEP_SIZE : boolean('keep_size', params.keep_size);
    const fill = parseColour(params.fill ?? DEFAULT_FILL, 'fill').hex;
    return { factor, keep_size, fill };
  },
  async apply(image, { factor, keep_size, fill }) {
    const width = scaledLength(image.width, factor);
    const height = scaledLength(image.height, factor);
    if (width === image.width && height === image.height) return cloneImage(image);
    const resize = { fit: 'fill', kernel: RESIZE_KERNEL } as const;
    if (!keep_size) return viaSharp(image, (s) => s.resize(width, height, resize));
    // Crop the too-long axes inside sharp (after the resize), so a big zoom in is never
    // materialised in full; pad the too-short ones afterwards.
    const sx = centreSpan(width, image.width);
    const sy = centreSpan(height, image.height);
    const resized = await viaSharp(image, (s) =>
      s.resize(width, height, resize).extract({ left: sx.src, top: sy.src, width: sx.len, height: sy.len }),
    );
    return centreFit(resized, image.width, image.height, colourPixel(parseColour(fill, 'fill'), image.channels));
  },
};
