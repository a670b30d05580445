import { InvalidParamError, InvalidRequestError } from '../errors.ts';
import { box as checkBox, clippedSquare, expected, finite, integer } from './params.ts';
import { RESIZE, cloneImage, copyWindow, viaSharp } from './raster.ts';
import { IDENTITY, affineGeometry, resizing } from './geometry.ts';
import type { Box, ImageSize, OpContext, Operation, RawImage } from './types.ts';

export const DEFAULT_CUTMIX_ALPHA = 1;

export interface CutmixParams {
  /** λ ~ Beta(alpha, alpha). */
  alpha?: number;
  /** A fixed λ (share of the image kept) instead of a Beta draw; the box position stays random. */
  lambda?: number;
  /** Replayed region `[x1, y1, x2, y2]` (x2, y2 exclusive); wins over alpha and lambda. */
  box?: number[];
  /** Class of the image, of the mix image, and how many classes: all three or none. */
  label?: number;
  mix_label?: number;
  num_classes?: number;
  /** Output only; ignored when sent back (recomputed from the box). */
  mixed_label?: number[];
}
export interface CutmixResolved {
  box: Box;
  /** 1 − box area / image area: the share of the output that is still `image`. */
  lambda: number;
  label?: number;
  mix_label?: number;
  num_classes?: number;
  /** λ·onehot(label) + (1 − λ)·onehot(mix_label). */
  mixed_label?: number[];
}

export function requireMix(ctx: OpContext): RawImage {
  if (!ctx.mix) throw new InvalidRequestError(expected('a second image to mix in', 'mix', undefined));
  return ctx.mix;
}

/**
 * λ·onehot(label) + (1 − λ)·onehot(mix_label), with the classes checked: all three of label,
 * mix_label and num_classes, or none (undefined). CutMix and MixUp report it.
 */
export function mixLabels(
  params: { label?: number; mix_label?: number; num_classes?: number },
  lambda: number,
): { label: number; mix_label: number; num_classes: number; vector: number[] } | undefined {
  const { label, mix_label, num_classes } = params;
  const given = [label, mix_label, num_classes].filter((v) => v !== undefined).length;
  if (given === 0) return undefined;
  if (given < 3) {
    throw new InvalidParamError(
      expected('label, mix_label and num_classes together', 'label, mix_label, num_classes', { label, mix_label, num_classes }),
    );
  }
  const classes = integer('num_classes', num_classes, 1);
  const a = integer('label', label, 0);
  const b = integer('mix_label', mix_label, 0);
  if (a >= classes) throw new InvalidParamError(expected(`an integer < num_classes (${classes})`, 'label', a));
  if (b >= classes) throw new InvalidParamError(expected(`an integer < num_classes (${classes})`, 'mix_label', b));
  const vector = new Array<number>(classes).fill(0);
  vector[a] = lambda;
  vector[b] = (vector[b] ?? 0) + (1 - lambda);
  return { label: a, mix_label: b, num_classes: classes, vector };
}

function labels(params: CutmixParams, lambda: number): Partial<CutmixResolved> {
  const mixed = mixLabels(params, lambda);
  if (!mixed) return {};
  const { vector, ...classes } = mixed;
  return { ...classes, mixed_label: vector };
}

function keptShare([x1, y1, x2, y2]: Box, { width, height }: ImageSize): number {
  return 1 - ((x2 - x1) * (y2 - y1)) / (width * height);
}

/**
 * CutMix (Yun et al. 2019): a box of `image` replaced by the same box of the mix image stretched
 * to image's size. λ ~ Beta(α, α) sizes the box (W·√(1−λ) × H·√(1−λ) around a uniform centre);
 * the reported λ is recomputed from the clipped box.
 */
export const cutmix: Operation<CutmixParams, CutmixResolved> = {
  name: 'cutmix',
  sample(rng, size, params, ctx) {
    requireMix(ctx);
    const alpha = finite('alpha', params.alpha ?? DEFAULT_CUTMIX_ALPHA);
    if (!(alpha > 0)) throw new InvalidParamError(expected('a number > 0', 'alpha', alpha));
    let region: Box;
    if (params.box !== undefined) {
      region = checkBox('box', params.box, size);
    } else {
      const lambda = params.lambda === undefined ? rng.beta(alpha, alpha) : finite('lambda', params.lambda);
      if (!(lambda >= 0 && lambda <= 1)) throw new InvalidParamError(expected('a number in [0, 1]', 'lambda', lambda));
      const cut = Math.sqrt(1 - lambda);
      const cx = rng.int(0, size.width);
      const cy = rng.int(0, size.height);
      region = clippedSquare(cx, cy, Math.floor(size.width * cut), Math.floor(size.height * cut), size);
    }
    const lambda = keptShare(region, size);
    return { box: region, lambda, ...labels(params, lambda) };
  },
  async apply(image, resolved, ctx) {
    requireMix(ctx);
    const out = cloneImage(image);
    await cutmix.paint!(out, resolved, ctx);
    return out;
  },
  async paint(image, { box: [x1, y1, x2, y2] }, ctx) {
    const mix = requireMix(ctx);
    if (x1 >= x2 || y1 >= y2) return;
    // Only the box of the stretched mix image is computed: sharp resizes lazily, region by region.
    const patch = await conformMix(mix, image, (s) =>
      s.resize(image.width, image.height, RESIZE).extract({
        left: x1,
        top: y1,
        width: x2 - x1,
        height: y2 - y1,
      }),
    );
    copyWindow(patch, 0, 0, image, x1, y1, x2 - x1, y2 - y1);
  },
  geometry({ box }, size, ctx) {
    const [x1, y1, x2, y2] = box;
    if (x1 >= x2 || y1 >= y2) return affineGeometry(IDENTITY, size);
    const mix = requireMix(ctx);
    // The mix image is stretched to the image's size, and shows through the box only.
    const stretch = resizing(mix, size);
    return { matrix: IDENTITY, width: size.width, height: size.height, covered: [box], paste: { matrix: stretch, region: box } };
  },
};

/**
 * The mix image, through `build` (a resize, maybe a crop), with `like`'s channel layout: colour
 * turned grey or grey turned colour, alpha dropped or made opaque.
 */
export async function conformMix(
  mix: RawImage,
  like: Pick<RawImage, 'channels'>,
  build: Parameters<typeof viaSharp>[1],
): Promise<RawImage> {
  const target = like.channels;
  const mixIsGrey = mix.channels <= 2;
  if (target === 2 && !mixIsGrey) {
    // sharp drops alpha on its way to grey: take grey and alpha in separate passes.
    const rgba = await viaSharp(mix, build, 4);
    const grey = await viaSharp(rgba, (s) => s, 1);
    const data = Buffer.allocUnsafe(grey.data.length * 2);
    for (let i = 0; i < grey.data.length; i++) {
      data[2 * i] = grey.data[i]!;
      data[2 * i + 1] = rgba.data[4 * i + 3]!;
    }
    return { data, width: grey.width, height: grey.height, channels: 2 };
  }
  return viaSharp(mix, (s) => (target >= 3 && mixIsGrey ? build(s).toColourspace('srgb') : build(s)), target);
}
