import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { jpeg } from '../../../services/augment/ops/jpeg.ts';
import type { RawImage } from '../../../services/augment/ops/types.ts';
import { createRng } from '../../../services/augment/random.ts';
import { form } from '../../helpers/form.ts';
import { decodeRaw, difference, expectedBytes, inputBytes, torchvisionCases } from '../../helpers/torchvision.ts';
import { asFields, assertRefused, augmentPng, filtersApp } from './filters-support.ts';

function psnr(a: RawImage, b: RawImage): number {
  assert.equal(a.data.length, b.data.length);
  let squares = 0;
  for (let i = 0; i < a.data.length; i++) squares += (a.data[i]! - b.data[i]!) ** 2;
  return 10 * Math.log10((255 * 255) / (squares / a.data.length));
}

describe('jpeg', () => {
  let app: FastifyInstance;
  before(async () => {
    app = await filtersApp();
  });
  after(() => app.close());

  for (const c of torchvisionCases('filters').filter((c) => c.op === 'jpeg')) {
    const pillow = (c as unknown as { pillow_psnr: number }).pillow_psnr;
    test(`${c.name}: PSNR within 3 dB of Pillow's JPEG at the same quality (${pillow} dB), answered as PNG`, async (t) => {
      const input = await decodeRaw(inputBytes(c.input));
      const { raw, params } = await augmentPng(app, 'jpeg', inputBytes(c.input), asFields(c.params));
      assert.deepEqual(params, c.params);
      assert.equal(raw.channels, input.channels);
      const ours = psnr(raw, input);
      // Encoders need not agree pixel for pixel; the difference from Pillow's is reported, not held.
      const d = difference(raw, await decodeRaw(expectedBytes('filters', c.name)), 2);
      t.diagnostic(`ours ${ours.toFixed(3)} dB, Pillow ${pillow} dB; mean |ours − Pillow's| ${d.mean.toFixed(4)}, max ${d.max}`);
      assert.ok(Math.abs(ours - pillow) <= 3, `${ours} vs ${pillow}`);
      assert.ok(ours < 60, 'the artefacts are there');
    });
  }

  test('lower quality, more loss; quality drawn from quality_range (default 50–100, integers, both ends reachable)', async () => {
    const input = await decodeRaw(inputBytes('photo'));
    const [low, high] = (await Promise.all([10, 95].map(async (quality) => psnr((await augmentPng(app, 'jpeg', inputBytes('photo'), { quality })).raw, input)))) as [number, number];
    assert.ok(high > low + 5, `${low} ${high}`);
    const drawn = new Set(Array.from({ length: 600 }, (_, seed) => jpeg.sample(createRng(seed), { width: 4, height: 4 }, {}, {}).quality));
    assert.ok([...drawn].every((q) => Number.isInteger(q) && q >= 50 && q <= 100));
    assert.ok(drawn.has(50) && drawn.has(100), 'both ends');
    assert.deepEqual(jpeg.sample(createRng(1), { width: 4, height: 4 }, { quality_range: [30, 30] }, {}), { quality: 30 });
  });

  test('same seed, same bytes; applied quality replays; answered in the requested format', async () => {
    const image = inputBytes('portrait');
    const first = await augmentPng(app, 'jpeg', image, { seed: 8 });
    assert.deepEqual((await augmentPng(app, 'jpeg', image, { seed: 8 })).bytes, first.bytes);
    const replay = await augmentPng(app, 'jpeg', image, { seed: 1234, ...asFields(first.params) });
    assert.deepEqual(replay.bytes, first.bytes);
    // Answered as JPEG without a quality: encoded at the applied one, so the replay's bytes are the same too.
    const asJpeg = await app.inject({ method: 'POST', url: '/v1/augment/jpeg', body: form({ image, format: 'jpeg', seed: 8 }) });
    assert.equal(asJpeg.statusCode, 200, asJpeg.body);
    const applied = JSON.parse(asJpeg.headers['x-augment-params'] as string).params;
    const jpegReplay = await app.inject({ method: 'POST', url: '/v1/augment/jpeg', body: form({ image, format: 'jpeg', seed: 9, ...asFields(applied) }) });
    assert.deepEqual(jpegReplay.rawPayload, asJpeg.rawPayload);
    const webp = await app.inject({ method: 'POST', url: '/v1/augment/jpeg', body: form({ image, format: 'webp', quality: 60 }) });
    assert.equal(webp.statusCode, 200, webp.body);
    assert.equal(webp.headers['content-type'], 'image/webp');
    assert.equal(JSON.parse(webp.headers['x-augment-params'] as string).params.quality, 60);
  });

  test('alpha does not go through the JPEG and is kept', async () => {
    const rgba: RawImage = { data: Buffer.alloc(16 * 16 * 4), width: 16, height: 16, channels: 4 };
    for (let i = 0; i < rgba.data.length; i++) rgba.data[i] = (i * 37) & 255;
    const out = await jpeg.apply(rgba, { quality: 30 }, {});
    assert.equal(out.channels, 4);
    for (let p = 3; p < out.data.length; p += 4) assert.equal(out.data[p], rgba.data[p]);
  });

  test('bad input is a 400 naming the field', async () => {
    const image = inputBytes('grey');
    await assertRefused(app, 'jpeg', image, { quality: 0 }, 'AUG_INVALID_PARAM', 'quality');
    await assertRefused(app, 'jpeg', image, { quality: 101 }, 'AUG_INVALID_PARAM', 'quality');
    await assertRefused(app, 'jpeg', image, { quality_range: '90,40' }, 'AUG_INVALID_RANGE', 'quality_range');
    await assertRefused(app, 'jpeg', image, { quality_range: '0,40' }, 'AUG_INVALID_PARAM', 'quality_range[0]');
  });
});
