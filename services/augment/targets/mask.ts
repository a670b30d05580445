import { affinePart, invert, invertProjective, isIdentity, type Affine, type Projective } from '../ops/geometry.ts';
import type { Box } from '../ops/types.ts';
import type { Mask } from './set.ts';

/**
 * The mask moved by `matrix` onto a width×height canvas, nearest neighbour: each output pixel takes
 * the input pixel under its centre, or `fill` where that falls outside the input (where the image
 * gets its `fill` colour). Labels are never blended.
 */
export function warpMask(mask: Mask, matrix: Affine | Projective, width: number, height: number, fill: number): Mask {
  const affine = matrix.length === 9 ? affinePart(matrix) : matrix;
  if (affine && isIdentity(affine) && width === mask.width && height === mask.height) return { ...mask, data: Buffer.from(mask.data) };
  const out = Buffer.alloc(width * height, fill);
  if (affine) sample(mask, invert(affine), out, width, [0, 0, width, height]);
  else samplePerspective(mask, invertProjective(matrix as Projective), out, width, height);
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
  if (b === 0 && d === 0) {
    // Flips, crops and scales map rows to rows: the source column of each output column once.
    const columns = new Int32Array(Math.max(0, x2 - x1));
    for (let x = x1; x < x2; x++) {
      const sx = Math.floor(a * (x + 0.5) + c);
      columns[x - x1] = sx >= 0 && sx < src.width ? sx : -1;
    }
    for (let y = y1; y < y2; y++) {
      const sy = Math.floor(e * (y + 0.5) + f);
      if (sy < 0 || sy >= src.height) continue;
      const from = sy * src.width;
      const to = y * width;
      for (let x = x1; x < x2; x++) {
        const sx = columns[x - x1]!;
        if (sx >= 0) out[to + x] = src.data[from + sx]!;
      }
    }
    return;
  }
  for (let y = y1; y < y2; y++) {
    const cy = y + 0.5;
    // Stepping one column adds (a, d): no multiplications in the inner loop.
    let fx = a * (x1 + 0.5) + b * cy + c;
    let fy = d * (x1 + 0.5) + e * cy + f;
    const to = y * width;
    for (let x = x1; x < x2; x++, fx += a, fy += d) {
      // In range first, so truncation is the floor.
      if (fx >= 0 && fy >= 0 && fx < src.width && fy < src.height) out[to + x] = src.data[(fy | 0) * src.width + (fx | 0)]!;
    }
  }
}

/** `sample` for a perspective map: each output pixel centre divided through on its own. */
function samplePerspective(src: Mask, m: Projective, out: Buffer, width: number, height: number): void {
  for (let y = 0; y < height; y++) {
    const cy = y + 0.5;
    for (let x = 0; x < width; x++) {
      const cx = x + 0.5;
      const w = m[6] * cx + m[7] * cy + m[8];
      const fx = (m[0] * cx + m[1] * cy + m[2]) / w;
      const fy = (m[3] * cx + m[4] * cy + m[5]) / w;
      if (fx >= 0 && fy >= 0 && fx < src.width && fy < src.height) out[y * width + x] = src.data[(fy | 0) * src.width + (fx | 0)]!;
    }
  }
}
