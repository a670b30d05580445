import type { Sharp } from 'sharp';
import { cloneImage, viaSharp } from './raster.ts';
import { oneOf } from './params.ts';
import { IDENTITY, affineGeometry, compose, projective, type Affine } from './geometry.ts';
import type { Operation } from './types.ts';

export const FLIP_DIRECTIONS = ['horizontal', 'vertical', 'both', 'random', 'none'] as const;
export const DEFAULT_FLIP_DIRECTION = 'horizontal';
/** Chance that `random` flips each axis, drawn independently per axis. */
export const RANDOM_FLIP_P = 0.5;

export interface FlipParams {
  direction?: (typeof FLIP_DIRECTIONS)[number];
}
export interface FlipResolved {
  direction: 'horizontal' | 'vertical' | 'both' | 'none';
}

/** Mirrors columns (horizontal), rows (vertical) or both; `random` may resolve to `none`. */
export const flip: Operation<FlipParams, FlipResolved> = {
  name: 'flip',
  sample(rng, _size, params) {
    const direction = oneOf('direction', params.direction ?? DEFAULT_FLIP_DIRECTION, FLIP_DIRECTIONS);
    if (direction !== 'random') return { direction };
    const horizontal = rng.bernoulli(RANDOM_FLIP_P);
    const vertical = rng.bernoulli(RANDOM_FLIP_P);
    return { direction: horizontal ? (vertical ? 'both' : 'horizontal') : vertical ? 'vertical' : 'none' };
  },
  async apply(image, params) {
    if (params.direction === 'none') return cloneImage(image);
    return viaSharp(image, mirror(params));
  },
  transform: mirror,
  geometry({ direction }, size) {
    const horizontal: Affine = direction === 'horizontal' || direction === 'both' ? [-1, 0, size.width, 0, 1, 0] : IDENTITY;
    const vertical: Affine = direction === 'vertical' || direction === 'both' ? [1, 0, 0, 0, -1, size.height] : IDENTITY;
    return affineGeometry(compose(vertical, horizontal), size);
  },
  // A mirror moves pixel centres onto pixel centres: nearest is exact, and nothing is exposed.
  resampling(params, size) {
    return { forward: projective(flip.geometry(params, size, {}).matrix), ...size, interpolation: 'nearest', fill: '#000000' };
  },
};

function mirror({ direction }: FlipResolved): (pipeline: Sharp) => Sharp {
  const horizontal = direction === 'horizontal' || direction === 'both';
  const vertical = direction === 'vertical' || direction === 'both';
  return (s) => s.flop(horizontal).flip(vertical);
}
