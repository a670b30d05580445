import type { Sharp } from 'sharp';
import type { Rng } from '../random.ts';
import type { Geometry, Projective } from './geometry.ts';
import type { Interpolation } from './warp.ts';

export type { Rng };

/** The operations' public names, in the order the API lists them. */
export const OP_NAMES = ['flip', 'rotate', 'crop', 'scale', 'cutout', 'cutmix', 'affine', 'perspective', 'brightness', 'contrast', 'saturation', 'hue', 'color_jitter', 'sharpness', 'gamma', 'posterize', 'solarize', 'equalize', 'autocontrast', 'invert', 'grayscale', 'gaussian_blur', 'gaussian_noise', 'jpeg', 'erase', 'mixup', 'mosaic', 'autoaugment', 'randaugment', 'trivialaugment', 'augmix'] as const;
export type OpName = (typeof OP_NAMES)[number];

/** 8-bit interleaved pixels, as sharp's `.raw()` gives them. */
export interface RawImage {
  data: Buffer;
  width: number;
  height: number;
  channels: 1 | 2 | 3 | 4;
}

export interface ImageSize {
  width: number;
  height: number;
}

/** What a one-pass pipeline decodes: 8-bit grey or RGB, no alpha, one frame. */
export interface PipelineSource {
  channels: 1 | 3;
  /**
   * The upload carries an ICC profile. Its pixels reach sRGB only at the pipeline's end, so a
   * colour painted or an interpolation done on the way would be in the upload's colour space.
   */
  profiled: boolean;
}

export interface OpContext {
  /** cutmix's and mixup's second image, decoded, any size. */
  mix?: RawImage;
  /** mosaic's three other images, decoded, any sizes, in request order. */
  mixes?: RawImage[];
}

/** `[min, max]`; a fixed value v is `[v, v]`. */
export type Range = readonly [number, number];

/** `[x1, y1, x2, y2]` in pixels, x2 and y2 exclusive. */
export type Box = [number, number, number, number];

export interface Operation<Req, Res> {
  readonly name: OpName;
  /**
   * All randomness: (seeded rng, image size, request params) → fully resolved params.
   * Throws InvalidRangeError / ImpossibleParamError / InvalidParamError.
   */
  sample(rng: Rng, size: ImageSize, params: Req, ctx: OpContext): Res;
  /** Deterministic: same image + resolved params → same pixels. */
  apply(image: RawImage, params: Res, ctx: OpContext): Promise<RawImage>;
  /**
   * `apply`'s pixels painted into `image` itself, for a caller that owns the image and does not
   * read it again (the single-image route's freshly decoded upload): saves `apply`'s copy of the
   * whole image. Only operations that keep the size and change a few regions have it.
   */
  paint?(image: RawImage, params: Res, ctx: OpContext): Promise<void>;
  /**
   * The same pixels as `apply`, as calls added to a sharp pipeline that decodes an image of
   * `size` and encodes the answer (one libvips pass, no raw copies); undefined where the operation
   * cannot be written that way (padding, painting, a second image, colours on a profiled upload).
   */
  transform?(params: Res, size: ImageSize, source: PipelineSource): ((pipeline: Sharp) => Sharp) | undefined;
  /**
   * Where `apply` moves each point of an input of `size`, and what it covers: the one description
   * that boxes, keypoints and masks are transformed by.
   */
  geometry(params: Res, size: ImageSize, ctx: OpContext): Geometry;
  /**
   * For an operation that is one resampling of the plane and nothing else (flip, rotate, crop,
   * scale, affine, perspective): that resampling, as `warp` (ops/warp.ts) would run it. A pipeline
   * composes a run of such steps into one map and resamples once (issue 24). Undefined for
   * operations that paint, mix or change colours.
   */
  resampling?(params: Res, size: ImageSize): Resampling;
}

/** One resampling: `warp(image, forward, width, height, { interpolation, fill })`. */
export interface Resampling {
  /** Where an input point lands in the output (continuous pixel coordinates). */
  forward: Projective;
  width: number;
  height: number;
  interpolation: Interpolation;
  /** The colour shown where the output maps outside the input (`#rrggbb[aa]`). */
  fill: string;
}
