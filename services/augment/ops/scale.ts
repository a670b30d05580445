import { DEFAULT_FILL, colourPixel, parseColour } from '../colour.ts';
import { InvalidParamError } from '../errors.ts';
import { boolean, expected, fixedOrUniform } from './params.ts';
import type { Sharp } from 'sharp';
import { RESIZE, centreFit, centreSpan, cloneImage, viaSharp } from './raster.ts';
import { IDENTITY, affineGeometry, compose, projective, resizing, scaling, translation } from './geometry.ts';
import type { ImageSize, Operation, Range } from './types.ts';

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
  async apply(image, params) {
    const { width, height } = scaledSize(image, params.factor);
    if (width === image.width && height === image.height) return cloneImage(image);
    const resized = await viaSharp(image, resizeAndTrim(image, params));
    if (!params.keep_size) return resized;
    return centreFit(resized, image.width, image.height, colourPixel(parseColour(params.fill, 'fill'), image.channels));
  },
  transform(params, size) {
    const { width, height } = scaledSize(size, params.factor);
    // Padding a zoom out with `fill` is painting: that case stays with apply.
    if (params.keep_size && (width < size.width || height < size.height)) return undefined;
    return resizeAndTrim(size, params);
  },
  geometry(params, size) {
    const scaled = scaledSize(size, params.factor);
    if (scaled.width === size.width && scaled.height === size.height) return affineGeometry(IDENTITY, size);
    const resize = resizing(size, scaled);
    if (!params.keep_size) return affineGeometry(resize, scaled);
    // centreFit's offsets: the grown axis loses `src` on the left, the shrunk one gains `dst`.
    const sx = centreSpan(scaled.width, size.width);
    const sy = centreSpan(scaled.height, size.height);
    return affineGeometry(compose(translation(sx.dst - sx.src, sy.dst - sy.src), resize), size);
  },
  // The resize as a bilinear warp (align_corners=False), then the same centre crop or pad; a zoom
  // out exposes the border, shown in `fill`.
  resampling(params, size) {
    const scaled = scaledSize(size, params.factor);
    if (scaled.width === size.width && scaled.height === size.height) return { forward: projective(IDENTITY), ...size, interpolation: 'nearest', fill: params.fill };
    const resize = scaling(scaled.width / size.width, scaled.height / size.height);
    if (!params.keep_size) return { forward: projective(resize), ...scaled, interpolation: 'bilinear', fill: params.fill };
    const sx = centreSpan(scaled.width, size.width);
    const sy = centreSpan(scaled.height, size.height);
    return { forward: projective(compose(translation(sx.dst - sx.src, sy.dst - sy.src), resize)), ...size, interpolation: 'bilinear', fill: params.fill };
  },
};

function scaledSize(size: ImageSize, factor: number): ImageSize {
  return { width: scaledLength(size.width, factor), height: scaledLength(size.height, factor) };
}

/**
 * The resize, and with `keep_size` the centre crop of the axes that grew, inside sharp (after
 * the resize), so a big zoom in is never materialised in full; padding the axes that shrank is
 * left to the caller.
 */
function resizeAndTrim(size: ImageSize, { factor, keep_size }: ScaleResolved): (pipeline: Sharp) => Sharp {
  const { width, height } = scaledSize(size, factor);
  if (width === size.width && height === size.height) return (s) => s;
  if (!keep_size) return (s) => s.resize(width, height, RESIZE);
  const sx = centreSpan(width, size.width);
  const sy = centreSpan(height, size.height);
  return (s) => s.resize(width, height, RESIZE).extract({ left: sx.src, top: sy.src, width: sx.len, height: sy.len });
}
