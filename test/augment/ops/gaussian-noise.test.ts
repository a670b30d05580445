import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import sharp from 'sharp';
import { gaussianNoise } from '../../../services/augment/ops/gaussian-noise.ts';
import { createRng } from '../../../services/augment/random.ts';
import { asFields, assertRefused, augmentPng, filtersApp } from './filters-support.ts';

const W = 128;
const H = 96;

/** Mean and standard deviation of (out − in) over every value. */
function shiftStats(out: Buffer, input: Buffer) {
  let sum = 0;
  let squares = 0;
  for (let i = 0; i < out.length; i++) {
    const d = out[i]! - input[i]!;
    sum += d;
    squares += d * d;
  }
  const mean = sum / out.length;
  return { mean, std: Math.sqrt(squares / out.length - mean * mean) };
}

describe('gaussian_noise', () => {
  let app: FastifyInstance;
  let grey: Buffer;
  before(async () => {
    app = await filtersApp();
    // Mid-grey RGB: sigma up to 30 stays clear of 0 and 255 (4 σ).
    grey = await sharp({ create: { width: W, height: H, channels: 3, background: { r: 128, g: 128, b: 128 } } }).png().toBuffer();
  });
  after(() => app.close());

  for (const [sigma, mean] of [[5, 0], [20, 0], [12, 8], [25, -10]] as const) {
    test(`sigma ${sigma}, mean ${mean}: measured mean and std of (out − in) within ±10 % (seed 5)`, async (t) => {
      const { raw, params } = await augmentPng(app, 'gaussian_noise', grey, { sigma, mean, seed: 5 });
      assert.equal(params.sigma, sigma);
      assert.equal(params.mean, mean);
      assert.equal(params.per_channel, true);
      const s = shiftStats(raw.data, Buffer.alloc(raw.data.length, 128));
      t.diagnostic(`measured mean ${s.mean.toFixed(3)}, std ${s.std.toFixed(3)}`);
      assert.ok(Math.abs(s.std - sigma) <= 0.1 * sigma, `std ${s.std}`);
      // ±10 % of the mean, or 10 % of σ where the mean is 0.
      assert.ok(Math.abs(s.mean - mean) <= 0.1 * Math.max(Math.abs(mean), sigma), `mean ${s.mean}`);
    });
  }

  test('per_channel false adds one value per pixel to all its channels; true draws them apart', async () => {
    const same = await augmentPng(app, 'gaussian_noise', grey, { sigma: 15, per_channel: false, seed: 3 });
    const apart = await augmentPng(app, 'gaussian_noise', grey, { sigma: 15, per_channel: true, seed: 3 });
    let equalSame = 0;
    let equalApart = 0;
    for (let p = 0; p < W * H * 3; p += 3) {
      if (same.raw.data[p] === same.raw.data[p + 1] && same.raw.data[p] === same.raw.data[p + 2]) equalSame++;
      if (apart.raw.data[p] === apart.raw.data[p + 1] && apart.raw.data[p] === apart.raw.data[p + 2]) equalApart++;
    }
    assert.equal(equalSame, W * H);
    assert.ok(equalApart < W * H * 0.05, `${equalApart} pixels with equal channels`);
  });

  test('same seed, same bytes; applied params (noise_seed included) sent back with another seed give the same bytes', async () => {
    const first = await augmentPng(app, 'gaussian_noise', grey, { seed: 21 });
    const again = await augmentPng(app, 'gaussian_noise', grey, { seed: 21 });
    assert.deepEqual(again.bytes, first.bytes);
    assert.deepEqual(Object.keys(first.params).sort(), ['mean', 'noise_seed', 'per_channel', 'sigma']);
    const { sigma } = first.params as { sigma: number };
    assert.ok(sigma >= 0 && sigma < 25, `default sigma_range 0,25: ${sigma}`);
    const replay = await augmentPng(app, 'gaussian_noise', grey, { seed: 4000, ...asFields(first.params) });
    assert.deepEqual(replay.bytes, first.bytes);
    const other = await augmentPng(app, 'gaussian_noise', grey, { seed: 22 });
    assert.notDeepEqual(other.bytes, first.bytes);
  });

  test('alpha is kept, grey stays one channel', async () => {
    const rgba = { data: Buffer.alloc(8 * 8 * 4, 100), width: 8, height: 8, channels: 4 as const };
    const out = await gaussianNoise.apply(rgba, gaussianNoise.sample(createRng(1), rgba, { sigma: 20 }, {}), {});
    for (let p = 3; p < out.data.length; p += 4) assert.equal(out.data[p], 100);
    assert.ok(out.data.some((v, i) => i % 4 !== 3 && v !== 100));
    const g = { data: Buffer.alloc(64, 100), width: 8, height: 8, channels: 1 as const };
    assert.equal((await gaussianNoise.apply(g, { sigma: 5, mean: 0, per_channel: true, noise_seed: 1 }, {})).channels, 1);
  });

  test('bad input is a 400 naming the field', async () => {
    await assertRefused(app, 'gaussian_noise', grey, { sigma: -1 }, 'AUG_INVALID_PARAM', 'sigma');
    await assertRefused(app, 'gaussian_noise', grey, { sigma_range: '20,10' }, 'AUG_INVALID_RANGE', 'sigma_range');
    await assertRefused(app, 'gaussian_noise', grey, { per_channel: 'maybe' }, 'AUG_INVALID_PARAM', 'per_channel');
    await assertRefused(app, 'gaussian_noise', grey, { noise_seed: -3 }, 'AUG_INVALID_PARAM', 'noise_seed');
  });
});
