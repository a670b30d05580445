import type { RawImage } from './types.ts';

/**
 * torchvision's functional colour operations (0.14, uint8 tensor backend,
 * `torchvision/transforms/functional_tensor.py`) over raw 8-bit buffers, written once and shared
 * by the colour operations and the policies. Each function is pure: a new image out, the input
 * untouched.
 *
 * torchvision computes in float32 and truncates to 8 bits; `f32` (Math.fround) after every
 * arithmetic step reproduces its float32 results (a double result of one +, −, × or ÷ of float32
 * values, rounded to float32, is the float32 result), so the lookup tables below hold torchvision's
 * own values.
 *
 * Layouts: grey (1), grey + alpha (2), RGB (3), RGBA (4). The colour channels are operated on and
 * alpha is copied unchanged. On grey, torchvision's grey semantics: saturation and hue leave it
 * unchanged, contrast blends with the grey mean.
 */

const f32 = Math.fround;

/** How many of a layout's channels are colour (the rest, if any, is alpha). */
function colourChannels(channels: RawImage['channels']): 1 | 3 {
  return channels < 3 ? 1 : 3;
}

function blank(width: number, height: number, channels: RawImage['channels']): RawImage {
  return { data: Buffer.allocUnsafe(width * height * channels), width, height, channels };
}

function copy(image: RawImage): RawImage {
  return { ...image, data: Buffer.from(image.data) };
}

/** torchvision's `_blend` of two 8-bit values: float32 mix, clamped to [0, 255], truncated. */
function blendValue(a: number, b: number, ratio: number, rest: number): number {
  const v = f32(f32(ratio * a) + f32(rest * b));
  return v <= 0 ? 0 : v >= 255 ? 255 : Math.trunc(v);
}

/** `ratio` and `1 − ratio` as the float32 scalars torchvision multiplies by. */
function blendWeights(ratio: number): [number, number] {
  return [f32(ratio), f32(1 - ratio)];
}

/** `_blend(a, b, ratio)` for every pair of 8-bit values: index `a * 256 + b`. */
function blendTable(ratio: number): Uint8Array {
  const [r, rest] = blendWeights(ratio);
  const table = new Uint8Array(65536);
  const bs = new Float32Array(256);
  for (let b = 0; b < 256; b++) bs[b] = f32(rest * b);
  for (let a = 0; a < 256; a++) {
    const ra = f32(r * a);
    const row = a * 256;
    for (let b = 0; b < 256; b++) {
      const v = f32(ra + bs[b]!);
      table[row + b] = v <= 0 ? 0 : v >= 255 ? 255 : Math.trunc(v);
    }
  }
  return table;
}

/**
 * One lookup table per colour channel (or one for all) applied to the colour channels; alpha copied.
 */
function mapColours(image: RawImage, luts: readonly Uint8Array[]): RawImage {
  const { data, channels } = image;
  const out = blank(image.width, image.height, channels);
  const o = out.data;
  const colours = colourChannels(channels);
  if (channels === colours && luts.length === 1) {
    const lut = luts[0]!;
    for (let i = 0; i < data.length; i++) o[i] = lut[data[i]!]!;
    return out;
  }
  for (let c = 0; c < channels; c++) {
    const lut = c < colours ? luts[luts.length === 1 ? 0 : c]! : undefined;
    if (lut) for (let i = c; i < data.length; i += channels) o[i] = lut[data[i]!]!;
    else for (let i = c; i < data.length; i += channels) o[i] = data[i]!;
  }
  return out;
}

/** float32 `w * v` for v = 0..255. */
function scaledTable(w: number): Float32Array {
  const t = new Float32Array(256);
  const fw = f32(w);
  for (let v = 0; v < 256; v++) t[v] = f32(fw * v);
  return t;
}

// rgb_to_grayscale's weights, as float32 products per 8-bit value.
const GREY_R = scaledTable(0.2989);
const GREY_G = scaledTable(0.587);
const GREY_B = scaledTable(0.114);

/** rgb_to_grayscale's 8-bit luma of one pixel: float32 weighted sum, truncated. */
function luma(r: number, g: number, b: number): number {
  return Math.trunc(f32(f32(GREY_R[r]! + GREY_G[g]!) + GREY_B[b]!));
}

