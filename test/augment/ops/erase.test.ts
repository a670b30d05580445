import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { ERASE_ATTEMPTS, erase } from '../../../services/augment/ops/erase.ts';
import type { Box } from '../../../services/augment/ops/types.ts';
import { createRng } from '../../../services/augment/random.ts';
import { form } from '../../helpers/form.ts';
import { assertCloseToTorchvision, decodeRaw, expectedBytes, inputBytes, torchvisionCases } from '../../helpers/torchvision.ts';
import { decodeMask, greyPng, paintBoxes } from '../targets-support.ts';
import { asFields, assertRefused, augmentPng, filtersApp } from './filters-support.ts';

describe('erase', () => {
  let app: FastifyInstance;
  before(async () => {
    app = await filtersApp();
  });
  after(() => app.close());

  for (const c of torchvisionCases('filters').filter((c) => c.op === 'erase')) {
    test(`${c.name}: torchvision's F.erase with the box, through the HTTP route`, async (t) => {
      const { raw, params } = await augmentPng(app, 'erase', inputBytes(c.input), asFields(c.params));
      assert.deepEqual(params, c.params);
      const d = assertCloseToTorchvision(raw, await decodeRaw(expectedBytes('filters', c.name)), c.tolerance, c.name);
      t.diagnostic(`mean |difference| ${d.mean.toFixed(4)}, max ${d.max}`);
    });
  }

  test("sampling is RandomErasing.get_params: area share in scale_range, h/w ratio in ratio_range, inside the image; ten misses erase nothing", () => {
    const size = { width: 96, height: 72 };
    const area = size.width * size.height;
    for (let seed = 0; seed < 300; seed++) {
      const { box: [x1, y1, x2, y2], value } = erase.sample(createRng(seed), size, {}, {});
      assert.equal(value, '#000000');
      const [w, h] = [x2 - x1, y2 - y1];
      assert.ok(x1 >= 0 && y1 >= 0 && x2 <= size.width && y2 <= size.height && h < size.height && w < size.width, `seed ${seed}: ${[x1, y1, x2, y2]}`);
      if (w === 0) continue;
      // h·w is the sampled area up to the rounding of both sides.
      assert.ok((h * w) / area <= 0.33 + (h + w + 1) / area && (h * w) / area >= 0.02 - (h + w) / area, `seed ${seed}: ${w}×${h}`);
      assert.ok(h / w <= 3.3 * (1 + 2 / Math.min(h, w)) && h / w >= 0.3 / (1 + 2 / Math.min(h, w)), `seed ${seed}: ratio ${h / w}`);
    }
    // Areas that can never fit: ten tries, then the whole image unerased (an empty box).
    assert.deepEqual(erase.sample(createRng(1), size, { scale_range: [0.99, 1], ratio_range: [5, 5] }, {}).box, [0, 0, 0, 0]);
    assert.equal(ERASE_ATTEMPTS, 10);
  });

  test("the draws are torchvision's: a fixed area and ratio give h = round(√(area·r)), w = round(√(area/r))", () => {
    const size = { width: 200, height: 100 };
    const { box: [x1, y1, x2, y2] } = erase.sample(createRng(5), size, { scale_range: [0.1, 0.1], ratio_range: [2, 2] }, {});
    assert.deepEqual([x2 - x1, y2 - y1], [Math.round(Math.sqrt(2000 / 2)), Math.round(Math.sqrt(2000 * 2))]);
  });

  test('value random: noise from the seed, replayed by the applied params (box, value, noise_seed)', async () => {
    const image = inputBytes('photo');
    const first = await augmentPng(app, 'erase', image, { seed: 17, value: 'random', scale_range: '0.2,0.3' });
    assert.equal(first.params.value, 'random');
    assert.ok(Number.isInteger(first.params.noise_seed));
    assert.deepEqual((await augmentPng(app, 'erase', image, { seed: 17, value: 'random', scale_range: '0.2,0.3' })).bytes, first.bytes);
    const replay = await augmentPng(app, 'erase', image, { seed: 3, ...asFields(first.params) });
    assert.deepEqual(replay.bytes, first.bytes);
    // The noise covers the box with many levels; outside it the input is untouched.
    const input = await decodeRaw(image);
    const [x1, y1, x2, y2] = first.params.box as Box;
    const levels = new Set<number>();
    for (let y = 0; y < input.height; y++) {
      for (let x = 0; x < input.width; x++) {
        const i = (y * input.width + x) * 3;
        if (x >= x1 && x < x2 && y >= y1 && y < y2) levels.add(first.raw.data[i]!);
        else assert.deepEqual([...first.raw.data.subarray(i, i + 3)], [...input.data.subarray(i, i + 3)]);
      }
    }
    assert.ok(levels.size > 100, `${levels.size} levels`);
    const black = await augmentPng(app, 'erase', image, { seed: 17, scale_range: '0.2,0.3' });
    assert.deepEqual(black.params.box, first.params.box, 'value does not change the box drawn');
  });

  test('targets: the box is a Cutout hole (boxes shrink to what it leaves, masks get mask_fill, occluded keypoints on request)', async () => {
    const W = 40;
    const H = 30;
    const image = await greyPng(new Uint8Array(W * H).fill(90), W, H);
    const mask = await greyPng(paintBoxes(W, H, [{ box: [4, 6, 14, 16], value: 200 }]), W, H);
    const fields = { image, mask, bboxes: '[[4,6,14,16]]', keypoints: '[[5,7],[12,12]]', box: '0,0,9,20', mask_fill: 9, format: 'png' };
    const res = await app.inject({ method: 'POST', url: '/v1/augment/erase', body: form(fields) });
    assert.equal(res.statusCode, 200, res.body);
    const { targets, params } = res.json();
    assert.deepEqual(params, { box: [0, 0, 9, 20], value: '#000000' });
    assert.deepEqual(targets.bboxes, [[9, 6, 14, 16]]);
    assert.deepEqual(targets.keypoints, [[5, 7], [12, 12]]);
    const out = await decodeMask(targets.masks[0]);
    assert.equal(out.data[7 * W + 5], 9);
    assert.equal(out.data[7 * W + 10], 200);
    const removed = (await app.inject({ method: 'POST', url: '/v1/augment/erase', body: form({ ...fields, remove_occluded_keypoints: 'true' }) })).json().targets;
    assert.deepEqual(removed.keypoints, [[12, 12]]);
    const dropped = (await app.inject({ method: 'POST', url: '/v1/augment/erase', body: form({ ...fields, min_visibility: 0.6 }) })).json().targets;
    assert.deepEqual(dropped.bboxes, []);
    // Nothing erased: targets pass through.
    const none = (await app.inject({ method: 'POST', url: '/v1/augment/erase', body: form({ ...fields, box: '0,0,0,0' }) })).json().targets;
    assert.deepEqual(none.bboxes, [[4, 6, 14, 16]]);
  });

  test('bad input is a 400 naming the field', async () => {
    const image = inputBytes('grey');
    await assertRefused(app, 'erase', image, { scale_range: '0.5,0.1' }, 'AUG_INVALID_RANGE', 'scale_range');
    await assertRefused(app, 'erase', image, { ratio_range: '3,0.3' }, 'AUG_INVALID_RANGE', 'ratio_range');
    await assertRefused(app, 'erase', image, { scale_range: '0.1,1.5' }, 'AUG_INVALID_PARAM', 'scale_range[1]');
    await assertRefused(app, 'erase', image, { value: 'purple' }, 'AUG_INVALID_PARAM', 'value');
    await assertRefused(app, 'erase', image, { box: '5,5,2,9' }, 'AUG_INVALID_PARAM', 'box');
  });
});
