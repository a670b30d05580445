import { DEFAULT_FILL, colourPixel, parseColour } from '../../colour.ts';
import { InvalidParamError } from '../../errors.ts';
import { IDENTITY, affineGeometry, compose, torchvisionAffine, type Affine, type Geometry } from '../geometry.ts';
import { expected, oneOf } from '../params.ts';
import * as photometric from '../photometric.ts';
import { cloneImage } from '../raster.ts';
import type { ImageSize, RawImage, Rng } from '../types.ts';
import { INTERPOLATIONS, roundHalfEven, warp, type Interpolation } from '../warp.ts';

/** torchvision's sub-operation names (`_apply_op`), the vocabulary of every policy's `ops`. */
export const SUB_OPS = [
  'Identity',
  'ShearX',
  'ShearY',
  'TranslateX',
  'TranslateY',
  'Rotate',
  'Brightness',
  'Color',
  'Contrast',
  'Sharpness',
  'Posterize',
  'Solarize',
  'AutoContrast',
  'Equalize',
  'Invert',
] as const;
export type SubOpName = (typeof SUB_OPS)[number];

/** One applied sub-operation: torchvision's name and its signed magnitude. */
export interface SubOp {
  name: SubOpName;
  magnitude: number;
}

/** One entry of an `_augmentation_space`: the magnitude bins (none: magnitude 0) and whether a sign is drawn. */
export interface SpaceEntry {
  name: SubOpName;
  bins?: readonly number[];
  signed: boolean;
}
/** Ordered as torchvision's dict, since its draws index into that order. */
export type Space = readonly SpaceEntry[];

/** Policies answer in torchvision's default interpolation unless asked; the fill is black (torchvision's None). */
export const DEFAULT_POLICY_INTERPOLATION: Interpolation = 'nearest';

/**
 * `torch.linspace(start, end, steps)` as float32 on the CPU, value for value: its kernel steps
 * from each end toward the middle and, in blocks of eight lanes (AVX2), starts each block with a
 * fused multiply-add and then adds k·step in float32. Checked against torch's own tables
 * (test/augment/ops/policies.test.ts); the solarize thresholds and translate truncations hang on
 * the last bit.
 */
export function linspace(start: number, end: number, steps: number): number[] {
  const f = Math.fround;
  const a = f(start);
  const b = f(end);
  if (steps === 1) return [a];
  const step = f((b - a) / f(steps - 1));
  const half = Math.floor(steps / 2);
  // step·i is exact in a double, so one rounding to float32 is the fused multiply-add.
  const scalar = (i: number) => (i < half ? f(a + step * i) : f(b - step * (steps - i - 1)));
  const out: number[] = [];
  const lanes = 8;
  let i = 0;
  for (; i + 2 * lanes <= steps; ) {
    for (let block = 0; block < 2; block++, i += lanes) {
      const base = scalar(i);
      for (let k = 0; k < lanes; k++) out.push(f(base + f(k * step)));
    }
  }
  for (; i < steps; i++) out.push(scalar(i));
  return out;
}

/** `top - (arange(n) / ((n - 1) / spread)).round().int()`, torchvision's posterize bins (float32, ties to even). */
function posterizeBins(top: number, n: number, spread: number): number[] {
  const divisor = Math.fround((n - 1) / spread);
  return Array.from({ length: n }, (_, i) => top - roundHalfEven(Math.fround(i / divisor)));
}

const none = (name: SubOpName): SpaceEntry => ({ name, signed: false });
const signed = (name: SubOpName, bins: number[]): SpaceEntry => ({ name, bins, signed: true });

/** AutoAugment's and RandAugment's space (`_augmentation_space(num_bins, (H, W))`); RandAugment adds Identity and drops Invert. */
function standardSpace(numBins: number, { width, height }: ImageSize, kind: 'autoaugment' | 'randaugment'): Space {
  const shear = linspace(0, 0.3, numBins);
  const ninety = linspace(0, 0.9, numBins);
  return [
    ...(kind === 'randaugment' ? [none('Identity')] : []),
    signed('ShearX', shear),
    signed('ShearY', shear),
    signed('TranslateX', linspace(0, (150 / 331) * width, numBins)),
    signed('TranslateY', linspace(0, (150 / 331) * height, numBins)),
    signed('Rotate', linspace(0, 30, numBins)),
    signed('Brightness', ninety),
    signed('Color', ninety),
    signed('Contrast', ninety),
    signed('Sharpness', ninety),
    { name: 'Posterize', bins: posterizeBins(8, numBins, 4), signed: false },
    { name: 'Solarize', bins: linspace(255, 0, numBins), signed: false },
    none('AutoContrast'),
    none('Equalize'),
    ...(kind === 'autoaugment' ? [none('Invert')] : []),
  ];
}

/** AutoAugment's table (10 bins, as its `forward`). */
export function autoAugmentSpace(size: ImageSize): Space {
  return standardSpace(AUTOAUGMENT_BINS, size, 'autoaugment');
}
export const AUTOAUGMENT_BINS = 10;

