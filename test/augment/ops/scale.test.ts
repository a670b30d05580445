import assert from 'node:assert/strict';
import { test } from 'node:test';
import { colourPixel, parseColour } from '../../../services/augment/colour.ts';
import { RESIZE_KERNEL, extractRegion, viaSharp } from '../../../services/augment/ops/raster.ts';
import { scale } from '../../../services/augment/ops/scale.ts';
import { createRng } from '../../../services/augment/random.ts';
import { CHANNELS, assertCode, assertSameImage, assertSeededAndReplayable, makeImage, pixelAt } from './fixtures.ts';

const W = 29;
const H = 19;
const size = { width: W, height: H };

for (const channels of CHANNELS) {
  for (const factor of [0.5, 0.77, 1.5, 2.31]) {
    test(`scale ${factor} sizes: keep_size keeps W×H, otherwise round(W·s)×round(H·s) (${channels} channels)`, async () => {
      const image = await makeImage(W, H, channels);
      const kept = await scale.apply(image, { factor, keep_size: true, fill: '#000000' }, {});
      assert.deepEqual([kept.width, kept.height, kept.channels], [W, H, channels]);
      const free = await scale.apply(image, { factor, keep_size: false, fill: '#000000' }, {});
      assert.deepEqual([free.width, free.height, free.channels], [Math.round(W * factor), Math.round(H * factor), channels]);
    });
  }
}

test('scale by 1 is the identity', async () => {
  const image = await makeImage(W, H, 3);
  assertSameImage(await scale.apply(image, { factor: 1, keep_size: true, fill: '#000000' }, {}), image);
});

test('scale never goes below 1×1', async () => {
  const out = await scale.apply(await makeImage(W, H, 1), { factor: 0.001, keep_size: false, fill: '#000000' }, {});
  assert.deepEqual([out.width, out.height], [1, 1]);
});

for (const [channels, fill] of [[1, 'white'], [2, '#40404080'], [3, 'red'], [4, '#00ff0080']] as const) {
  test(`scale zoom out pads with the fill around the centred image (${channels} channels, ${fill})`, async () => {
    const image = await makeImage(W, H, channels);
    const out = await scale.apply(image, { factor: 0.5, keep_size: true, fill }, {});
    const small = await scale.apply(image, { factor: 0.5, keep_size: false, fill }, {});
    const left = Math.floor((W - small.width) / 2);
    const top = Math.floor((H - small.height) / 2);
    const pixel = [...colourPixel(parseColour(fill, 'fill'), channels)];
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        const inside = x >= left && x < left + small.width && y >= top && y < top + small.height;
        assert.deepEqual(pixelAt(out, x, y), inside ? pixelAt(small, x - left, y - top) : pixel, `(${x}, ${y})`);
      }
    }
  });
}

test('scale zoom in crops the centre of the full resize', async () => {
  const image = await makeImage(W, H, 4);
  const out = await scale.apply(image, { factor: 1.7, keep_size: true, fill: '#000000' }, {});
  const full = await viaSharp(image, (s) => s.resize(Math.round(W * 1.7), Math.round(H * 1.7), { fit: 'fill', kernel: RESIZE_KERNEL }));
  const centre = extractRegion(full, Math.floor((full.width - W) / 2), Math.floor((full.height - H) / 2), W, H);
  assertSameImage(out, centre);
});

test('scale samples the factor inside factor_range (default [0.8, 1.2]), a fixed factor wins', () => {
  for (let seed = 0; seed < 200; seed++) {
    const { factor } = scale.sample(createRng(seed), size, {}, {});
    assert.ok(factor >= 0.8 && factor <= 1.2, String(factor));
  }
  assert.deepEqual(scale.sample(createRng(0), size, { factor: 3, factor_range: [0.9, 1.1] }, {}), {
    factor: 3,
    keep_size: true,
    fill: '#000000',
  });
});

test('scale: same seed, same bytes; resolved parameters replay', async () => {
  await assertSeededAndReplayable(scale, await makeImage(W, H, 3), { factor_range: [0.3, 2], fill: '#FA0' });
  await assertSeededAndReplayable(scale, await makeImage(W, H, 2), { keep_size: false });
});

test('scale rejects reversed or non-positive ranges and factors', () => {
  assertCode(() => scale.sample(createRng(0), size, { factor_range: [1.2, 0.8] }, {}), 'AUG_INVALID_RANGE');
  assertCode(() => scale.sample(createRng(0), size, { factor_range: [0, 1] }, {}), 'AUG_INVALID_RANGE');
  assertCode(() => scale.sample(createRng(0), size, { factor: 0 }, {}), 'AUG_INVALID_PARAM');
  assertCode(() => scale.sample(createRng(0), size, { keep_size: 'yes' as never }, {}), 'AUG_INVALID_PARAM');
});
