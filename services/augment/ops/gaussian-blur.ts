import { InvalidParamError } from '../errors.ts';
import { expected, finite, fixedOrUniform } from './params.ts';
import { IDENTITY, affineGeometry } from './geometry.ts';
import type { Operation, Range, RawImage } from './types.ts';

export const DEFAULT_SIGMA_RANGE: Range = [0.1, 2.0];
export const MIN_KERNEL_SIZE = 3;
export const MAX_KERNEL_SIZE = 99;

export interface GaussianBlurParams {
  /** Odd side of the square kernel; absent: the smallest odd size reaching 3σ from the centre. */
  kernel_size?: number;
  sigma?: number;
  sigma_range?: Range;
}
export interface GaussianBlurResolved {
  kernel_size: number;
  sigma: number;
}

/**
 * torchvision's `F.gaussian_blur` (tensor backend) with one kernel size and one σ for both axes:
 * its separable kernel, reflect padding, float sums rounded to 8 bits. Every channel is blurred,
 * alpha included, as torchvision blurs every channel it is given.
 */
export const gaussianBlur: Operation<GaussianBlurParams, GaussianBlurResolved> = {
  name: 'gaussian_blur',
  sample(rng, _size, params) {
    const sigma = fixedOrUniform(
      rng,
      { name: 'sigma', value: params.sigma },
      { name: 'sigma_range', value: params.sigma_range, fallback: DEFAULT_SIGMA_RANGE, bounds: { lowest: 0, openLow: true } },
    );
    if (!(sigma > 0)) throw new InvalidParamError(expected('a number > 0', 'sigma', params.sigma));
    const kernel_size = params.kernel_size === undefined ? defaultKernelSize(sigma) : kernelSize(params.kernel_size);
    return { kernel_size, sigma };
  },
  async apply(image, { kernel_size, sigma }) {
    return separableBlur(image, gaussianKernel1d(kernelSize(kernel_size), finite('sigma', sigma)));
  },
  geometry(_params, size) {
    return affineGeometry(IDENTITY, size);
  },
};

function kernelSize(value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value % 2 === 0 || value < MIN_KERNEL_SIZE || value > MAX_KERNEL_SIZE) {
    throw new InvalidParamError(expected(`an odd integer from ${MIN_KERNEL_SIZE} to ${MAX_KERNEL_SIZE}`, 'kernel_size', value));
  }
  return value;
}

/** 2·⌈3σ⌉ + 1 within the allowed sizes: the kernel then holds all but ~0.3 % of the Gaussian's weight. */
export function defaultKernelSize(sigma: number): number {
  return Math.min(MAX_KERNEL_SIZE, Math.max(MIN_KERNEL_SIZE, 2 * Math.ceil(3 * sigma) + 1));
}

/** torchvision's `_get_gaussian_kernel1d`: samples at -(k-1)/2 … (k-1)/2, normalised to sum 1, in float32. */
export function gaussianKernel1d(size: number, sigma: number): Float32Array {
  const half = (size - 1) / 2;
  const pdf = new Float32Array(size);
  let sum = 0;
  for (let i = 0; i < size; i++) {
    const x = Math.fround(-half + i) / sigma;
    pdf[i] = Math.exp(-0.5 * x * x);
    sum += pdf[i]!;
  }
  for (let i = 0; i < size; i++) pdf[i] = pdf[i]! / sum;
  return pdf;
}

/** Index `i` folded into [0, n) by mirroring about the edge pixels (torch's `reflect` padding, repeated for pads ≥ n). */
function reflect(i: number, n: number): number {
  if (n === 1) return 0;
  const period = 2 * (n - 1);
  const m = ((i % period) + period) % period;
  return m < n ? m : period - m;
}

/**
 * The image convolved with `kernel` along x, then along y (the 2-D kernel is their outer product,
 * as torchvision's), reflect-padded, each value rounded to the nearest level. Rows are summed
 * whole in the vertical pass so both passes read memory in order.
 */
export function separableBlur(image: RawImage, kernel: Float32Array): RawImage {
  const { width, height, channels } = image;
  const taps = kernel.length;
  const radius = (taps - 1) / 2;
  const rowLength = width * channels;
  const across = new Float32Array(rowLength * height);
  // One channel of one row at a time, reflect-padded, so the inner loop reads consecutive floats.
  const line = new Float32Array(width + 2 * radius);
  const source = new Int32Array(width + 2 * radius);
  for (let x = 0; x < source.length; x++) source[x] = reflect(x - radius, width) * channels;
  for (let y = 0; y < height; y++) {
    const row = y * rowLength;
    for (let c = 0; c < channels; c++) {
      for (let x = 0; x < line.length; x++) line[x] = image.data[row + source[x]! + c]!;
      for (let x = 0, o = row + c; x < width; x++, o += channels) {
        let sum = 0;
        for (let t = 0; t < taps; t++) sum += kernel[t]! * line[x + t]!;
        across[o] = sum;
      }
    }
  }
  const out = Buffer.allocUnsafe(rowLength * height);
  const sums = new Float32Array(rowLength);
  for (let y = 0; y < height; y++) {
    sums.fill(0);
    for (let t = 0; t < taps; t++) {
      const weight = kernel[t]!;
      const from = reflect(y + t - radius, height) * rowLength;
      for (let i = 0; i < rowLength; i++) sums[i] = sums[i]! + weight * across[from + i]!;
    }
    const row = y * rowLength;
    for (let i = 0; i < rowLength; i++) {
      const v = Math.round(sums[i]!);
      out[row + i] = v < 0 ? 0 : v > 255 ? 255 : v;
    }
  }
  return { data: out, width, height, channels };
}
