import { ImpossibleParamError, InvalidParamError } from '../errors.ts';
import { expected, integer, pair, range } from './params.ts';
import type { Sharp } from 'sharp';
import { RESIZE, extractRegion, viaSharp } from './raster.ts';
import { affineGeometry, compose, projective, resizing, scaling, translation } from './geometry.ts';
import type { ImageSize, Operation, Range, Rng } from './types.ts';

export const DEFAULT_CROP_SCALE_RANGE: Range = [0.08, 1];
export const DEFAULT_CROP_RATIO_RANGE: Range = [3 / 4, 4 / 3];
/** torchvision's RandomResizedCrop tries this often before falling back to a centre crop. */
export const CROP_ATTEMPTS = 10;

export interface CropParams {
  width?: number;
  height?: number;
  /** Left edge; random when absent. Given together with `y`, and only with width and height. */
  x?: number;
  y?: number;
  /** Share of the image's area, when width and height are absent. */
  scale_range?: Range;
  /** Width / height, sampled log-uniformly. */
  ratio_range?: Range;
  output_width?: number;
  output_height?: number;
}
export interface CropResolved {
  x: number;
  y: number;
  width: number;
  height: number;
  output_width?: number;
  output_height?: number;
}

/** Python's round(): halves go to the even neighbour, which torchvision's sizes inherit. */
export function roundHalfEven(v: number): number {
  const r = Math.round(v);
  return Math.abs(v % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * torchvision.transforms.RandomResizedCrop.get_params, draw for draw: area share uniform, aspect
 * ratio log-uniform, up to CROP_ATTEMPTS tries, then the centre crop clamped to the ratio range.
 */
export function randomResizedCropBox(
  rng: Rng,
  { width, height }: ImageSize,
  [scaleMin, scaleMax]: Range,
  [ratioMin, ratioMax]: Range,
): { x: number; y: number; width: number; height: number } {
  const area = width * height;
  for (let attempt = 0; attempt < CROP_ATTEMPTS; attempt++) {
    const targetArea = area * rng.uniform(scaleMin, scaleMax);
    const aspect = rng.logUniform(ratioMin, ratioMax);
    const w = roundHalfEven(Math.sqrt(targetArea * aspect));
    const h = roundHalfEven(Math.sqrt(targetArea / aspect));
    if (w > 0 && w <= width && h > 0 && h <= height) {
      const y = rng.int(0, height - h + 1);
      const x = rng.int(0, width - w + 1);
      return { x, y, width: w, height: h };
    }
  }
  const inRatio = width / height;
  let w = width;
  let h = height;
  if (inRatio < ratioMin) h = roundHalfEven(w / ratioMin);
  else if (inRatio > ratioMax) w = roundHalfEven(h * ratioMax);
  return { x: Math.floor((width - w) / 2), y: Math.floor((height - h) / 2), width: w, height: h };
}

/**
 * Cuts a rectangle: a fixed width×height (at x, y or a random position), or a
 * RandomResizedCrop-style one from `scale_range` and `ratio_range`; then optionally resizes it.
 */
export const crop: Operation<CropParams, CropResolved> = {
  name: 'crop',
  sample(rng, size, params) {
    const scaleRange = range('scale_range', params.scale_range, DEFAULT_CROP_SCALE_RANGE, { lowest: 0, openLow: true });
    const ratioRange = range('ratio_range', params.ratio_range, DEFAULT_CROP_RATIO_RANGE, { lowest: 0, openLow: true });
    const output = pair(['output_width', 'output_height'], params.output_width, params.output_height);
    const outputSize = output && {
      output_width: integer('output_width', output[0], 1),
      output_height: integer('output_height', output[1], 1),
    };
    const dims = pair(['width', 'height'], params.width, params.height);
    const at = pair(['x', 'y'], params.x, params.y);
    if (!dims) {
      if (at) throw new InvalidParamError(expected('width and height (x and y place a fixed-size crop)', 'width', undefined));
      return { ...randomResizedCropBox(rng, size, scaleRange, ratioRange), ...outputSize };
    }
    const width = integer('width', dims[0], 1);
    const height = integer('height', dims[1], 1);
    if (width > size.width || height > size.height) {
      throw new ImpossibleParamError(
        expected(`a crop no larger than the ${size.width}x${size.height} image`, 'width x height', `${width}x${height}`),
      );
    }
    if (!at) {
      const y = rng.int(0, size.height - height + 1);
      const x = rng.int(0, size.width - width + 1);
      return { x, y, width, height, ...outputSize };
    }
    const x = integer('x', at[0], 0);
    const y = integer('y', at[1], 0);
    if (x + width > size.width || y + height > size.height) {
      throw new ImpossibleParamError(
        expected(`a crop inside the ${size.width}x${size.height} image`, 'x, y, width, height', [x, y, width, height]),
      );
    }
    return { x, y, width, height, ...outputSize };
  },
  async apply(image, params) {
    const { x, y, width, height, output_width } = params;
    if (output_width === undefined) return extractRegion(image, x, y, width, height);
    return viaSharp(image, cut(params));
  },
  transform: cut,
  geometry({ x, y, width, height, output_width = width, output_height = height }) {
    const matrix = compose(resizing({ width, height }, { width: output_width, height: output_height }), translation(-x, -y));
    return affineGeometry(matrix, { width: output_width, height: output_height });
  },
  // As a warp the resize is torchvision's (align_corners=False: pixel edges onto pixel edges), not
  // libvips' Lanczos that `apply` runs; a plain cut is a pixel permutation, so nearest and exact.
  resampling({ x, y, width, height, output_width = width, output_height = height }) {
    const resized = output_width !== width || output_height !== height;
    const forward = compose(scaling(output_width / width, output_height / height), translation(-x, -y));
    return { forward: projective(forward), width: output_width, height: output_height, interpolation: resized ? 'bilinear' : 'nearest', fill: '#000000' };
  },
};

function cut({ x, y, width, height, output_width, output_height }: CropResolved): (pipeline: Sharp) => Sharp {
  return (s) => {
    const region = s.extract({ left: x, top: y, width, height });
    return output_width === undefined || output_height === undefined ? region : region.resize(output_width, output_height, RESIZE);
  };
}
