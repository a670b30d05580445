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
  /**
   * Perspective: where an input point lands, when that is not affine; `matrix` is then only its
   * affine approximation and every target is moved by this instead (`pointMap`).
   */
  projective?: Projective;
  /**
   * MixUp and Mosaic: the output shows several images. Source 0 is the image itself, source k ≥ 1
   * the k-th mix image; each layer's targets are moved by its `matrix` and kept inside its
   * `region`. `masks`: `stack` lists every source's masks one after another (MixUp: two
   * see-through objects cannot share a label map); `tile` makes mask i of the output from mask i
   * of each source, each shown in its region (Mosaic). `matrix` and `covered` are then unused.
   */
  layers?: { sources: MixLayer[]; masks: 'stack' | 'tile' };
}

/** One source image of a mixing operation, as its targets see it. */
export interface MixLayer {
  source: number;
  matrix: Affine;
  region: Box;
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

/**
 * Row-major 3×3 `[a, b, c, d, e, f, g, h, i]`: the input point (x, y) lands at
 * ((a·x + b·y + c) / w, (d·x + e·y + f) / w) with w = g·x + h·y + i. Perspective needs it; every
 * affine map is one with (g, h, i) = (0, 0, 1). A run of geometric steps composes into one of
 * these (DALI's `transforms.combine`), which then moves the pixels once and the targets once.
 */
export type Projective = readonly [number, number, number, number, number, number, number, number, number];

export function projective([a, b, c, d, e, f]: Affine): Projective {
  return [a, b, c, d, e, f, 0, 0, 1];
}

/** The affine map `m` is, or undefined when it has a perspective part. */
export function affinePart(m: Projective): Affine | undefined {
  const [a, b, c, d, e, f, g, h, i] = m;
  if (g !== 0 || h !== 0) return undefined;
  return [a / i, b / i, c / i, d / i, e / i, f / i];
}

/** `first`, then `second`. */
export function composeProjective(second: Projective, first: Projective): Projective {
  const out = new Array<number>(9);
  for (let r = 0; r < 3; r++) {
    for (let c = 0; c < 3; c++) {
      out[r * 3 + c] = second[r * 3]! * first[c]! + second[r * 3 + 1]! * first[3 + c]! + second[r * 3 + 2]! * first[6 + c]!;
    }
  }
  return out as unknown as Projective;
}

export function invertProjective(m: Projective): Projective {
  const [a, b, c, d, e, f, g, h, i] = m;
  const A = e * i - f * h;
  const B = -(d * i - f * g);
  const C = d * h - e * g;
  const det = a * A + b * B + c * C;
  return [
    A / det, -(b * i - c * h) / det, (b * f - c * e) / det,
    B / det, (a * i - c * g) / det, -(a * f - c * d) / det,
    C / det, -(a * h - b * g) / det, (a * e - b * d) / det,
  ];
}

export function mapProjective(m: Projective, x: number, y: number): [number, number] {
  const w = m[6] * x + m[7] * y + m[8];
  return [(m[0] * x + m[1] * y + m[2]) / w, (m[3] * x + m[4] * y + m[5]) / w];
}

/**
 * The linear map that `m` is near (x, y) (its Jacobian, as the `a, b, d, e` of an Affine with no
 * translation): how a keypoint's direction and scale change there.
 */
export function localLinear(m: Projective, x: number, y: number): Affine {
  const w = m[6] * x + m[7] * y + m[8];
  const [u, v] = mapProjective(m, x, y);
  return [(m[0] - m[6] * u) / w, (m[1] - m[7] * u) / w, 0, (m[3] - m[6] * v) / w, (m[4] - m[7] * v) / w, 0];
}

/** The plane map a geometry states: its perspective when it has one, else its affine matrix. */
export function pointMap(g: Geometry): Projective {
  return g.projective ?? projective(g.matrix);
}

/**
 * The perspective map taking each of four points to its partner (torchvision's
 * `_get_perspective_coeffs`, here as the forward map): solves the 8×8 system by Gaussian
 * elimination with partial pivoting.
 */
export function homography(from: ReadonlyArray<readonly [number, number]>, to: ReadonlyArray<readonly [number, number]>): Projective {
  const rows: number[][] = [];
  for (let k = 0; k < 4; k++) {
    const [x, y] = from[k]!;
    const [u, v] = to[k]!;
    rows.push([x, y, 1, 0, 0, 0, -u * x, -u * y, u]);
    rows.push([0, 0, 0, x, y, 1, -v * x, -v * y, v]);
  }
  for (let col = 0; col < 8; col++) {
    let pivot = col;
    for (let r = col + 1; r < 8; r++) if (Math.abs(rows[r]![col]!) > Math.abs(rows[pivot]![col]!)) pivot = r;
    [rows[col], rows[pivot]] = [rows[pivot]!, rows[col]!];
    const p = rows[col]![col]!;
    if (Math.abs(p) < 1e-12) throw new RangeError('the four points are degenerate (three on a line)');
    for (let r = 0; r < 8; r++) {
      if (r === col) continue;
      const factor = rows[r]![col]! / p;
      if (factor === 0) continue;
      for (let c = col; c < 9; c++) rows[r]![c]! -= factor * rows[col]![c]!;
    }
  }
  const h = rows.map((row, r) => row[8]! / row[r]!);
  return [h[0]!, h[1]!, h[2]!, h[3]!, h[4]!, h[5]!, h[6]!, h[7]!, 1];
}

/** What torchvision's `affine` is given; angles in degrees. */
export interface AffineSpec {
  /** Counter-clockwise on screen (torchvision's `rotate`; its `affine` takes the opposite sign). */
  angle: number;
  translate: readonly [number, number];
  scale: number;
  /** Degrees, x then y, as torchvision's `shear`. */
  shear: readonly [number, number];
  /** The fixed point in continuous pixel coordinates (torchvision's `center`; default W/2, H/2). */
  center: readonly [number, number];
}

/**
 * Where torchvision's `F.affine` moves each input point (its `_get_inverse_affine_matrix`, made
 * forward): `RSS · (p − center) + center + translate`, with RSS = R(−angle)·S(scale)·SHy·SHx, then
 * shifted by the change of canvas centre when the output is `out` (torchvision's `expand`
 * keeps the input's centre on the output's centre).
 */
export function torchvisionAffine(spec: AffineSpec, size: ImageSize, out: ImageSize = size): Affine {
  const rad = (-spec.angle * Math.PI) / 180;
  const sx = (spec.shear[0] * Math.PI) / 180;
  const sy = (spec.shear[1] * Math.PI) / 180;
  const s = spec.scale;
  const a = (s * Math.cos(rad - sy)) / Math.cos(sy);
  const b = s * ((-Math.cos(rad - sy) * Math.tan(sx)) / Math.cos(sy) - Math.sin(rad));
  const d = (s * Math.sin(rad - sy)) / Math.cos(sy);
  const e = s * ((-Math.sin(rad - sy) * Math.tan(sx)) / Math.cos(sy) + Math.cos(rad));
  const [cx, cy] = spec.center;
  const [tx, ty] = spec.translate;
  const shiftX = (out.width - size.width) / 2;
  const shiftY = (out.height - size.height) / 2;
  return [a, b, cx + tx + shiftX - a * cx - b * cy, d, e, cy + ty + shiftY - d * cx - e * cy];
}

/**
 * The canvas torchvision's `rotate(..., expand=True)` gives (`_compute_affine_output_size`): the
 * turned corners about the centre, in float32 as torchvision computes them (its matrix as a float
 * tensor, products rounded before the sum), shifted to [0, W] × [0, H], truncated to 1e-4 and
 * rounded outward. The float32 rounding is torchvision's canvas: it makes some quarter turns one
 * pixel wider than the swapped size (64×97 at 90° gives 98×65), and doubles would differ there.
 */
export function expandedSize(angle: number, size: ImageSize): ImageSize {
  const f = Math.fround;
  // F.rotate's _get_inverse_affine_matrix(centre 0, −angle): [cos, sin, 0, −sin, cos, 0] of −angle.
  const rad = -angle * (Math.PI / 180);
  const [cos, sin] = [f(Math.cos(rad)), f(Math.sin(rad))];
  const [hw, hh] = [0.5 * size.width, 0.5 * size.height];
  const corners = [[-hw, -hh], [-hw, hh], [hw, hh], [hw, -hh]] as const;
  const xs = corners.map(([x, y]) => f(f(x * cos) + f(y * sin)));
  const ys = corners.map(([x, y]) => f(f(x * -sin) + f(y * cos)));
  const tol = f(1e-4);
  const side = (values: number[], half: number) => {
    const max = f(Math.max(...values) + half);
    const min = f(Math.min(...values) + half);
    return Math.ceil(f(Math.trunc(f(max / tol)) * tol)) - Math.floor(f(Math.trunc(f(min / tol)) * tol));
  };
  return { width: side(xs, hw), height: side(ys, hh) };
}