/**
 * `F.adjust_brightness`: `_blend(img, 0, factor)`, a lookup table.
 * @example adjustBrightness(image, 1.3) // 30 % brighter, clipped at 255
 */
export function adjustBrightness(image: RawImage, factor: number): RawImage {
  const lut = new Uint8Array(256);
  const [r, rest] = blendWeights(factor);
  for (let v = 0; v < 256; v++) lut[v] = blendValue(v, 0, r, rest);
  return mapColours(image, [lut]);
}

/**
 * `F.adjust_contrast`: `_blend(img, mean, factor)`, where `mean` is the float32 mean of the image's
 * 8-bit grey (`rgb_to_grayscale`, truncated) over all pixels, or of the grey channel itself.
 */
export function adjustContrast(image: RawImage, factor: number): RawImage {
  const { data, channels } = image;
  const pixels = image.width * image.height;
  let sum = 0;
  if (colourChannels(channels) === 3) {
    for (let i = 0; i < data.length; i += channels) sum += luma(data[i]!, data[i + 1]!, data[i + 2]!);
  } else {
    for (let i = 0; i < data.length; i += channels) sum += data[i]!;
  }
  const mean = pixels === 0 ? 0 : f32(f32(sum) / pixels);
  const [r, rest] = blendWeights(factor);
  const restMean = f32(rest * mean);
  const lut = new Uint8Array(256);
  for (let v = 0; v < 256; v++) {
    const x = f32(f32(r * v) + restMean);
    lut[v] = x <= 0 ? 0 : x >= 255 ? 255 : Math.trunc(x);
  }
  return mapColours(image, [lut]);
}

/**
 * `F.adjust_saturation`: `_blend(img, rgb_to_grayscale(img), factor)` per pixel; grey is returned
 * unchanged (as torchvision does).
 */
export function adjustSaturation(image: RawImage, factor: number): RawImage {
  if (colourChannels(image.channels) === 1) return copy(image);
  const table = blendTable(factor);
  const { data, channels } = image;
  const out = blank(image.width, image.height, channels);
  const o = out.data;
  for (let i = 0; i < data.length; i += channels) {
    const r = data[i]!;
    const g = data[i + 1]!;
    const b = data[i + 2]!;
    const grey = luma(r, g, b);
    o[i] = table[r * 256 + grey]!;
    o[i + 1] = table[g * 256 + grey]!;
    o[i + 2] = table[b * 256 + grey]!;
    if (channels === 4) o[i + 3] = data[i + 3]!;
  }
  return out;
}

/**
 * `F.adjust_hue`: float32 RGB → HSV (`_rgb2hsv`), hue shifted by `factor` (a fraction of the
 * circle, in [−0.5, 0.5]) modulo 1, HSV → RGB (`_hsv2rgb`), × 255 truncated. Grey is unchanged.
 */
