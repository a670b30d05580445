import type { Sharp } from 'sharp';
import { DEFAULT_FILL, colourPixel, parseColour } from '../colour.ts';
import { boolean, fixedOrUniform } from './params.ts';
import { centreFit, cloneImage, sharpBackground, viaSharp } from './raster.ts';
import { IDENTITY, affineGeometry, expandedSize, projective, torchvisionAffine, type Affine } from './geometry.ts';
import { warp } from './warp.ts';
import type { ImageSize, Operation, Range, Resampling } from './types.ts';

export const DEFAULT_ANGLE_RANGE: Range = [-30, 30];
export const DEFAULT_ROTATE_EXPAND = false;

export interface RotateParams {
  /** Degrees, positive counter-clockwise (torchvision, albumentations). */
  angle?: number;
  angle_range?: Range;
  fill?: string;
  expand?: boolean;
}
export interface RotateResolved {
  angle: number;
  fill: string;
  expand: boolean;
}

/**
 * torchvision's `F.rotate(..., interpolation=BILINEAR)`: a turn about the image's centre (W/2, H/2),
 * on torchvision's canvas with `expand`, else on the input's (corners filled). Quarter turns that
 * land pixel centres on pixel centres are exact pixel permutations (libvips); every other angle is
 * the shared warp, so the pixels and the targets' matrix are the same map.
 */
export const rotate: Operation<RotateParams, RotateResolved> = {
  name: 'rotate',
  sample(rng, _size, params) {
    const angle = fixedOrUniform(
      rng,
      { name: 'angle', value: params.angle },
      { name: 'angle_range', value: params.angle_range, fallback: DEFAULT_ANGLE_RANGE },
    );
    const fill = parseColour(params.fill ?? DEFAULT_FILL, 'fill').hex;
    const expand = params.expand === undefined ? DEFAULT_ROTATE_EXPAND : boolean('expand', params.expand);
    return { angle, fill, expand };
  },
  async apply(image, params) {
    const { angle, fill, expand } = params;
    if (angle % 360 === 0) return cloneImage(image);
    const size = { width: image.width, height: image.height };
    const colour = parseColour(fill, 'fill');
    if (exactQuarterTurn(angle, size, expand)) {
      // sharp turns clockwise for a positive angle.
      const turned = await viaSharp(image, (s) => s.rotate(-angle, { background: sharpBackground(colour, image.channels) }));
      return expand ? turned : centreFit(turned, image.width, image.height, colourPixel(colour, image.channels));
    }
    const { forward, width, height } = rotate.resampling!(params, size);
    return warp(image, forward, width, height, { interpolation: 'bilinear', fill: colourPixel(colour, image.channels) });
  },
  transform({ angle, fill, expand }, size, { channels }) {
    if (angle % 360 === 0) return (s) => s;
    // Only a quarter turn that needs no padding back to size is one libvips pass; the rest is warped.
    if (!exactQuarterTurn(angle, size, expand) || !(expand || angle % 180 === 0 || size.width === size.height)) return undefined;
    const background = sharpBackground(parseColour(fill, 'fill'), channels);
    return (s: Sharp) => s.rotate(-angle, { background });
  },
  geometry(params, size) {
    if (params.angle % 360 === 0) return affineGeometry(IDENTITY, size);
    const out = rotatedCanvas(params, size);
    return affineGeometry(rotation(params.angle, size, out), out);
  },
  resampling(params, size) {
    const out = rotatedCanvas(params, size);
    const forward = params.angle % 360 === 0 ? IDENTITY : rotation(params.angle, size, out);
    return { forward: projective(forward), ...out, interpolation: 'bilinear', fill: params.fill } satisfies Resampling;
  },
};

/** The output's size: torchvision's expanded canvas, or the input's. */
export function rotatedCanvas({ angle, expand }: Pick<RotateResolved, 'angle' | 'expand'>, size: ImageSize): ImageSize {
  return expand && angle % 360 !== 0 ? expandedSize(angle, size) : size;
}

function rotation(angle: number, size: ImageSize, out: ImageSize): Affine {
  return torchvisionAffine({ angle, translate: [0, 0], scale: 1, shear: [0, 0], center: [size.width / 2, size.height / 2] }, size, out);
}

/**
 * A quarter turn whose pixel centres land on pixel centres, where torchvision's bilinear sampling
 * is a pure permutation: with `expand` when torchvision's canvas is the turned size (its float32
 * canvas is a pixel wider for some sizes, which shifts by half a pixel), or for a half turn;
 * without `expand` a quarter turn of a W×H image shifts by (W − H)/2, a whole pixel count only
 * when W − H is even.
 */
function exactQuarterTurn(angle: number, size: ImageSize, expand: boolean): boolean {
  if (angle % 90 !== 0) return false;
  const { width, height } = size;
  if (expand) {
    const canvas = expandedSize(angle, size);
    const [w, h] = angle % 180 === 0 ? [width, height] : [height, width];
    return canvas.width === w && canvas.height === h;
  }
  return angle % 180 === 0 || (width - height) % 2 === 0;
}
