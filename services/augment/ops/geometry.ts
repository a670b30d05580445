import type { Box, ImageSize } from './types.ts';

/**
 * `[a, b, c, d, e, f]`: the input point (x, y) lands at (a·x + b·y + c, d·x + e·y + f) in the
 * output, in continuous pixel coordinates (pixel column i spans [i, i + 1)).
 */
export type Affine = readonly [number, number, number, number, number, number];

export const IDENTITY: Affine = [1, 0, 0, 0, 1, 0];

/**
 * What one operation does to the plane, stated once; boxes, keypoints and masks are all derived
 * from it (services/augment/targets).
 */
export interface Geometry {
  /** Where an input point lands. */
  matrix: Affine;
  /** The output's size. */
  width: number;
  height: number;
  /** Output regions whose pixels no longer show the input (Cutout holes, the CutMix patch), x2/y2 exclusive. */
  covered: Box[];
  /** CutMix: the second image, mapped onto the output by `matrix` and shown inside `region` only. */
  paste?: { matrix: Affine; region: Box };
}

/** Only an affine map, nothing covered. */
export function affineGeometry(matrix: Affine, size: ImageSize): Geometry {
  return { matrix, width: size.width, height: size.height, covered: [] };
}

/** `first`, then `second`. */
export function compose(second: Affine, first: Affine): Affine {
  const [a, b, c, d, e, f] = second;
  const [p, q, r, s, t, u] = first;
  return [a * p + b * s, a * q + b * t, a * r + b * u + c, d * p + e * s, d * q + e * t, d * r + e * u + f];
}

export function invert([a, b, c, d, e, f]: Affine): Affine {
  const det = a * e - b * d;
  return [e / det, -b / det, (b * f - c * e) / det, -d / det, a / det, (c * d - a * f) / det];
}

export function mapPoint([a, b, c, d, e, f]: Affine, x: number, y: number): [number, number] {
  return [a * x + b * y + c, d * x + e * y + f];
}

export function translation(tx: number, ty: number): Affine {
  return [1, 0, tx, 0, 1, ty];
}

export function scaling(sx: number, sy: number): Affine {
  return [sx, 0, 0, 0, sy, 0];
}

/**
 * Where libvips' resize (sharp's `resize`, kernel Lanczos) moves points, per axis: a shrink keeps
 * pixel centres aligned, an enlargement also shifts its output by half a pixel toward the far edge
 * (measured: test/augment/targets-geometry.test.ts).
 */
export function resizing(from: ImageSize, to: ImageSize): Affine {
  const sx = to.width / from.width;
  const sy = to.height / from.height;
  return [sx, 0, to.width > from.width ? 0.5 : 0, 0, sy, to.height > from.height ? 0.5 : 0];
}

export function isIdentity(m: Affine): boolean {
  return m.every((v, i) => v === IDENTITY[i]);
}
