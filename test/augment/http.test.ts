import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import sharp from 'sharp';
import { buildAugmentApp } from '../../services/augment/app.ts';
import { readAugmentConfig } from '../../services/augment/config.ts';
import { form } from '../helpers/form.ts';
import { makeImage, pixels } from '../helpers/images.ts';

type Fields = Record<string, string | number | boolean | Buffer | undefined>;

/** Turn applied params back into form fields: arrays comma-joined, nested arrays as JSON. */
function asFields(params: Record<string, unknown>): Fields {
  const fields: Fields = {};
  for (const [name, value] of Object.entries(params)) {
    if (Array.isArray(value)) fields[name] = value.some(Array.isArray) ? JSON.stringify(value) : value.join(',');
    else fields[name] = value as string | number | boolean;
  }
  return fields;
}

describe('augment over HTTP', () => {
  let app: FastifyInstance;
  let photo: Buffer;
  let other: Buffer;

  before(async () => {
    app = await buildAugmentApp(readAugmentConfig({ LOG_LEVEL: 'silent' }));
    photo = await makeImage(97, 64, 'png');
    other = await makeImage(50, 80, 'png', 4);
  });
  after(() => app.close());

  const post = (op: string, fields: Fields, headers: Record<string, string> = {}) =>
    app.inject({ method: 'POST', url: `/v1/augment/${op}`, body: form(fields), headers });

  // Each operation with sampled (not fixed) parameters, so replay has something to prove.
  const cases: Array<[string, Fields]> = [
    ['flip', { direction: 'random' }],
    ['rotate', { angle_range: '-40,40', fill: '#336699' }],
    ['crop', { scale_range: '0.2,0.9', output_width: 40, output_height: 30 }],
    ['scale', { factor_range: '0.5,1.5', keep_size: 'false' }],
    ['cutout', { holes: 3, size_ratio: 0.3, fill: 'white' }],
    ['cutmix', { alpha: 0.7, label: 2, mix_label: 5, num_classes: 10 }],
  ];

  for (const [op, fields] of cases) {
    test(`${op}: the same seed gives byte-identical output, and replayed params give the same pixels`, async () => {
      const extra = op === 'cutmix' ? { mix_image: other } : {};
      const first = await post(op, { image: photo, seed: 1234, ...extra, ...fields });
      assert.equal(first.statusCode, 200, first.body);
      assert.equal(first.headers['content-type'], 'image/png');
      const second = await post(op, { image: photo, seed: 1234, ...extra, ...fields });
      assert.deepEqual(second.rawPayload, first.rawPayload);

      const applied = JSON.parse(String(first.headers['x-augment-params']));
      assert.equal(applied.op, op);
      assert.equal(applied.seed, 1234);
      // Replay: the applied params as fields, a different seed, and the sampled ranges still sent (fixed values win).
      const replay = await post(op, { image: photo, seed: 99, ...extra, ...fields, ...asFields(applied.params) });
      assert.equal(replay.statusCode, 200, replay.body);
      const [a, b] = [await pixels(first.rawPayload), await pixels(replay.rawPayload)];
      assert.deepEqual([b.width, b.height], [a.width, a.height]);
      assert.ok(a.data.equals(b.data), 'replayed pixels differ');
      assert.deepEqual(JSON.parse(String(replay.headers['x-augment-params'])).params, applied.params);
    });
  }

  test('a different seed gives different params', async () => {
    const a = await post('rotate', { image: photo, seed: 1 });
    const b = await post('rotate', { image: photo, seed: 2 });
    assert.notEqual(JSON.parse(String(a.headers['x-augment-params'])).params.angle, JSON.parse(String(b.headers['x-augment-params'])).params.angle);
  });

  test('without a seed, one is chosen and reported', async () => {
    const res = await post('flip', { image: photo });
    const { seed } = JSON.parse(String(res.headers['x-augment-params']));
    assert.ok(Number.isInteger(seed) && seed >= 0 && seed <= 0xffffffff);
  });

  test('horizontal flip mirrors pixel columns exactly', async () => {
    const res = await post('flip', { image: photo });
    const [src, out] = [await pixels(photo), await pixels(res.rawPayload)];
    for (let y = 0; y < src.height; y++) {
      for (let x = 0; x < src.width; x++) {
        for (let c = 0; c < src.channels; c++) {
          const expected = src.data[(y * src.width + x) * src.channels + c];
          assert.equal(out.data[(y * src.width + (src.width - 1 - x)) * src.channels + c], expected);
        }
      }
    }
  });

  test("a fixed crop's pixels equal the source region", async () => {
    const res = await post('crop', { image: photo, x: 10, y: 5, width: 30, height: 20 });
    const expected = await sharp(photo).extract({ left: 10, top: 5, width: 30, height: 20 }).raw().toBuffer();
    const out = await pixels(res.rawPayload);
    assert.deepEqual([out.width, out.height], [30, 20]);
    assert.ok(out.data.equals(expected));
  });

  test('rotate without expand keeps the size; with expand it grows', async () => {
    const kept = await pixels((await post('rotate', { image: photo, angle: 30 })).rawPayload);
    assert.deepEqual([kept.width, kept.height], [97, 64]);
    const grown = await pixels((await post('rotate', { image: photo, angle: 30, expand: 'true' })).rawPayload);
    assert.ok(grown.width > 97 && grown.height > 64);
  });

  test('Accept: application/json gives the image as base64 with its metadata', async () => {
    const res = await post('scale', { image: photo, factor: 0.5, keep_size: 'false', seed: 3 }, { accept: 'application/json' });
    assert.equal(res.statusCode, 200);
    const body = res.json();
    assert.deepEqual([body.width, body.height, body.op, body.seed, body.contentType], [49, 32, 'scale', 3, 'image/png']);
    const decoded = await pixels(Buffer.from(body.image, 'base64'));
    assert.deepEqual([decoded.width, decoded.height], [49, 32]);
    assert.deepEqual(body.params, { factor: 0.5, keep_size: false, fill: '#000000' });
  });

  test('format converts; the default follows the input', async () => {
    const jpeg = await makeImage(40, 30, 'jpeg');
    const same = await post('flip', { image: jpeg });
    assert.equal(same.headers['content-type'], 'image/jpeg');
    const webp = await post('flip', { image: jpeg, format: 'webp', quality: 60 });
    assert.equal(webp.headers['content-type'], 'image/webp');
    assert.equal((await sharp(webp.rawPayload).metadata()).format, 'webp');
  });

  test('EXIF orientation is applied before the operation', async () => {
    // 40×20 stored pixels with orientation 6 (rotate 90° clockwise to display) is 20×40 upright.
    const stored = await sharp(await makeImage(40, 20, 'png')).jpeg().withMetadata({ orientation: 6 }).toBuffer();
    const out = await pixels((await post('flip', { image: stored, direction: 'none' })).rawPayload);
    assert.deepEqual([out.width, out.height], [20, 40]);
  });

  test('inputs of every supported format decode; grey stays one channel', async () => {
    for (const format of ['png', 'jpeg', 'webp', 'avif', 'gif', 'tiff'] as const) {
      const res = await post('flip', { image: await makeImage(16, 12, format) });
      assert.equal(res.statusCode, 200, `${format}: ${res.body}`);
    }
    const grey = await post('flip', { image: await makeImage(16, 12, 'png', 1) });
    assert.equal((await sharp(grey.rawPayload).metadata()).channels, 1);
  });

  describe('pipeline', () => {
    const ops = JSON.stringify([
      { op: 'flip', p: 0.5, direction: 'horizontal' },
      { op: 'rotate', angle_range: '-15,15' },
      { op: 'cutout', holes: 2, size: 8 },
    ]);

    test('count variants as JSON, reproducible by seed, each with its applied steps', async () => {
      const res = await post('pipeline', { image: photo, ops, count: 4, seed: 5 });
      assert.equal(res.statusCode, 200, res.body);
      const body = res.json();
      assert.equal(body.variants.length, 4);
      for (const variant of body.variants) {
        assert.ok(variant.applied.length >= 2);
        assert.deepEqual(variant.applied.slice(-2).map((step: { op: string }) => step.op), ['rotate', 'cutout']);
      }
      const again = await post('pipeline', { image: photo, ops, count: 4, seed: 5 });
      assert.deepEqual(again.json(), body);
    });

    test('count 1 answers the image; replaying its applied steps gives the same pixels', async () => {
      const res = await post('pipeline', { image: photo, ops, seed: 11 });
      assert.equal(res.headers['content-type'], 'image/png');
      const { applied } = JSON.parse(String(res.headers['x-augment-params']));
      const fixed = applied.map((step: { op: string; params: Record<string, unknown> }) => ({ op: step.op, ...step.params }));
      const replay = await post('pipeline', { image: photo, ops: JSON.stringify(fixed), seed: 77 });
      assert.ok((await pixels(res.rawPayload)).data.equals((await pixels(replay.rawPayload)).data));
    });

    test('a cutmix step needs mix_image', async () => {
      const res = await post('pipeline', { image: photo, ops: '[{"op":"cutmix"}]' });
      assert.equal(res.statusCode, 400);
      assert.equal(res.json().code, 'AUG_INVALID_REQUEST');
      const ok = await post('pipeline', { image: photo, mix_image: other, ops: '[{"op":"cutmix"}]' });
      assert.equal(ok.statusCode, 200, ok.body);
    });
  });

  test('health and docs', async () => {
    assert.deepEqual((await app.inject('/health/live')).json(), { status: 'ok', service: 'augment' });
    assert.equal((await app.inject('/health/ready')).statusCode, 200);
    const doc = (await app.inject('/docs/json')).json();
    assert.ok(doc.paths['/v1/augment/cutmix']);
    assert.equal(Object.keys(doc.paths).some((path: string) => path.startsWith('/v1/models')), false);
    assert.equal((await app.inject('/docs')).statusCode < 400, true);
  });
});
