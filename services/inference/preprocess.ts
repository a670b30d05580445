import sharp from 'sharp';
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
}

/** Default decode limit: a 64-megapixel photo, well above what a classifier needs. */
export const DEFAULT_MAX_PIXELS = 8192 * 8192;

export function specOf(config: Pick<ModelConfig, 'preprocess' | 'input'>): PreprocessSpec {
  return { ...config.preprocess, layout: config.input.layout };
}

interface Raw {
  data: Buffer;
  width: number;
  height: number;
}

/**
 * Decodes, orients (EXIF) and converts to the model's channels: alpha is flattened onto black,
 * 1 channel is libvips' luminance (`b-w`, computed in linear light, so a coloured pixel's grey
 * differs slightly from PIL's convert('L'); grey inputs pass through unchanged), 3 is 8-bit sRGB.
 */
async function decode(image: Buffer, channels: 1 | 3, maxPixels: number): Promise<Raw> {
  try {
    const { data, info } = await sharp(image, { autoOrient: true, limitInputPixels: maxPixels, failOn: 'error' })
      .flatten({ background: { r: 0, g: 0, b: 0 } })
      .toColourspace(channels === 1 ? 'b-w' : 'srgb')
      .removeAlpha()
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== channels) throw new Error(`decoded to ${info.channels} channels, expected ${channels}`);
    return { data, width: info.width, height: info.height };
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    if (/pixel limit/i.test(message)) throw new PayloadTooLargeError(`image is over the ${maxPixels}-pixel decode limit`);
    throw new UnsupportedMediaError(`upload is not a decodable image: ${message}`);
  }
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

/**
 * Resizes as a separate step, from raw pixels, so sharp cannot reorder it with the colour
 * conversion. The kernel is `linear`: libvips scales it with the reduction factor, which is the
 * antialiased bilinear of PIL / torchvision's Resize (close, not bit-identical). An image already
 * at the target size is returned untouched.
 */
async function resizeShorterSide(raw: Raw, channels: 1 | 3, size: number): Promise<Raw> {
  const target = resizedDims(raw.width, raw.height, size);
  if (target.width === raw.width && target.height === raw.height) return raw;
  const { data, info } = await sharp(raw.data, { raw: { width: raw.width, height: raw.height, channels } })
    .resize(target.width, target.height, { kernel: 'linear', fit: 'fill' })
    // Raw one-band input is otherwise written back as three bands.
    .toColourspace(channels === 1 ? 'b-w' : 'srgb')
    .raw({ depth: 'uchar' })
    .toBuffer({ resolveWithObject: true });
  if (info.channels !== channels) throw new Error(`resize gave ${info.channels} channels, expected ${channels}`);
  return { data, width: info.width, height: info.height };
}

/**
 * Turns one uploaded image into the model's input tensor for a batch of one, without the batch
 * axis: `[C, crop, crop]` for NCHW, `[crop, crop, C]` for NHWC, values (p / 255 - mean[c]) / std[c].
 * Throws INF_UNSUPPORTED_MEDIA for undecodable bytes and INF_PAYLOAD_TOO_LARGE over the pixel limit.
 * @example const x = await preprocess(png, specOf(config)); // Float32Array(1 * 28 * 28)
 */
export async function preprocess(image: Buffer, spec: PreprocessSpec, options: PreprocessOptions = {}): Promise<Float32Array> {
  const { channels, crop, mean, std, layout } = spec;
  const decoded = await decode(image, channels, options.maxPixels ?? DEFAULT_MAX_PIXELS);
  const { data, width, height } = await resizeShorterSide(decoded, channels, spec.resize);
  const top = roundHalfEven((height - crop) / 2);
  const left = roundHalfEven((width - crop) / 2);
  const out = new Float32Array(channels * crop * crop);
  const scale = new Float32Array(channels);
  const shift = new Float32Array(channels);
  for (let c = 0; c < channels; c++) {
    scale[c] = 1 / (255 * std[c]!);
    shift[c] = mean[c]! / std[c]!;
  }
  for (let y = 0; y < crop; y++) {
    for (let x = 0; x < crop; x++) {
      const src = ((top + y) * width + left + x) * channels;
      for (let c = 0; c < channels; c++) {
        const value = data[src + c]! * scale[c]! - shift[c]!;
        out[layout === 'NCHW' ? (c * crop + y) * crop + x : (y * crop + x) * channels + c] = value;
      }
    }
  }
  return out;
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