export function randAugmentSpace(numBins: number, size: ImageSize): Space {
  return standardSpace(numBins, size, 'randaugment');
}

/** TrivialAugmentWide's wide space: independent of the image size. */
export function wideSpace(numBins: number): Space {
  const wide = linspace(0, 0.99, numBins);
  return [
    none('Identity'),
    signed('ShearX', wide),
    signed('ShearY', wide),
    signed('TranslateX', linspace(0, 32, numBins)),
    signed('TranslateY', linspace(0, 32, numBins)),
    signed('Rotate', linspace(0, 135, numBins)),
    signed('Brightness', wide),
    signed('Color', wide),
    signed('Contrast', wide),
    signed('Sharpness', wide),
    { name: 'Posterize', bins: posterizeBins(8, numBins, 6), signed: false },
    { name: 'Solarize', bins: linspace(255, 0, numBins), signed: false },
    none('AutoContrast'),
    none('Equalize'),
  ];
}

/** AugMix's severity scale: its table always has this many bins, of which `severity` are drawn from. */
export const AUGMIX_BINS = 10;

export function augMixSpace({ width, height }: ImageSize, allOps: boolean): Space {
  const shear = linspace(0, 0.3, AUGMIX_BINS);
  const ninety = linspace(0, 0.9, AUGMIX_BINS);
  return [
    signed('ShearX', shear),
    signed('ShearY', shear),
    signed('TranslateX', linspace(0, width / 3, AUGMIX_BINS)),
    signed('TranslateY', linspace(0, height / 3, AUGMIX_BINS)),
    signed('Rotate', linspace(0, 30, AUGMIX_BINS)),
    { name: 'Posterize', bins: posterizeBins(4, AUGMIX_BINS, 4), signed: false },
    { name: 'Solarize', bins: linspace(255, 0, AUGMIX_BINS), signed: false },
    none('AutoContrast'),
    none('Equalize'),
    ...(allOps ? [signed('Brightness', ninety), signed('Color', ninety), signed('Contrast', ninety), signed('Sharpness', ninety)] : []),
  ];
}

/**
 * The magnitude of `entry` at `bin` with its sign drawn as torchvision draws it (`randint(2)`: 1
 * flips it; AutoAugment passes its own pre-drawn sign, where 0 flips it).
 */
export function magnitudeOf(entry: SpaceEntry, bin: number, negative: () => boolean): number {
  const value = entry.bins ? entry.bins[bin]! : 0;
  return entry.signed && negative() ? -value : value;
}

/** A uniformly drawn entry of `space` (`torch.randint(len(op_meta))`). */
export function drawEntry(rng: Rng, space: Space): SpaceEntry {
  return space[rng.int(0, space.length)]!;
}

/** `torch.randint(2)` as a sign: true (1) negates. */
export const coin = (rng: Rng) => () => rng.int(0, 2) === 1;

/** Where a sub-operation moves the plane (torchvision's F.affine / F.rotate matrices); undefined for photometric ones. */
export function subOpMatrix({ name, magnitude }: SubOp, size: ImageSize): Affine | undefined {
  const base = { angle: 0, translate: [0, 0] as [number, number], scale: 1, shear: [0, 0] as [number, number], center: [size.width / 2, size.height / 2] as [number, number] };
  const shear = (Math.atan(magnitude) * 180) / Math.PI;
  switch (name) {
    case 'ShearX':
      // About the top-left corner: torchvision passes center=[0, 0].
      return torchvisionAffine({ ...base, shear: [shear, 0], center: [0, 0] }, size);
    case 'ShearY':
      return torchvisionAffine({ ...base, shear: [0, shear], center: [0, 0] }, size);
    case 'TranslateX':
      return torchvisionAffine({ ...base, translate: [Math.trunc(magnitude), 0] }, size);
    case 'TranslateY':
      return torchvisionAffine({ ...base, translate: [0, Math.trunc(magnitude)] }, size);
    case 'Rotate':
      return torchvisionAffine({ ...base, angle: magnitude }, size);
    default:
      return undefined;
  }
}

export interface Resampler {
  interpolation: Interpolation;
  /** `#rrggbb[aa]`. */
  fill: string;
}

/**
 * torchvision's `_apply_op`: one sub-operation on 8-bit pixels, the geometric ones through the
 * shared warp (its tensor backend's sampling), the others through the photometric functions.
 */
