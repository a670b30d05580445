import assert from 'node:assert/strict';
import sharp from 'sharp';
import { greyAlphaFromRgba } from '../../../services/shared/intake.ts';
import type { OpContext, Operation, RawImage, Rng } from '../../../services/augment/ops/types.ts';
import { createRng } from '../../../services/augment/random.ts';

export const CHANNELS = [1, 2, 3, 4] as const;

/**
 * A test image with distinct neighbouring values in every channel (gradient plus seeded noise),
 * round-tripped through PNG so the tests work on pixels sharp really decoded.
 */
export async function makeImage(width: number, height: number, channels: RawImage['channels'], seed = 1): Promise<RawImage> {
  const rng = createRng(seed);
  const pixels = Buffer.alloc(width * height * channels);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      for (let k = 0; k < channels; k++) {
        const i = (y * width + x) * channels + k;
        // Alpha stays well above 0 so premultiplied resampling keeps the colour it carries.
        const isAlpha = (channels === 2 || channels === 4) && k === channels - 1;
        pixels[i] = isAlpha ? 128 + ((x * 5 + y * 3) % 128) : (x * 11 + y * 29 + k * 67 + rng.int(0, 9)) & 255;
      }
    }
  }
  const png = await sharp(pixels, { raw: { width, height, channels } }).png().toBuffer();
  return decode(png, channels);
}

async function decode(encoded: Buffer, channels: RawImage['channels']): Promise<RawImage> {
  let pipeline = sharp(encoded);
  if (channels === 1) pipeline = pipeline.toColourspace('b-w');
  if (channels === 2) pipeline = pipeline.ensureAlpha();
  const { data, info } = await pipeline.raw().toBuffer({ resolveWithObject: true });
  const raw = channels === 2 && info.channels === 4 ? greyAlphaFromRgba(data) : data;
  assert.equal(raw.length, info.width * info.height * channels, 'decoded channel count');
  return { data: raw, width: info.width, height: info.height, channels };
}

export function pixelAt(image: RawImage, x: number, y: number): number[] {
  const i = (y * image.width + x) * image.channels;
  return [...image.data.subarray(i, i + image.channels)];
}

/** Builds the expected image pixel by pixel: out(x, y) = source(map(x, y)). */
export function remap(
  source: RawImage,
  width: number,
  height: number,
  map: (x: number, y: number) => [number, number],
): RawImage {
  const c = source.channels;
  const data = Buffer.alloc(width * height * c);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const [sx, sy] = map(x, y);
      source.data.copy(data, (y * width + x) * c, (sy * source.width + sx) * c, (sy * source.width + sx + 1) * c);
    }
  }
  return { data, width, height, channels: c };
}

export function assertSameImage(actual: RawImage, expected: RawImage, message?: string): void {
  assert.deepEqual(
    { width: actual.width, height: actual.height, channels: actual.channels },
    { width: expected.width, height: expected.height, channels: expected.channels },
    message,
  );
  assert.ok(actual.data.equals(expected.data), message ?? 'pixels differ');
}

/** Fails the test when anything draws from it: resolved parameters need no randomness. */
export const noDraws: Rng = new Proxy({} as Rng, {
  get: () => () => assert.fail('resolved parameters drew a random number'),
});

/** Asserts that `fn` throws an error with this code. */
export function assertCode(fn: () => unknown, code: string): void {
  assert.throws(fn, (err: unknown) => {
    assert.equal((err as { code?: string }).code, code);
    return true;
  });
}

/**
 * The seed contract every operation keeps: the same seed gives identical resolved parameters and
 * identical bytes, and the resolved parameters, sent back as JSON, reproduce the pixels without a
 * single draw.
 */
export async function assertSeededAndReplayable<Req, Res>(
  op: Operation<Req, Res>,
  image: RawImage,
  params: Req,
  ctx: OpContext = {},
  seeds: readonly number[] = [0, 1, 42, 0xffffffff],
): Promise<void> {
  const size = { width: image.width, height: image.height };
  for (const seed of seeds) {
    const first = op.sample(createRng(seed), size, params, ctx);
    const second = op.sample(createRng(seed), size, params, ctx);
    assert.deepEqual(second, first, `seed ${seed}: resolved parameters`);
    const a = await op.apply(image, first, ctx);
    const b = await op.apply(image, second, ctx);
    assert.ok(a.data.equals(b.data), `seed ${seed}: bytes`);

    const sentBack = JSON.parse(JSON.stringify(first)) as Req;
    const replayed = op.sample(noDraws, size, { ...params, ...sentBack }, ctx);
    assert.deepEqual(replayed, first, `seed ${seed}: replayed parameters`);
    assertSameImage(await op.apply(image, replayed, ctx), a, `seed ${seed}: replayed pixels`);
  }
}