export function adjustHue(image: RawImage, factor: number): RawImage {
  if (colourChannels(image.channels) === 1) return copy(image);
  const shift = f32(factor);
  const { data, channels } = image;
  const out = blank(image.width, image.height, channels);
  const o = out.data;
  const unit = new Float32Array(256);
  for (let v = 0; v < 256; v++) unit[v] = f32(v / 255);
  for (let i = 0; i < data.length; i += channels) {
    const r = unit[data[i]!]!;
    const g = unit[data[i + 1]!]!;
    const b = unit[data[i + 2]!]!;
    // _rgb2hsv
    const maxc = Math.max(r, g, b);
    const minc = Math.min(r, g, b);
    const equal = maxc === minc;
    const cr = f32(maxc - minc);
    const s = f32(cr / (equal ? 1 : maxc));
    const divisor = equal ? 1 : cr;
    const rc = f32(f32(maxc - r) / divisor);
    const gc = f32(f32(maxc - g) / divisor);
    const bc = f32(f32(maxc - b) / divisor);
    let h: number;
    if (maxc === r) h = f32(bc - gc);
    else if (maxc === g) h = f32(f32(2 + rc) - bc);
    else h = f32(f32(4 + gc) - rc);
    h = f32(f32(h / 6) + 1) % 1;
    // (h + factor) % 1.0: torch.remainder, the sign of the divisor
    h = f32(h + shift);
    let m = h % 1;
    if (m !== 0 && m < 0) m = f32(m + 1);
    h = m;
    // _hsv2rgb
    const h6 = f32(h * 6);
    const sector = Math.floor(h6);
    const frac = f32(h6 - sector);
    const v = maxc;
    const p = clamp01(f32(v * f32(1 - s)));
    const q = clamp01(f32(v * f32(1 - f32(s * frac))));
    const t = clamp01(f32(v * f32(1 - f32(s * f32(1 - frac)))));
    const k = sector % 6;
    const ro = k === 0 || k === 5 ? v : k === 1 ? q : k === 4 ? t : p;
    const go = k === 1 || k === 2 ? v : k === 0 ? t : k === 3 ? q : p;
    const bo = k === 3 || k === 4 ? v : k === 2 ? t : k === 5 ? q : p;
    o[i] = Math.trunc(f32(ro * 255));
    o[i + 1] = Math.trunc(f32(go * 255));
    o[i + 2] = Math.trunc(f32(bo * 255));
    if (channels === 4) o[i + 3] = data[i + 3]!;
  }
  return out;
}

function clamp01(v: number): number {
  return v < 0 ? 0 : v > 1 ? 1 : v;
}

/**
 * `F.adjust_sharpness`: `_blend(img, blurred, factor)`, where `blurred` is the 3×3 kernel
 * [[1,1,1],[1,5,1],[1,1,1]]/13 rounded to 8 bits inside the image and the image itself on its
 * one-pixel border (`_blurred_degenerate_image`). Images of width or height ≤ 2 are unchanged.
 */
export function adjustSharpness(image: RawImage, factor: number): RawImage {
  const { data, width, height, channels } = image;
  if (width <= 2 || height <= 2) return copy(image);
  const table = blendTable(factor);
  const out = blank(width, height, channels);
  const o = out.data;
  const colours = colourChannels(channels);
  const row = width * channels;
  for (let c = 0; c < channels; c++) {
    if (c >= colours) {
      for (let i = c; i < data.length; i += channels) o[i] = data[i]!;
      continue;
    }
    for (let y = 0; y < height; y++) {
      const border = y === 0 || y === height - 1;
      for (let x = 0; x < width; x++) {
        const i = y * row + x * channels + c;
        const v = data[i]!;
        let blurred = v;
        if (!border && x !== 0 && x !== width - 1) {
          const up = i - row;
          const down = i + row;
          const sum =
            data[up - channels]! + data[up]! + data[up + channels]! +
            data[i - channels]! + 5 * v + data[i + channels]! +
            data[down - channels]! + data[down]! + data[down + channels]!;
          // torch.round of sum / 13: never a tie, since 2 · sum is never an odd multiple of 13.
          blurred = Math.floor((2 * sum + 13) / 26);
        }
        o[i] = table[v * 256 + blurred]!;
      }
    }
  }
  return out;
}

/**
 * `F.adjust_gamma`: `gain · (v / 255) ^ gamma` in float32, clamped to [0, 1], then × 255.999
 * truncated (`convert_image_dtype`), a lookup table.
 */
export function adjustGamma(image: RawImage, gamma: number, gain = 1): RawImage {
  const g = f32(gamma);
  const k = f32(gain);
  const scale = f32(255.999);
  const lut = new Uint8Array(256);
  for (let v = 0; v < 256; v++) {
    const x = f32(v / 255);
    // torch's pow special-cases a cube as two float32 products; powf is correctly rounded.
    const powered = g === 3 ? f32(f32(x * x) * x) : f32(Math.pow(x, g));
    const y = clamp01(f32(k * powered));
    lut[v] = Math.trunc(f32(y * scale));
  }
  return mapColours(image, [lut]);
}

/** `F.posterize`: keeps the top `bits` (1–8) bits of each value. */
export function posterize(image: RawImage, bits: number): RawImage {
  const mask = -(2 ** (8 - bits)) & 0xff;
  const lut = new Uint8Array(256);
  for (let v = 0; v < 256; v++) lut[v] = v & mask;
  return mapColours(image, [lut]);
}

