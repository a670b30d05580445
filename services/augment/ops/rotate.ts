import type { Sharp } from 'sharp';
import { DEFAULT_FILL, colourPixel, parseColour } from '../colour.ts';
import { boolean, fixedOrUniform } from './params.ts';
import { centreFit, centreSpan, cloneImage, sharpBackground, viaSharp } from './raster.ts';
import { IDENTITY, affineGeometry, type Affine } from './geometry.ts';
import type { ImageSize, Operation, Range } from './types.ts';

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
 * Rotates about the centre. Without `expand` the output keeps the input's size (the grown canvas
 * is cropped back around the centre, or padded with `fill` where a quarter turn makes it narrower).
 * Multiples of 90° are exact pixel permutations.
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
  async apply(image, { angle, fill, expand }) {
    if (angle % 360 === 0) return cloneImage(image);
    const colour = parseColour(fill, 'fill');
    const background = sharpBackground(colour, image.channels);
    const size = { width: image.width, height: image.height };
    const canvas = rotatedSize(size, angle);
    if (!expand && canvas && canvas.width >= size.width && canvas.height >= size.height) {
      // Only a crop of the canvas is kept: let libvips compute just that (see `centreOfTurn`).
      return viaSharp(image, (s) => centreOfTurn(s, angle, background, size, canvas));
    }
    // sharp turns clockwise for a positive angle.
    const turned = await viaSharp(image, (s) => s.rotate(-angle, { background }));
    return expand ? turned : centreFit(turned, image.width, image.height, colourPixel(colour, image.channels));
  },
  transform({ angle, fill, expand }, size, { channels, profiled }) {
    if (angle % 360 === 0) return (s) => s;
    const turned = rotatedSize(size, angle);
    // Padding back to size after a near quarter turn is painting; an uncertain size is left to
    // apply, and so is a profiled upload (interpolation and fill would be in its colour space).
    if (!turned || profiled || (!expand && (turned.width < size.width || turned.height < size.height))) return undefined;
    const background = sharpBackground(parseColour(fill, 'fill'), channels);
    return (s: Sharp) =>
      expand || (turned.width === size.width && turned.height === size.height)
        ? s.rotate(-angle, { background })
        : centreOfTurn(s, angle, background, size, turned);
  },
  geometry({ angle, expand }, size) {
    if (angle % 360 === 0) return affineGeometry(IDENTITY, size);
    const turned = rotatedSize(size, angle) ?? roundedSides(size, angle);
    const out = expand ? turned : size;
    const rad = (angle * Math.PI) / 180;
    const [cos, sin] = [Math.cos(rad), Math.sin(rad)];
    // Counter-clockwise on screen, where y points down.
    const turn = (x: number, y: number): [number, number] => [cos * x + sin * y, -sin * x + cos * y];
    // libvips turns about pixel centres (integer coordinates) and starts its canvas at the rounded
    // least corner of the turned image; centreFit then crops or pads that canvas to `out`.
    const corners = [turn(0, 0), turn(size.width, 0), turn(0, size.height), turn(size.width, size.height)];
    const left = Math.round(Math.min(...corners.map(([x]) => x)));
    const top = Math.round(Math.min(...corners.map(([, y]) => y)));
    const [hx, hy] = turn(0.5, 0.5);
    const x = centreSpan(turned.width, out.width);
    const y = centreSpan(turned.height, out.height);
    const matrix: Affine = [cos, sin, 0.5 - hx - left + x.dst - x.src, -sin, cos, 0.5 - hy - top + y.dst - y.src];
    return affineGeometry(matrix, out);
  },
};

/**
 * The centre `size` of the `canvas` libvips turns an image of `size` onto (at least as large on
 * each side). sharp runs rotate-then-extract by computing the whole turned canvas into memory and
 * then cutting it; an extract of the whole image first moves the rotation to sharp's later, lazy
 * step, where only the pixels the centre extract keeps are computed: the same pixels for less
 * work (bench/rotate-experiments.ts measures it).
 */
function centreOfTurn(s: Sharp, angle: number, background: ReturnType<typeof sharpBackground>, size: ImageSize, canvas: ImageSize): Sharp {
  const x = centreSpan(canvas.width, size.width);
  const y = centreSpan(canvas.height, size.height);
  return s
    .extract({ left: 0, top: 0, width: size.width, height: size.height })
    .rotate(-angle, { background })
    .extract({ left: x.src, top: y.src, width: size.width, height: size.height });
}

function roundedSides({ width, height }: ImageSize, angle: number): ImageSize {
  const rad = (angle * Math.PI) / 180;
  const c = Math.abs(Math.cos(rad));
  const s = Math.abs(Math.sin(rad));
  return { width: Math.floor(width * c + height * s + 0.5), height: Math.floor(width * s + height * c + 0.5) };
}

/**
 * The canvas libvips gives a rotation by `angle` degrees: the bounding box of the turned corners,
 * each side rounded to the nearest pixel (quarter turns are exact). Undefined when a side is within
 * rounding noise of a half pixel, where this computation and libvips' might round differently.
 */
export function rotatedSize({ width, height }: ImageSize, angle: number): ImageSize | undefined {
  if (angle % 90 === 0) return (angle / 90) % 2 === 0 ? { width, height } : { width: height, height: width };
  const rad = (angle * Math.PI) / 180;
  const c = Math.abs(Math.cos(rad));
  const s = Math.abs(Math.sin(rad));
  const sides = [width * c + height * s, width * s + height * c];
  if (sides.some((v) => Math.abs((v % 1) - 0.5) < 1e-6)) return undefined;
  const [w, h] = sides.map((v) => Math.floor(v + 0.5)) as [number, number];
  return { width: w, height: h };
}
