import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import sharp from 'sharp';
import { buildAugmentApp } from '../../../services/augment/app.ts';
import { readAugmentConfig } from '../../../services/augment/config.ts';
import { mixup } from '../../../services/augment/ops/mixup.ts';
import { RESIZE_KERNEL } from '../../../services/augment/ops/raster.ts';
import { createRng } from '../../../services/augment/random.ts';
import { form } from '../../helpers/form.ts';
import { makeImage, pixels } from '../../helpers/images.ts';

const W = 48;
const H = 36;

describe('POST /v1/augment/mixup', () => {
  let app: FastifyInstance;
  let image: Buffer;
  let mix: Buffer;
  before(async () => {
    app = await buildAugmentApp(readAugmentConfig({ LOG_LEVEL: 'silent' }));
    image = await makeImage(W, H, 'png');
    // Another size and orientation, so that the stretch matters.
    mix = await sharp(await makeImage(30, 50, 'png')).rotate(90).png().toBuffer();
  });
  after(() => app.close());

  const post = (fields: Record<string, string | number | Buffer | Buffer[] | undefined>) =>
    app.inject({ method: 'POST', url: '/v1/augment/mixup', headers: { accept: 'application/json' }, body: form({ image, mix_image: mix, format: 'png', ...fields }) });

  test('pixels are round(λ·image + (1−λ)·stretched mix_image), on decoded pixels', async () => {
    const stretched = await sharp(mix).resize(W, H, { fit: 'fill', kernel: RESIZE_KERNEL, fastShrinkOnLoad: false }).raw().toBuffer();
    const a = await pixels(image);
    for (const seed of [1, 2, 3]) {
      const res = await post({ seed, alpha: 0.7 });
      assert.equal(res.statusCode, 200, res.body);
      const { lambda } = res.json().params;
      assert.ok(lambda > 0 && lambda < 1, String(lambda));
      const out = await pixels(Buffer.from(res.json().image, 'base64'));
      assert.deepEqual([out.width, out.height, out.channels], [W, H, 3]);
      let checked = 0;
      for (let i = 0; i < out.data.length; i++) {
        assert.equal(out.data[i], Math.round(lambda * a.data[i]! + (1 - lambda) * stretched[i]!), `seed ${seed}, byte ${i}`);
        checked++;
      }
      assert.equal(checked, W * H * 3);
    }
  });

  test('λ ~ Beta(α, α): α = 32 stays near 0.5, α = 0.2 reaches both ends (seeds 0..399)', async () => {
    const ctx = { mix: (await pixels(mix)) as never };
    const draw = (alpha: number) => Array.from({ length: 400 }, (_, seed) => mixup.sample(createRng(seed), { width: W, height: H }, { alpha }, ctx).lambda);
    const tight = draw(32);
    // Beta(32, 32) has standard deviation √(1/260) ≈ 0.062: 400 draws stay within 4 of it.
    assert.ok(tight.every((l) => l > 0.25 && l < 0.75), `α=32: ${Math.min(...tight)}..${Math.max(...tight)}`);
    const mean = tight.reduce((s, l) => s + l, 0) / tight.length;
    const sd = Math.sqrt(tight.reduce((s, l) => s + (l - mean) ** 2, 0) / tight.length);
    assert.ok(Math.abs(mean - 0.5) < 0.02 && Math.abs(sd - 0.062) < 0.01, `α=32 mean ${mean}, sd ${sd}`);
    const loose = draw(0.2);
    assert.ok(loose.filter((l) => l < 0.05).length > 80, 'α=0.2: many λ near 0');
    assert.ok(loose.filter((l) => l > 0.95).length > 80, 'α=0.2: many λ near 1');
    assert.ok(loose.every((l) => l >= 0 && l <= 1));
  });

  test('label_vector: λ at label, 1−λ at mix_label, summed when equal', async () => {
    const res = await post({ seed: 4, label: 1, mix_label: 3, num_classes: 4 });
    const { lambda, label_vector } = res.json().params;
    assert.deepEqual(label_vector, [0, lambda, 0, 1 - lambda]);
    const same = (await post({ lambda: 0.25, label: 2, mix_label: 2, num_classes: 3 })).json().params;
    assert.deepEqual(same.label_vector, [0, 0, 1]);
  });

  test('replay: the applied params sent back give the same bytes', async () => {
    const first = await post({ seed: 9, alpha: 2, label: 0, mix_label: 1, num_classes: 2 });
    const { params } = first.json();
    const again = await post({ lambda: params.lambda, label: 0, mix_label: 1, num_classes: 2, label_vector: JSON.stringify(params.label_vector) });
    assert.equal(again.statusCode, 200);
    assert.equal(again.json().image, first.json().image);
    assert.deepEqual(again.json().params, params);
  });

  test('both images\' boxes and keypoints are kept: the mix image\'s scaled by the stretch and numbered after the image\'s; masks image first, then mix', async () => {
    const mixMeta = await sharp(mix).metadata();
    const [mw, mh] = [mixMeta.width!, mixMeta.height!];
    const maskOf = (w: number, h: number, v: number) => sharp(Buffer.alloc(w * h, v), { raw: { width: w, height: h, channels: 1 } }).toColourspace('b-w').png().toBuffer();
    const res = await post({
      lambda: 0.5,
      bboxes: JSON.stringify([[1, 2, 10, 12], [20, 5, 30, 30]]),
      bbox_labels: JSON.stringify(['a', 'b']),
      keypoints: JSON.stringify([[4, 4]]),
      mix_bboxes: JSON.stringify([[0, 0, mw / 2, mh / 2]]),
      mix_bbox_labels: JSON.stringify(['m']),
      mix_keypoints: JSON.stringify([[mw / 4, mh / 4]]),
      mask: await maskOf(W, H, 7),
      mix_mask: [await maskOf(mw, mh, 9), await maskOf(mw, mh, 11)],
    });
    assert.equal(res.statusCode, 200, res.body);
    const { targets } = res.json();
    assert.deepEqual(targets.bbox_indices, [0, 1, 2]);
    assert.deepEqual(targets.bbox_labels, ['a', 'b', 'm']);
    assert.deepEqual(targets.bboxes[0], [1, 2, 10, 12]);
    // libvips' enlargement shifts by half a pixel (ops/geometry.ts resizing); W/mw and H/mh are the stretch.
    const sx = W / mw;
    const sy = H / mh;
    const shift = (s: number) => (s > 1 ? 0.5 : 0);
    assert.deepEqual(targets.bboxes[2], [shift(sx), shift(sy), (mw / 2) * sx + shift(sx), (mh / 2) * sy + shift(sy)].map((v) => Math.round(v * 1e9) / 1e9));
    assert.deepEqual(targets.keypoint_indices, [0, 1]);
    assert.deepEqual(targets.keypoints[1], [(mw / 4) * sx + shift(sx), (mh / 4) * sy + shift(sy)].map((v) => Math.round(v * 1e9) / 1e9));
    assert.equal(targets.masks.length, 3);
    const values = await Promise.all(targets.masks.map(async (m: string) => [...new Set((await pixels(Buffer.from(m, 'base64'))).data)]));
    assert.deepEqual(values, [[7], [9], [11]]);
  });

  test('bad input: 400 problem+json naming the field', async () => {
    const cases: Array<[Record<string, string | number | Buffer | Buffer[] | undefined>, string]> = [
      [{ lambda: 1.5 }, 'lambda'],
      [{ alpha: 0 }, 'alpha'],
      [{ mix_image: undefined }, 'mix_image'],
      [{ mix_image: [mix, mix] }, 'mix_image'],
      [{ label: 1 }, 'label'],
    ];
    for (const [fields, name] of cases) {
      const res = await post(fields);
      assert.equal(res.statusCode, 400, JSON.stringify(fields));
      assert.equal(res.headers['content-type'], 'application/problem+json; charset=utf-8');
      const problem = res.json();
      assert.ok(problem.param === name || problem.detail.includes(name), `${JSON.stringify(fields)}: ${problem.detail}`);
    }
  });
});