/** `F.solarize`: values `>= threshold` inverted. */
export function solarize(image: RawImage, threshold: number): RawImage {
  const lut = new Uint8Array(256);
  for (let v = 0; v < 256; v++) lut[v] = v >= threshold ? 255 - v : v;
  return mapColours(image, [lut]);
}

/**
 * `F.autocontrast`: each colour channel stretched from its own [min, max] to [0, 255] (float32
 * scale, truncated); a flat channel is unchanged.
 */
export function autocontrast(image: RawImage): RawImage {
  const { data, channels } = image;
  const colours = colourChannels(channels);
  const luts: Uint8Array[] = [];
  for (let c = 0; c < colours; c++) {
    let lo = 255;
    let hi = 0;
    for (let i = c; i < data.length; i += channels) {
      const v = data[i]!;
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
    const lut = new Uint8Array(256);
    // `bound / (max − min)` with a tensor divisor is torch's `reciprocal() * bound`: two roundings.
    const scale = hi > lo ? f32(f32(1 / (hi - lo)) * 255) : 1;
    const min = hi > lo ? lo : 0;
    for (let v = 0; v < 256; v++) {
      const x = f32((v - min) * scale);
      lut[v] = x <= 0 ? 0 : x >= 255 ? 255 : Math.trunc(x);
    }
    luts.push(lut);
  }
  return mapColours(image, luts);
}

/**
 * `F.equalize`: per colour channel, torchvision's histogram table (`_scale_channel`): `step` is
 * ⌊(pixels − count of the highest value present) / 255⌋; a channel with step 0 is unchanged;
 * otherwise value v maps to ⌊(cumulative count below v + ⌊step/2⌋) / step⌋, clamped to 255.
 */
export function equalize(image: RawImage): RawImage {
  const { data, channels } = image;
  const colours = colourChannels(channels);
  const luts: Uint8Array[] = [];
  for (let c = 0; c < colours; c++) {
    const hist = new Float64Array(256);
    for (let i = c; i < data.length; i += channels) hist[data[i]!]!++;
    let last = 255;
    while (last > 0 && hist[last] === 0) last--;
    const total = data.length / channels;
    const step = Math.floor((total - hist[last]!) / 255);
    const lut = new Uint8Array(256);
    if (step === 0) {
      for (let v = 0; v < 256; v++) lut[v] = v;
    } else {
      let below = 0;
      for (let v = 0; v < 256; v++) {
        lut[v] = Math.min(255, Math.floor((below + Math.floor(step / 2)) / step));
        below += hist[v]!;
      }
    }
    luts.push(lut);
  }
  return mapColours(image, luts);
}

/** `F.invert`: 255 − v. */
export function invert(image: RawImage): RawImage {
  const lut = new Uint8Array(256);
  for (let v = 0; v < 256; v++) lut[v] = 255 - v;
  return mapColours(image, [lut]);
}

/**
 * `F.rgb_to_grayscale`: luma 0.2989 R + 0.587 G + 0.114 B in float32, truncated, as `channels`
 * (1, or 3 equal) channels; alpha kept. Grey input gives its grey value in `channels` channels
 * (as torchvision's PIL backend; the tensor backend keeps a grey tensor at one channel).
 */
export function rgbToGrayscale(image: RawImage, channels: 1 | 3): RawImage {
  const { data, channels: inChannels } = image;
  const alpha = inChannels === 2 || inChannels === 4;
  const outChannels = (channels + (alpha ? 1 : 0)) as RawImage['channels'];
  const out = blank(image.width, image.height, outChannels);
  const o = out.data;
  const colour = colourChannels(inChannels) === 3;
  for (let i = 0, j = 0; i < data.length; i += inChannels, j += outChannels) {
    const grey = colour ? luma(data[i]!, data[i + 1]!, data[i + 2]!) : data[i]!;
    o[j] = grey;
    if (channels === 3) {
      o[j + 1] = grey;
      o[j + 2] = grey;
    }
    if (alpha) o[j + channels] = data[i + inChannels - 1]!;
  }
  return out;
}
