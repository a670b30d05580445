import { affinePart, composeProjective, invertProjective, mapProjective, type Geometry, type Projective } from './ops/geometry.ts';
import type { ImageSize, Resampling } from './ops/types.ts';

/**
 * Whether a resampling shows its fill over whole pixels: some output corner pixel's centre maps
 * back outside the input's extent. (An enlarging crop at the input's edge maps its corner centres
 * within half a pixel of the edge: inside, so not counted.)
 */
export function exposes(step: Resampling, input: ImageSize): boolean {
  const inverse = invertProjective(step.forward);
  const tol = 1e-9;
  for (const [x, y] of [[0.5, 0.5], [step.width - 0.5, 0.5], [0.5, step.height - 0.5], [step.width - 0.5, step.height - 0.5]] as const) {
    const [u, v] = mapProjective(inverse, x, y);
    if (u < -tol || v < -tol || u > input.width + tol || v > input.height + tol) return true;
  }
  return false;
}

/**
 * A run of resamplings as one (DALI's `transforms.combine`): the maps composed in order, the last
 * one's size, `nearest` only when every step asked for it (a run of flips and plain cuts stays a
 * pixel permutation), else bilinear. The fill is the one of the last step that exposes any area
 * (checked at its output's corner pixel centres); an area exposed by an earlier step with another
 * fill is then shown in that later fill: one colour per warp is what one resample can give.
 * @example fuseRun([{ resampling: flipped, size }, { resampling: cut, size }]) // one warp, nearest, the cut's size
 */
export function fuseRun(steps: ReadonlyArray<{ resampling: Resampling; size: ImageSize }>): Resampling {
  let forward: Projective | undefined;
  let fill = steps[0]!.resampling.fill;
  let exposed = false;
  for (const { resampling: step, size } of steps) {
    if (exposes(step, size)) {
      fill = step.fill;
      exposed = true;
    } else if (!exposed) fill = step.fill;
    forward = forward ? composeProjective(step.forward, forward) : step.forward;
  }
  const last = steps.at(-1)!.resampling;
  const interpolation = steps.every(({ resampling }) => resampling.interpolation === 'nearest') ? 'nearest' : 'bilinear';
  return { forward: forward!, width: last.width, height: last.height, interpolation, fill };
}

/** The geometry of a fused run, for the targets: its affine matrix, or its perspective map. */
export function runGeometry(run: Resampling): Geometry {
  const affine = affinePart(run.forward);
  if (affine) return { matrix: affine, width: run.width, height: run.height, covered: [] };
  const m: Projective = run.forward;
  return { matrix: [m[0] / m[8], m[1] / m[8], m[2] / m[8], m[3] / m[8], m[4] / m[8], m[5] / m[8]], width: run.width, height: run.height, covered: [], projective: m };
}

/** The powers of two a run's source may be decoded smaller by: 1 (the full decode), 2, 4 or 8. */
export type Reduction = 1 | 2 | 4 | 8;

/**
 * How much smaller the run's source can be decoded without losing what the run samples: the
 * largest power of two (up to 8, libjpeg's DCT scaling's limit) that is at most the run's shrink
 * in its least shrunk direction (1 ÷ the largest singular value of an affine map's linear part).
 * Perspective runs shrink by different amounts across the image: 1.
 * @example reduction(fuseRun([...a 2000×1500 crop to 224×224...])) // 4: 2000 / 224 ≈ 8.9 is shrunk by 4 on decode, the rest by the warp
 */
export function reduction(run: Resampling): Reduction {
  const affine = affinePart(run.forward);
  if (!affine) return 1;
  const [a, b, , d, e] = affine;
  const sum = a * a + b * b + d * d + e * e;
  const det = a * e - b * d;
  const largest = Math.sqrt((sum + Math.sqrt(Math.max(0, sum * sum - 4 * det * det))) / 2);
  // A hair of slack: an exact 2× crop must not come out as 1.9999999.
  const shrink = 1 / largest + 1e-9;
  return shrink >= 8 ? 8 : shrink >= 4 ? 4 : shrink >= 2 ? 2 : 1;
}
