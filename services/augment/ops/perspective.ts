import { DEFAULT_FILL, colourPixel, parseColour } from '../colour.ts';
import { InvalidParamError } from '../errors.ts';
import { expected, finite, oneOf, pair } from './params.ts';
import { IDENTITY, affineGeometry, homography, localLinear, mapProjective, projective, type Projective } from './geometry.ts';
import { INTERPOLATIONS, warp, type Interpolation } from './warp.ts';
import type { Operation, Resampling } from './types.ts';

export const DEFAULT_DISTORTION_SCALE = 0.5;
export const DEFAULT_PERSPECTIVE_INTERPOLATION: Interpolation = 'bilinear';

export type Point = [number, number];
/** Top-left, top-right, bottom-right, bottom-left: torchvision's order. */
export type Quad = [Point, Point, Point, Point];

export interface PerspectiveParams {
  distortion_scale?: number;
  /** Replay: both, or neither. */
  startpoints?: readonly (readonly number[])[];
  endpoints?: readonly (readonly number[])[];
  interpolation?: Interpolation;
  fill?: string;
}
export interface PerspectiveResolved {
  startpoints: Quad;
  endpoints: Quad;
  interpolation: Interpolation;
  fill: string;
}

/**
 * torchvision's `F.perspective` (tensor backend): the plane map taking `startpoints` to
 * `endpoints`, in one resampling (the shared warp). Sampling is `RandomPerspective.get_params`:
 * the image's corners each pulled inward by up to `distortion_scale` × half the side.
 */
export const perspective: Operation<PerspectiveParams, PerspectiveResolved> = {
  name: 'perspective',
  sample(rng, size, params) {
    const scale = params.distortion_scale === undefined ? DEFAULT_DISTORTION_SCALE : finite('distortion_scale', params.distortion_scale);
    if (!(scale >= 0 && scale <= 1)) throw new InvalidParamError(expected('a number in [0, 1]', 'distortion_scale', params.distortion_scale));
    const interpolation = oneOf('interpolation', params.interpolation ?? DEFAULT_PERSPECTIVE_INTERPOLATION, INTERPOLATIONS);
    const fill = parseColour(params.fill ?? DEFAULT_FILL, 'fill').hex;
    const given = pair(['startpoints', 'endpoints'], params.startpoints, params.endpoints);
    if (given) {
      const startpoints = quad('startpoints', given[0]);
      const endpoints = quad('endpoints', given[1]);
      if (!invertible(startpoints, endpoints)) {
        throw new InvalidParamError(expected('four points no three of which are on a line, as are startpoints', 'endpoints', given[1]));
      }
      return { startpoints, endpoints, interpolation, fill };
    }
    const { width, height } = size;
    const startpoints: Quad = [[0, 0], [width - 1, 0], [width - 1, height - 1], [0, height - 1]];
    // A line of pixels has no corners to pull apart (its start points are on one line): unchanged.
    if (width < 2 || height < 2) return { startpoints, endpoints: startpoints.map(([x, y]) => [x, y]) as Quad, interpolation, fill };
    const dx = Math.trunc(scale * Math.trunc(width / 2));
    const dy = Math.trunc(scale * Math.trunc(height / 2));
    // torch.randint(low, high): high exclusive; drawn in get_params' order.
    const topleft: Point = [rng.int(0, dx + 1), rng.int(0, dy + 1)];
    const topright: Point = [rng.int(width - dx - 1, width), rng.int(0, dy + 1)];
    const botright: Point = [rng.int(width - dx - 1, width), rng.int(height - dy - 1, height)];
    const botleft: Point = [rng.int(0, dx + 1), rng.int(height - dy - 1, height)];
    const endpoints: Quad = [topleft, topright, botright, botleft];
    // On an image a few pixels across the draws can put three end points on a line: no plane map
    // exists (torchvision's least-squares solve returns an arbitrary one). Unchanged, as a line of pixels.
    if (!invertible(startpoints, endpoints)) return { startpoints, endpoints: startpoints.map(([x, y]) => [x, y]) as Quad, interpolation, fill };
    return { startpoints, endpoints, interpolation, fill };
  },
  async apply(image, params) {
    const { forward, width, height, interpolation } = perspective.resampling!(params, { width: image.width, height: image.height });
    return warp(image, forward, width, height, { interpolation, fill: colourPixel(parseColour(params.fill, 'fill'), image.channels) });
  },
  geometry(params, size) {
    const map = perspectiveMap(params.startpoints, params.endpoints);
    // `matrix` is only the map's affine approximation about the image's centre; targets use `projective`.
    const [cx, cy] = [size.width / 2, size.height / 2];
    const [a, b, , d, e] = localLinear(map, cx, cy);
    const [u, v] = mapProjective(map, cx, cy);
    return { ...affineGeometry([a, b, u - a * cx - b * cy, d, e, v - d * cx - e * cy], size), projective: map };
  },
  resampling(params, size) {
    return { forward: perspectiveMap(params.startpoints, params.endpoints), ...size, interpolation: params.interpolation, fill: params.fill } satisfies Resampling;
  },
};

function quad(name: string, value: unknown): Quad {
  const ok =
    Array.isArray(value) &&
    value.length === 4 &&
    value.every((p) => Array.isArray(p) && p.length === 2 && p.every((v) => typeof v === 'number' && Number.isFinite(v)));
  if (!ok) throw new InvalidParamError(expected('four [x, y] points (finite numbers)', name, value));
  return (value as number[][]).map(([x, y]) => [x, y] as Point) as Quad;
}

/** Whether the map taking `start` to `end` and its inverse both exist (no three points of either on a line). */
function invertible(start: Quad, end: Quad): boolean {
  try {
    perspectiveMap(start, end);
    perspectiveMap(end, start);
    return true;
  } catch {
    return false;
  }
}

/** The homography taking `start` to `end`; the identity where each point stays (even on a line of pixels). */
export function perspectiveMap(start: Quad, end: Quad): Projective {
  if (start.every(([x, y], k) => x === end[k]![0] && y === end[k]![1])) return projective(IDENTITY);
  return homography(start, end);
}
