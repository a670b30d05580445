import { invert, isIdentity, type Affine } from '../ops/geometry.ts';
import type { Box } from '../ops/types.ts';
import type { Mask } from './set.ts';

/**
 * The mask moved by `matrix` onto a width×height canvas, nearest neighbour: each output pixel takes
 * the input pixel under its centre, or `fill` where that falls outside the input (where the image
 * gets its `fill` colour). Labels are never blended.
 */
export function warpMask(mask: Mask, matrix: Affine, width: number, height: number, fill: number): Mask {
  if (isIdentity(matrix) && width === mask.width && height === mask.height) return { ...mask, data: Buffer.from(mask.data) };
  const out = Buffer.alloc(width * height, fill);
  sample(mask, invert(matrix), out, width, [0, 0, width, height]);
  return { data: out, width, height };
}

/** Paints `regions` of `mask` with `value`, in place. */
export function paintRegions(mask: Mask, regions: readonly Box[], value: number): void {
  for (const [x1, y1, x2, y2] of regions) {
    for (let y = Math.max(0, y1); y < Math.min(mask.height, y2); y++) {
      mask.data.fill(value, y * mask.width + Math.max(0, x1), y * mask.width + Math.min(mask.width, x2));
    }
  }
}

/** Copies into `region` of `mask` what `source`, moved by `matrix`, shows there (CutMix's patch), in place. */
export function pasteMask(mask: Mask, source: Mask, matrix: Affine, region: Box): void {
  sample(source, invert(matrix), mask.data, mask.width, region);
}

/** For each pixel of `region` in `out` (row width `width`), the `src` pixel under its centre mapped by `inverse`. */
function sample(src: Mask, inverse: Affine, out: Buffer, width: number, [x1, y1, x2, y2]: Box): void {
  const [a, b, c, d, e, f] = inverse;
  for (let y = y1; y < y2; y++) {
    const cy = y + 0.5;
    for (let x = x1; x < x2; x++) {
      const cx = x + 0.5;
      const sx = Math.floor(a * cx + b * cy + c);
      const sy = Math.floor(d * cx + e * cy + f);
      if (sx >= 0 && sy >= 0 && sx < src.width && sy < src.height) out[y * width + x] = src.data[sy * src.width + sx]!;
    }
  }
}
