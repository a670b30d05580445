import { DEFAULT_FILL, colourPixel, parseColour } from '../colour.ts';
import { InvalidParamError } from '../errors.ts';
import { createRng } from '../random.ts';
import { box, expected, integer, range } from './params.ts';
import { cloneImage, fillBox } from './raster.ts';
import { IDENTITY } from './geometry.ts';
import type { Box, Operation, Range, RawImage } from './types.ts';

export const DEFAULT_ERASE_SCALE_RANGE: Range = [0.02, 0.33];
export const DEFAULT_ERASE_RATIO_RANGE: Range = [0.3, 3.3];
/** torchvision's RandomErasing gives up after this many boxes that do not fit, and erases nothing. */
export const ERASE_ATTEMPTS = 10;
export const RANDOM_VALUE = 'random';
const SEEDS = 2 ** 32;

export interface EraseParams {
  /** Erased area as a share of the image's, uniform. */
  scale_range?: Range;
  /** Height / width of the erased box, log-uniform. */
  ratio_range?: Range;
  /** A colour, or `random`: uniform noise per value. */
  value?: string;
  /** Replay: the box to erase; wins over sampling. */
  box?: number[];
  /** Replay of `random`: the seed of its noise. */
  noise_seed?: number;
}
export interface EraseResolved {
  /** `[x1, y1, x2, y2]`; empty (`[0, 0, 0, 0]`) when no box fitted. */
  box: Box;
  /** `#rrggbb[aa]` or `random`. */
  value: string;
  /** Only with `random`. */
  noise_seed?: number;
}

/**
 * torchvision's RandomErasing (Zhong et al. 2017) and `F.erase`: up to ten tries of an area share
 * and a log-uniform aspect ratio, h = round(√(area·ratio)), w = round(√(area/ratio)), kept when
 * h < H and w < W, then a uniform position; no fit erases nothing. The box is a Cutout hole for
 * boxes, keypoints and masks.
 */
export const erase: Operation<EraseParams, EraseResolved> = {
  name: 'erase',
  sample(rng, size, params) {
    const scale = range('scale_range', params.scale_range, DEFAULT_ERASE_SCALE_RANGE, { lowest: 0, highest: 1 });
    const ratio = range('ratio_range', params.ratio_range, DEFAULT_ERASE_RATIO_RANGE, { lowest: 0, openLow: true });
    const value = eraseValue(params.value);
    // Drawn after the box, and only when needed: fully resolved params draw nothing.
    const seed = () => (value !== RANDOM_VALUE ? {} : { noise_seed: params.noise_seed === undefined ? rng.int(0, SEEDS) : noiseSeed(params.noise_seed) });
    if (params.box !== undefined) return { box: box('box', params.box, size), value, ...seed() };
    const area = size.width * size.height;
    let chosen: Box = [0, 0, 0, 0];
    for (let attempt = 0; attempt < ERASE_ATTEMPTS; attempt++) {
      const erased = area * rng.uniform(scale[0], scale[1]);
      const aspect = rng.logUniform(ratio[0], ratio[1]);
      const h = Math.round(Math.sqrt(erased * aspect));
      const w = Math.round(Math.sqrt(erased / aspect));
      if (!(h < size.height && w < size.width)) continue;
      const y = rng.int(0, size.height - h + 1);
      const x = rng.int(0, size.width - w + 1);
      chosen = [x, y, x + w, y + h];
      break;
    }
    return { box: chosen, value, ...seed() };
  },
  async apply(image, resolved, ctx) {
    const out = cloneImage(image);
    await erase.paint!(out, resolved, ctx);
    return out;
  },
  async paint(image, { box: b, value, noise_seed }) {
    if (value === RANDOM_VALUE) return paintNoise(image, b, noiseSeed(noise_seed));
    fillBox(image, b, colourPixel(parseColour(value, 'value'), image.channels));
  },
  geometry({ box: [x1, y1, x2, y2] }, size) {
    return { matrix: IDENTITY, width: size.width, height: size.height, covered: x1 < x2 && y1 < y2 ? [[x1, y1, x2, y2]] : [] };
  },
};

function eraseValue(value: unknown): string {
  if (value === undefined) return DEFAULT_FILL;
  if (typeof value === 'string' && value.trim().toLowerCase() === RANDOM_VALUE) return RANDOM_VALUE;
  return parseColour(value, 'value').hex;
}

function noiseSeed(value: unknown): number {
  const seed = integer('noise_seed', value, 0);
  if (seed >= SEEDS) throw new InvalidParamError(expected(`an integer in [0, ${SEEDS - 1}]`, 'noise_seed', value));
  return seed;
}

/** Uniform levels over the box's colour channels; an alpha channel is kept, so the hole stays as opaque as it was. */
function paintNoise(image: RawImage, [x1, y1, x2, y2]: Box, seed: number): void {
  const rng = createRng(seed);
  const { data, width, channels } = image;
  const colours = channels === 2 || channels === 4 ? channels - 1 : channels;
  for (let y = y1; y < y2; y++) {
    for (let p = (y * width + x1) * channels, end = (y * width + x2) * channels; p < end; p += channels) {
      for (let c = 0; c < colours; c++) data[p + c] = Math.floor(rng.next() * 256);
    }
  }
}
