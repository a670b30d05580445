import assert from 'node:assert/strict';
import { test } from 'node:test';
import { conformMix, cutmix } from '../../../services/augment/ops/cutmix.ts';
import { RESIZE_KERNEL } from '../../../services/augment/ops/raster.ts';
import { createRng } from '../../../services/augment/random.ts';
import { CHANNELS, assertCode, assertSeededAndReplayable, makeImage, pixelAt } from './fixtures.ts';

const W = 33;
const H = 21;
const size = { width: W, height: H };

for (const channels of CHANNELS) {
  for (const mixChannels of CHANNELS) {
    test(`cutmix pastes the resized mix image's box, keeps the rest (${channels} channels, mix ${mixChannels})`, async () => {
      const image = await makeImage(W, H, channels, 1);
      const mix = await makeImage(17, 40, mixChannels, 2);
      const ctx = { mix };
      const resolved = cutmix.sample(createRng(5), size, { lambda: 0.5 }, ctx);
      const out = await cutmix.apply(image, resolved, ctx);
      assert.equal(out.channels, channels);
      const stretched = await conformMix(mix, image, (s) => s.resize(W, H, { fit: 'fill', kernel: RESIZE_KERNEL }));
      assert.deepEqual([stretched.width, stretched.height, stretched.channels], [W, H, channels]);
      const [x1, y1, x2, y2] = resolved.box;
      assert.ok(x2 > x1 && y2 > y1);
      for (let y = 0; y < H; y++) {
        for (let x = 0; x < W; x++) {
          const pasted = x >= x1 && x < x2 && y >= y1 && y < y2;
          assert.deepEqual(pixelAt(out, x, y), pixelAt(pasted ? stretched : image, x, y), `(${x}, ${y})`);
        }
      }
    });
  }
}

test('cutmix λ is 1 − box area / image area, the box inside the image, sized by √(1−λ)', async () => {
  const ctx = { mix: await makeImage(8, 8, 3) };
  for (let seed = 0; seed < 500; seed++) {
    const { box, lambda } = cutmix.sample(createRng(seed), size, {}, ctx);
    const [x1, y1, x2, y2] = box;
    assert.ok(x1 >= 0 && y1 >= 0 && x1 <= x2 && y1 <= y2 && x2 <= W && y2 <= H, JSON.stringify(box));
    assert.equal(lambda, 1 - ((x2 - x1) * (y2 - y1)) / (W * H));
  }
  // A fixed λ = 0 asks for the whole image, centred anywhere: clipping leaves at least a quarter.
  const { box } = cutmix.sample(createRng(3), size, { lambda: 0 }, ctx);
  assert.ok((box[2] - box[0]) * 2 >= W - 1 && (box[3] - box[1]) * 2 >= H - 1, JSON.stringify(box));
});

test('cutmix mixed_label is λ·onehot(label) + (1−λ)·onehot(mix_label) and sums to 1', async () => {
  const ctx = { mix: await makeImage(8, 8, 3) };
  for (let seed = 0; seed < 50; seed++) {
    const r = cutmix.sample(createRng(seed), size, { label: 2, mix_label: 4, num_classes: 5 }, ctx);
    assert.equal(r.mixed_label!.length, 5);
    assert.equal(r.mixed_label![2], r.lambda);
    assert.equal(r.mixed_label![4], 1 - r.lambda);
    assert.ok(Math.abs(r.mixed_label!.reduce((a, b) => a + b, 0) - 1) < 1e-12);
  }
  const same = cutmix.sample(createRng(1), size, { label: 1, mix_label: 1, num_classes: 3 }, ctx);
  assert.deepEqual(same.mixed_label, [0, 1, 0]);
});

test('cutmix uses a replayed box as it is, whatever alpha says', async () => {
  const ctx = { mix: await makeImage(8, 8, 3) };
  const r = cutmix.sample(createRng(0), size, { box: [3, 4, 13, 9], alpha: 0.2 }, ctx);
  assert.deepEqual(r, { box: [3, 4, 13, 9], lambda: 1 - 50 / (W * H) });
});

test('cutmix draws with a tiny α (Beta mass near 0 and 1) stay in range', async () => {
  const ctx = { mix: await makeImage(8, 8, 3) };
  for (let seed = 0; seed < 50; seed++) {
    const r = cutmix.sample(createRng(seed), size, { alpha: 0.001 }, ctx);
    assert.ok(r.lambda >= 0 && r.lambda <= 1, String(r.lambda));
  }
});

test('cutmix: same seed, same bytes; resolved parameters replay', async () => {
  const ctx = { mix: await makeImage(50, 12, 4, 3) };
  await assertSeededAndReplayable(cutmix, await makeImage(W, H, 3), { alpha: 0.4, label: 0, mix_label: 1, num_classes: 2 }, ctx);
  await assertSeededAndReplayable(cutmix, await makeImage(W, H, 1), {}, ctx);
});

test('cutmix rejects a missing mix image, bad labels and boxes', async () => {
  const ctx = { mix: await makeImage(8, 8, 3) };
  assertCode(() => cutmix.sample(createRng(0), size, {}, {}), 'AUG_INVALID_REQUEST');
  await assert.rejects(cutmix.apply(await makeImage(W, H, 3), { box: [0, 0, 2, 2], lambda: 0.99 }, {}), { code: 'AUG_INVALID_REQUEST' });
  const cases: Array<[Parameters<typeof cutmix.sample>[2], string]> = [
    [{ label: 5, mix_label: 0, num_classes: 5 }, 'AUG_INVALID_PARAM'],
    [{ label: 0, mix_label: 7, num_classes: 5 }, 'AUG_INVALID_PARAM'],
    [{ label: 0, mix_label: 1 }, 'AUG_INVALID_PARAM'],
    [{ alpha: 0 }, 'AUG_INVALID_PARAM'],
    [{ lambda: 1.5 }, 'AUG_INVALID_PARAM'],
    [{ box: [0, 0, W + 1, 4] }, 'AUG_IMPOSSIBLE_PARAM'],
    [{ box: [5, 0, 4, 4] }, 'AUG_INVALID_PARAM'],
  ];
  for (const [params, code] of cases) assertCode(() => cutmix.sample(createRng(0), size, params, ctx), code);
});