export function applySubOp(image: RawImage, op: SubOp, { interpolation, fill }: Resampler): RawImage {
  const size = { width: image.width, height: image.height };
  const matrix = subOpMatrix(op, size);
  if (matrix) {
    const [a, b, c, d, e, f] = matrix;
    return warp(image, [a, b, c, d, e, f, 0, 0, 1], image.width, image.height, {
      interpolation,
      fill: colourPixel(parseColour(fill, 'fill'), image.channels),
    });
  }
  const m = op.magnitude;
  switch (op.name) {
    case 'Brightness':
      return photometric.adjustBrightness(image, 1 + m);
    case 'Color':
      return photometric.adjustSaturation(image, 1 + m);
    case 'Contrast':
      return photometric.adjustContrast(image, 1 + m);
    case 'Sharpness':
      return photometric.adjustSharpness(image, 1 + m);
    case 'Posterize':
      // AugMix's severe bins give 0 bits: torchvision's mask then blacks every value out, as posterize's does.
      return photometric.posterize(image, Math.trunc(m));
    case 'Solarize':
      return photometric.solarize(image, m);
    case 'AutoContrast':
      return photometric.autocontrast(image);
    case 'Equalize':
      return photometric.equalize(image);
    case 'Invert':
      return photometric.invert(image);
    default:
      return cloneImage(image);
  }
}

/** `ops` in order. */
export function applySubOps(image: RawImage, ops: readonly SubOp[], resampler: Resampler): RawImage {
  let current = image;
  for (const op of ops) current = applySubOp(current, op, resampler);
  return current === image ? cloneImage(image) : current;
}

/** The geometry of `ops` applied in order: their matrices composed (photometric ones are the identity). */
export function subOpsGeometry(ops: readonly SubOp[], size: ImageSize): Geometry {
  let matrix: Affine = IDENTITY;
  for (const op of ops) {
    const m = subOpMatrix(op, size);
    if (m) matrix = compose(m, matrix);
  }
  return affineGeometry(matrix, size);
}

/** Widest magnitude each sub-operation takes on replay (torchvision's widest table, or its function's domain). */
const MAGNITUDE_BOUNDS: Record<SubOpName, { what: string; ok: (m: number) => boolean }> = {
  Identity: { what: '0', ok: (m) => m === 0 },
  ShearX: { what: 'a number in [-1, 1]', ok: (m) => Math.abs(m) <= 1 },
  ShearY: { what: 'a number in [-1, 1]', ok: (m) => Math.abs(m) <= 1 },
  TranslateX: { what: 'a number in [-65536, 65536]', ok: (m) => Math.abs(m) <= 65536 },
  TranslateY: { what: 'a number in [-65536, 65536]', ok: (m) => Math.abs(m) <= 65536 },
  Rotate: { what: 'a number in [-360, 360]', ok: (m) => Math.abs(m) <= 360 },
  Brightness: { what: 'a number in [-1, 1]', ok: (m) => Math.abs(m) <= 1 },
  Color: { what: 'a number in [-1, 1]', ok: (m) => Math.abs(m) <= 1 },
  Contrast: { what: 'a number in [-1, 1]', ok: (m) => Math.abs(m) <= 1 },
  Sharpness: { what: 'a number in [-1, 1]', ok: (m) => Math.abs(m) <= 1 },
  Posterize: { what: 'a number in [0, 9) (bits, truncated)', ok: (m) => m >= 0 && m < 9 },
  Solarize: { what: 'a number in [0, 255]', ok: (m) => m >= 0 && m <= 255 },
  AutoContrast: { what: '0', ok: (m) => m === 0 },
  Equalize: { what: '0', ok: (m) => m === 0 },
  Invert: { what: '0', ok: (m) => m === 0 },
};

/** A replayed `ops` list checked: each entry a known name with a magnitude that sub-operation takes. */
export function subOps(name: string, value: unknown, allowed: readonly SubOpName[] = SUB_OPS): SubOp[] {
  if (!Array.isArray(value)) throw new InvalidParamError(expected('a list of {name, magnitude}', name, value));
  return value.map((entry, i) => {
    const at = `${name}[${i}]`;
    if (typeof entry !== 'object' || entry === null) throw new InvalidParamError(expected('{name, magnitude}', at, entry));
    const { name: op, magnitude = 0 } = entry as Record<string, unknown>;
    const opName = oneOf(`${at}.name`, op, allowed);
    if (typeof magnitude !== 'number' || !Number.isFinite(magnitude)) throw new InvalidParamError(expected('a finite number', `${at}.magnitude`, magnitude));
    const bound = MAGNITUDE_BOUNDS[opName];
    if (!bound.ok(magnitude)) throw new InvalidParamError(expected(`${bound.what} for ${opName}`, `${at}.magnitude`, magnitude));
    return { name: opName, magnitude };
  });
}

/** The resampling fields every policy takes. */
export function resampler(params: { interpolation?: unknown; fill?: unknown }, fallback: Interpolation = DEFAULT_POLICY_INTERPOLATION): Resampler {
  const interpolation = params.interpolation === undefined ? fallback : oneOf('interpolation', params.interpolation, INTERPOLATIONS);
  const fill = parseColour(params.fill ?? DEFAULT_FILL, 'fill').hex;
  return { interpolation, fill };
}

/** An integer field within [min, max], or its default. */
export function boundedInteger(name: string, value: unknown, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
    throw new InvalidParamError(expected(`an integer in [${min}, ${max}]`, name, value));
  }
  return value;
}
