import assert from 'node:assert/strict';
import { test } from 'node:test';
import { crop, randomResizedCropBox, roundHalfEven } from '../../../services/augment/ops/crop.ts';
import { createRng } from '../../../services/augment/random.ts';
import { CHANNELS, assertCode, assertSameImage, assertSeededAndReplayable, makeImage, remap } from './fixtures.ts';

const W = 37;
const H = 23;
const size = { width: W, height: H };

for (const channels of CHANNELS) {
  test(`crop pixels equal the source region (${channels} channels)`, async () => {
    const image = await makeImage(W, H, channels);
    const resolved = crop.sample(createRng(0), size, { x: 5, y: 3, width: 17, height: 11 }, {});
    assert.deepEqual(resolved, { x: 5, y: 3, width: 17, height: 11 });
    assertSameImage(await crop.apply(image, resolved, {}), remap(image, 17, 11, (x, y) => [x + 5, y + 3]));
  });
}

test('crop places a fixed-size crop at a random position inside the image, whole range reachable', () => {
  const xs = new Set<number>();
  for (let seed = 0; seed < 500; seed++) {
    const r = crop.sample(createRng(seed), size, { width: 30, height: 20 }, {});
    assert.ok(r.x >= 0 && r.x + 30 <= W && r.y >= 0 && r.y + 20 <= H, JSON.stringify(r));
    xs.add(r.x);
  }
  assert.equal(xs.size, W - 30 + 1);
});

test('crop with output_width/output_height resizes the crop', async () => {
  const image = await makeImage(W, H, 3);
  const resolved = crop.sample(createRng(3), size, { width: 10, height: 10, output_width: 32, output_height: 24 }, {});
  assert.equal(resolved.output_width, 32);
  const out = await crop.apply(image, resolved, {});
  assert.deepEqual([out.width, out.height, out.channels], [32, 24, 3]);
});

test('RandomResizedCrop parameters stay within bounds over many seeds', () => {
  const scales = [0.08, 1] as const;
  const ratios = [3 / 4, 4 / 3] as const;
  for (const imageSize of [size, { width: 5, height: 301 }, { width: 640, height: 480 }]) {
    for (let seed = 0; seed < 1000; seed++) {
      const r = crop.sample(createRng(seed), imageSize, {}, {});
      assert.ok(r.width >= 1 && r.height >= 1, JSON.stringify(r));
      assert.ok(r.x >= 0 && r.y >= 0 && r.x + r.width <= imageSize.width && r.y + r.height <= imageSize.height, JSON.stringify(r));
      const centred = r.x === Math.floor((imageSize.width - r.width) / 2) && r.y === Math.floor((imageSize.height - r.height) / 2);
      const fallback = centred && (r.width === imageSize.width || r.height === imageSize.height);
      if (!fallback) {
        // Rounding to whole pixels moves area and ratio a little.
        const share = (r.width * r.height) / (imageSize.width * imageSize.height);
        assert.ok(share >= scales[0] * 0.8 && share <= scales[1] * 1.05, `share ${share}`);
        const ratio = r.width / r.height;
        assert.ok(ratio >= ratios[0] * 0.8 && ratio <= ratios[1] * 1.25, `ratio ${ratio}`);
      }
    }
  }
});

test('RandomResizedCrop falls back to the centre crop clamped to the ratio range', () => {
  // No area share above 1 fits, so all attempts fail.
  const wide = randomResizedCropBox(createRng(1), { width: 60, height: 20 }, [2, 3], [3 / 4, 4 / 3]);
  assert.deepEqual(wide, { x: 16, y: 0, width: 27, height: 20 });
  const tall = randomResizedCropBox(createRng(1), { width: 20, height: 60 }, [2, 3], [3 / 4, 4 / 3]);
  assert.deepEqual(tall, { x: 0, y: 16, width: 20, height: 27 });
  const fits = randomResizedCropBox(createRng(1), { width: 30, height: 30 }, [2, 3], [3 / 4, 4 / 3]);
  assert.deepEqual(fits, { x: 0, y: 0, width: 30, height: 30 });
});

test('roundHalfEven rounds like Python', () => {
  assert.deepEqual([0.5, 1.5, 2.5, 3.5, 2.4, 2.6, 7].map(roundHalfEven), [0, 2, 2, 4, 2, 3, 7]);
});

test('crop: same seed, same bytes; resolved parameters replay', async () => {
  const image = await makeImage(W, H, 3);
  await assertSeededAndReplayable(crop, image, {});
  await assertSeededAndReplayable(crop, image, { scale_range: [0.2, 0.5], output_width: 16, output_height: 16 });
  await assertSeededAndReplayable(crop, await makeImage(W, H, 2), { width: 9, height: 21 });
});

test('crop larger than the image, or outside it, is impossible for this image (422)', () => {
  assertCode(() => crop.sample(createRng(0), size, { width: W + 1, height: 5 }, {}), 'AUG_IMPOSSIBLE_PARAM');
  assertCode(() => crop.sample(createRng(0), size, { width: 5, height: H + 1 }, {}), 'AUG_IMPOSSIBLE_PARAM');
  assertCode(() => crop.sample(createRng(0), size, { x: 30, y: 0, width: 10, height: 5 }, {}), 'AUG_IMPOSSIBLE_PARAM');
});

test('crop rejects half pairs and reversed ranges', () => {
  const cases: Array<[Parameters<typeof crop.sample>[2], string]> = [
    [{ width: 5 }, 'AUG_INVALID_PARAM'],
    [{ height: 5 }, 'AUG_INVALID_PARAM'],
    [{ x: 1, y: 1 }, 'AUG_INVALID_PARAM'],
    [{ width: 5, height: 5, x: 1 }, 'AUG_INVALID_PARAM'],
    [{ output_width: 5 }, 'AUG_INVALID_PARAM'],
    [{ width: 0, height: 5 }, 'AUG_INVALID_PARAM'],
    [{ scale_range: [0.9, 0.1] }, 'AUG_INVALID_RANGE'],
    [{ ratio_range: [2, 0.5] }, 'AUG_INVALID_RANGE'],
    [{ ratio_range: [0, 1] }, 'AUG_INVALID_RANGE'],
  ];
  for (const [params, code] of cases) assertCode(() => crop.sample(createRng(0), size, params, {}), code);
});
