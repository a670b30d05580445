import sharp from 'sharp';
import { orientedSize } from '../shared/intake.ts';
import type { Layout, ModelConfig } from './model-config.ts';
import { PayloadTooLargeError, UnsupportedMediaError } from './errors.ts';

/** What turning an upload into a model input needs: the config's `preprocess` plus the layout. */
export interface PreprocessSpec {
  channels: 1 | 3;
  resize: number;
  crop: number;
  mean: readonly number[];
  std: readonly number[];
  layout: Layout;
}

export interface PreprocessOptions {
  /** Decoded pixel count above which the image is refused with INF_PAYLOAD_TOO_LARGE. */
  maxPixels?: number;
  /** The image's size after EXIF orientation, when the caller has read its header already. */
  size?: { width: number; height: number };
}


/** Default decode limit: a 64-megapixel photo, well above what a classifier needs. */
export const DEFAULT_MAX_PIXELS = 8192 * 8192;

export function specOf(config: Pick<ModelConfig, 'preprocess' | 'input'>): PreprocessSpec {
  return { ...config.preprocess, layout: config.input.layout };
}

/** What decoding needs from a spec; models that agree on it share one decode (ensembles). */
export type Geometry = Pick<PreprocessSpec, 'channels' | 'resize' | 'crop'>;

/** The centre crop as 8-bit interleaved pixels, `crop × crop × channels`, before normalisation. */
export interface Crop {
  data: Buffer;
  channels: 1 | 3;
  crop: number;
}

/** torchvision's Resize(int): the shorter side becomes `size`, the longer one is truncated in proportion. */
export function resizedDims(width: number, height: number, size: number): { width: number; height: number } {
  if (width <= height) return { width: size, height: Math.max(1, Math.trunc((size * height) / width)) };
  return { width: Math.max(1, Math.trunc((size * width) / height)), height: size };
}

/** Python's round() (half to even), which torchvision's CenterCrop uses for the offsets. */
function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

function decodeError(error: unknown, maxPixels: number): Error {
  const message = error instanceof Error ? error.message : String(error);
  if (/pixel limit/i.test(message)) return new PayloadTooLargeError(`image is over the ${maxPixels}-pixel decode limit`);
  return new UnsupportedMediaError(`upload is not a decodable image: ${message}`);
}

/**
 * Decodes an upload down to the model's centre crop in one sharp pipeline (one pass over the
 * pixels, and JPEG/WebP shrink-on-load for large photos): EXIF orientation, alpha flattened onto
 * black, shorter side resized to `resize` as torchvision's Resize(int) does, centre crop, then the
 * model's colour space: 1 channel is libvips' luminance (`b-w`, in linear light, so a coloured
 * pixel's grey differs slightly from PIL's convert('L'); grey inputs pass through unchanged),
 * 3 channels 8-bit sRGB.
 *
 * The resize kernel is `linear`, which libvips widens with the reduction factor: the antialiased
 * bilinear of PIL / torchvision (close, not bit-identical). sharp resizes before it converts the
 * colour space, which for 1-channel models differs from PIL's convert-then-resize only by rounding.
 * An image already at the target size is not resampled at all.
 */
export async function decodeCrop(image: Buffer, geometry: Geometry, options: PreprocessOptions = {}): Promise<Crop> {
  const { channels, resize, crop } = geometry;
  const maxPixels = options.maxPixels ?? DEFAULT_MAX_PIXELS;
  const open = () => sharp(image, { autoOrient: true, limitInputPixels: maxPixels, failOn: 'error', pages: 1 });
  try {
    const { width, height } = options.size ?? orientedSize(await open().metadata());
    if (!width || !height) throw new Error('no dimensions');
    const target = resizedDims(width, height, resize);
    let pipeline = open().flatten({ background: { r: 0, g: 0, b: 0 } });
    if (target.width !== width || target.height !== height) {
      pipeline = pipeline.resize(target.width, target.height, { kernel: 'linear', fit: 'fill', fastShrinkOnLoad: false });
    }
    const { data, info } = await pipeline
      .extract({ left: roundHalfEven((target.width - crop) / 2), top: roundHalfEven((target.height - crop) / 2), width: crop, height: crop })
      .toColourspace(channels === 1 ? 'b-w' : 'srgb')
      .removeAlpha()
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== channels || info.width !== crop || info.height !== crop) {
      throw new Error(`decoded to ${info.width}x${info.height}x${info.channels}, expected ${crop}x${crop}x${channels}`);
    }
    return { data, channels, crop };
  } catch (error) {
    throw decodeError(error, maxPixels);
  }
}

/** The model input from a crop: (p / 255 - mean[c]) / std[c], in the spec's layout. */
export function normalize(crop: Crop, spec: PreprocessSpec): Float32Array {
  const { channels, mean, std, layout } = spec;
  const size = crop.crop;
  if (crop.channels !== channels || size !== spec.crop) throw new RangeError(`expected a ${spec.crop}x${spec.crop}x${channels} crop, got ${size}x${size}x${crop.channels}`);
  const plane = size * size;
  const out = new Float32Array(channels * plane);
  const { data } = crop;
  // One loop per layout and channel, each writing one stride: this runs on the HTTP thread.
  for (let c = 0; c < channels; c++) {
    const scale = 1 / (255 * std[c]!);
    const shift = mean[c]! / std[c]!;
    if (layout === 'NCHW') {
      const base = c * plane;
      for (let i = 0, src = c; i < plane; i++, src += channels) out[base + i] = data[src]! * scale - shift;
    } else {
      for (let i = c; i < out.length; i += channels) out[i] = data[i]! * scale - shift;
    }
  }
  return out;
}

/**
 * Turns one uploaded image into the model's input tensor for a batch of one, without the batch
 * axis: `[C, crop, crop]` for NCHW, `[crop, crop, C]` for NHWC, values (p / 255 - mean[c]) / std[c].
 * Throws INF_UNSUPPORTED_MEDIA for undecodable bytes and INF_PAYLOAD_TOO_LARGE over the pixel limit.
 * @example const x = await preprocess(png, specOf(config)); // Float32Array(1 * 28 * 28)
 */
export async function preprocess(image: Buffer, spec: PreprocessSpec, options: PreprocessOptions = {}): Promise<Float32Array> {
  return normalize(await decodeCrop(image, spec, options), spec);
}

/** The tensor of the horizontally mirrored image (for test-time augmentation), as a new array. */
export function flipHorizontal(tensor: Float32Array, spec: Pick<PreprocessSpec, 'channels' | 'crop' | 'layout'>): Float32Array {
  const { channels, crop, layout } = spec;
  const out = new Float32Array(tensor.length);
  if (layout === 'NCHW') {
    for (let row = 0; row < channels * crop; row++) {
      const base = row * crop;
      for (let x = 0; x < crop; x++) out[base + x] = tensor[base + crop - 1 - x]!;
    }
  } else {
    for (let y = 0; y < crop; y++) {
      for (let x = 0; x < crop; x++) {
        const dst = (y * crop + x) * channels;
        const src = (y * crop + crop - 1 - x) * channels;
        for (let c = 0; c < channels; c++) out[dst + c] = tensor[src + c]!;
      }
    }
  }
  return out;
}
