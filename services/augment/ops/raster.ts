import sharp, { type Sharp } from 'sharp';
import { type Colour, luma } from '../colour.ts';
import { greyAlphaFromRgba } from '../../shared/intake.ts';
import type { Box, RawImage } from './types.ts';

/** sharp's default; resampling quality matters more here than the last few percent of speed. */
export const RESIZE_KERNEL = sharp.kernel.lanczos3;

/**
 * Every resize: exact size, Lanczos, and no JPEG/WebP shrink-on-load, so that a resize in a
 * pipeline still decoding the upload gives the pixels of the same resize on decoded raw pixels.
 */
export const RESIZE = { fit: 'fill', kernel: RESIZE_KERNEL, fastShrinkOnLoad: false } as const;

export function cloneImage(image: RawImage): RawImage {
  return { ...image, data: Buffer.from(image.data) };
}

/** An image of one colour (`pixel` holds one value per channel). */
export function solidImage(width: number, height: number, channels: RawImage['channels'], pixel: Uint8Array): RawImage {
  const data = Buffer.allocUnsafe(width * height * channels);
  fillBox({ data, width, height, channels }, [0, 0, width, height], pixel);
  return { data, width, height, channels };
}

/** Paints `box` with `pixel` in place: one row built once, then copied row by row. */
export function fillBox(image: RawImage, [x1, y1, x2, y2]: Box, pixel: Uint8Array): void {
  if (x1 >= x2 || y1 >= y2) return;
  const { data, width, channels } = image;
  const row = Buffer.allocUnsafe((x2 - x1) * channels);
  for (let i = 0; i < row.length; i += channels) row.set(pixel, i);
  for (let y = y1; y < y2; y++) row.copy(data, (y * width + x1) * channels);
}

/**
 * Copies the w×h window at (sx, sy) of `src` to (dx, dy) of `dst`, row by row. Both images have
 * the same channel count.
 */
export function copyWindow(
  src: RawImage,
  sx: number,
  sy: number,
  dst: RawImage,
  dx: number,
  dy: number,
  w: number,
  h: number,
): void {
  const c = src.channels;
  for (let row = 0; row < h; row++) {
    const start = ((sy + row) * src.width + sx) * c;
    src.data.copy(dst.data, ((dy + row) * dst.width + dx) * c, start, start + w * c);
  }
}

/** The region [x, x+w) × [y, y+h) as a new image. */
export function extractRegion(image: RawImage, x: number, y: number, w: number, h: number): RawImage {
  const out: RawImage = { data: Buffer.allocUnsafe(w * h * image.channels), width: w, height: h, channels: image.channels };
  copyWindow(image, x, y, out, 0, 0, w, h);
  return out;
}

/** Where a length `from` sits centred in a length `to`: offsets into each, and the overlap. */
export function centreSpan(from: number, to: number): { src: number; dst: number; len: number } {
  return from >= to
    ? { src: Math.floor((from - to) / 2), dst: 0, len: to }
    : { src: 0, dst: Math.floor((to - from) / 2), len: from };
}

/**
 * Brings an image to width×height around the same centre: crops each axis that is too long,
 * pads each that is too short with `pixel`.
 */
export function centreFit(image: RawImage, width: number, height: number, pixel: Uint8Array): RawImage {
  if (image.width === width && image.height === height) return image;
  const sx = centreSpan(image.width, width);
  const sy = centreSpan(image.height, height);
  const out =
    sx.len === width && sy.len === height
      ? { data: Buffer.allocUnsafe(width * height * image.channels), width, height, channels: image.channels }
      : solidImage(width, height, image.channels, pixel);
  copyWindow(image, sx.src, sy.src, out, sx.dst, sy.dst, sx.len, sy.len);
  return out;
}

/**
 * sharp's background for `colour` on an image with `channels` channels. Grey images get the grey
 * already computed so sharp's own conversion leaves it as is; images without alpha get an opaque
 * background, else sharp would add an alpha channel.
 */
export function sharpBackground(colour: Colour, channels: RawImage['channels']) {
  const grey = channels <= 2 ? luma(colour) : undefined;
  const alpha = channels === 2 || channels === 4 ? colour.alpha / 255 : 1;
  return { r: grey ?? colour.r, g: grey ?? colour.g, b: grey ?? colour.b, alpha };
}

/**
 * One sharp call from raw pixels to raw pixels with `channels` channels (default: the input's).
 * sharp finishes raw output of grey images in sRGB, and of grey + alpha as grey replicated into
 * RGBA, so grey is asked for explicitly and grey + alpha is taken back from RGBA.
 */
export async function viaSharp(
  image: RawImage,
  build: (pipeline: Sharp) => Sharp,
  channels: RawImage['channels'] = image.channels,
): Promise<RawImage> {
  let pipeline = build(
    sharp(image.data, { raw: { width: image.width, height: image.height, channels: image.channels } }),
  );
  if (channels === 1) pipeline = pipeline.toColourspace('b-w');
  else if (channels === 3) pipeline = pipeline.removeAlpha();
  else pipeline = pipeline.ensureAlpha();
  const { data, info } = await pipeline.raw().toBuffer({ resolveWithObject: true });
  if (channels === 2 && info.channels === 4) {
    return { data: greyAlphaFromRgba(data), width: info.width, height: info.height, channels: 2 };
  }
  if (info.channels !== channels) {
    throw new Error(`sharp returned ${info.channels} channels where ${channels} were expected`);
  }
  return { data, width: info.width, height: info.height, channels };
}
