import sharp from 'sharp';
import { InvalidParamError } from '../errors.ts';
import { expected, range } from './params.ts';
import { IDENTITY, affineGeometry } from './geometry.ts';
import type { Operation, Range, RawImage } from './types.ts';

export const DEFAULT_QUALITY_RANGE: Range = [50, 100];

export interface JpegParams {
  /** 1–100; wins over quality_range. */
  quality?: number;
  quality_range?: Range;
}
export interface JpegResolved {
  quality: number;
}

/**
 * JPEG compression artefacts: the image encoded as a JPEG of `quality` (sharp's encoder with its
 * default 4:2:0 chroma subsampling, as Pillow's) and decoded again. An alpha channel does not
 * go through the JPEG and is kept as it was. The answer is then encoded in the requested format.
 */
export const jpeg: Operation<JpegParams, JpegResolved> = {
  name: 'jpeg',
  sample(rng, _size, params) {
    const [lo, hi] = range('quality_range', params.quality_range, DEFAULT_QUALITY_RANGE, { lowest: 1, highest: 100 });
    if (!Number.isInteger(lo) || !Number.isInteger(hi)) {
      throw new InvalidParamError(expected('two integers from 1 to 100', 'quality_range', params.quality_range));
    }
    // Uniform over the integers lo..hi; a fixed quality draws nothing.
    return { quality: params.quality === undefined ? rng.int(lo, hi + 1) : quality(params.quality) };
  },
  async apply(image, resolved) {
    const q = quality(resolved.quality);
    const { width, height, channels } = image;
    const colours = (channels === 2 || channels === 4 ? channels - 1 : channels) as 1 | 3;
    const colour = colours === channels ? image.data : channelsOf(image, colours);
    const encoded = await sharp(colour, { raw: { width, height, channels: colours } }).jpeg({ quality: q }).toBuffer();
    let decoder = sharp(encoded);
    decoder = colours === 1 ? decoder.toColourspace('b-w') : decoder.removeAlpha();
    const { data, info } = await decoder.raw().toBuffer({ resolveWithObject: true });
    if (info.channels !== colours) throw new Error(`the JPEG decoded to ${info.channels} channels where ${colours} were expected`);
    if (colours === channels) return { data, width, height, channels };
    const out = Buffer.from(image.data);
    for (let p = 0, o = 0; p < out.length; p += channels, o += colours) data.copy(out, p, o, o + colours);
    return { data: out, width, height, channels };
  },
  geometry(_params, size) {
    return affineGeometry(IDENTITY, size);
  },
};

function quality(value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > 100) {
    throw new InvalidParamError(expected('an integer from 1 to 100', 'quality', value));
  }
  return value;
}

/** The first `count` channels of each pixel. */
function channelsOf(image: RawImage, count: number): Buffer {
  const out = Buffer.allocUnsafe(image.width * image.height * count);
  for (let p = 0, o = 0; p < image.data.length; p += image.channels, o += count) image.data.copy(out, o, p, p + count);
  return out;
}
