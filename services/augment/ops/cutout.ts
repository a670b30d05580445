import { DEFAULT_FILL, colourPixel, parseColour } from '../colour.ts';
import { InvalidParamError } from '../errors.ts';
import { box, clippedSquare, expected, finite, integer } from './params.ts';
import { cloneImage, fillBox } from './raster.ts';
import { IDENTITY } from './geometry.ts';
import type { Box, Operation } from './types.ts';

export const DEFAULT_HOLES = 1;
/** Side of each hole as a share of the image's shorter side, when `size` is absent. */
export const DEFAULT_SIZE_RATIO = 0.25;

export interface CutoutParams {
  holes?: number;
  /** Side of each square hole in pixels; wins over size_ratio. */
  size?: number;
  size_ratio?: number;
  fill?: string;
  /** Replayed holes, `[x1, y1, x2, y2]` with x2, y2 exclusive; win over holes and size. */
  boxes?: number[][];
}
export interface CutoutResolved {
  boxes: Box[];
  fill: string;
}

/**
 * Cutout (DeVries & Taylor 2017): squares whose centres are uniform over all pixels, clipped at
 * the border, painted with `fill` (alpha channel included).
 */
export const cutout: Operation<CutoutParams, CutoutResolved> = {
  name: 'cutout',
  sample(rng, size, params) {
    const fill = parseColour(params.fill ?? DEFAULT_FILL, 'fill').hex;
    if (params.boxes !== undefined) {
      if (!Array.isArray(params.boxes)) throw new InvalidParamError(expected('an array of boxes', 'boxes', params.boxes));
      return { boxes: params.boxes.map((b, i) => box(`boxes[${i}]`, b, size)), fill };
    }
    const holes = integer('holes', params.holes ?? DEFAULT_HOLES, 0);
    const side =
      params.size !== undefined
        ? integer('size', params.size, 1)
        : Math.max(1, Math.round(sizeRatio(params.size_ratio) * Math.min(size.width, size.height)));
    const boxes: Box[] = [];
    for (let i = 0; i < holes; i++) {
      const cy = rng.int(0, size.height);
      const cx = rng.int(0, size.width);
      boxes.push(clippedSquare(cx, cy, side, side, size));
    }
    return { boxes, fill };
  },
  async apply(image, resolved, ctx) {
    const out = cloneImage(image);
    await cutout.paint!(out, resolved, ctx);
    return out;
  },
  async paint(image, { boxes, fill }) {
    const pixel = colourPixel(parseColour(fill, 'fill'), image.channels);
    for (const b of boxes) fillBox(image, b, pixel);
  },
  geometry({ boxes }, size) {
    return { matrix: IDENTITY, width: size.width, height: size.height, covered: boxes.filter(([x1, y1, x2, y2]) => x1 < x2 && y1 < y2) };
  },
};

function sizeRatio(value: unknown): number {
  if (value === undefined) return DEFAULT_SIZE_RATIO;
  const ratio = finite('size_ratio', value);
  if (!(ratio > 0)) throw new InvalidParamError(expected('a number > 0', 'size_ratio', value));
  return ratio;
}
