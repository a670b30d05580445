import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { buildAugmentApp } from '../../services/augment/app.ts';
import { readAugmentConfig } from '../../services/augment/config.ts';
import { form } from '../helpers/form.ts';
import { makeImage, pixels } from '../helpers/images.ts';

type Fields = Record<string, string | number>;

/**
 * The image as the whole body, fields in the query string, must be the same request as the
 * multipart one: same pixels, same X-Augment-Params, same refusals.
 */
describe('augment with a raw image body', () => {
  let app: FastifyInstance;
  let png: Buffer;
  let jpeg: Buffer;
  const maxFileBytes = 64 * 1024;

  before(async () => {
    app = await buildAugmentApp(readAugmentConfig({ LOG_LEVEL: 'silent', MAX_FILE_BYTES: String(maxFileBytes) }));
    png = await makeImage(97, 64, 'png');
    jpeg = await makeImage(80, 60, 'jpeg');
  });
  after(() => app.close());

  const multipart = (op: string, image: Buffer, fields: Fields, headers: Record<string, string> = {}) =>
    app.inject({ method: 'POST', url: `/v1/augment/${op}`, body: form({ image, ...fields }), headers });
  const raw = (op: string, image: Buffer, fields: Fields, type = 'image/png', headers: Record<string, string> = {}) =>
    app.inject({
      method: 'POST',
      url: `/v1/augment/${op}?${new URLSearchParams(Object.entries(fields).map(([k, v]) => [k, String(v)]))}`,
      body: image,
      headers: { 'content-type': type, ...headers },
    });

  // Sampled parameters, so that the seed and the query's reading both have something to prove.
  const cases: Array<[string, Fields]> = [
    ['flip', { direction: 'random' }],
    ['rotate', { angle_range: '-40,40', fill: '#336699', expand: 'true' }],
    ['crop', { scale_range: '0.2,0.9', output_width: 40, output_height: 30 }],
    ['scale', { factor_range: '0.5,1.5', keep_size: 'false' }],
    ['cutout', { boxes: JSON.stringify([[3, 4, 20, 30], [50, 10, 70, 25]]), fill: 'white' }],
    ['pipeline', { ops: JSON.stringify([{ op: 'flip', p: 0.5 }, { op: 'rotate', angle_range: [-30, 30] }, { op: 'cutout', holes: 2, size_ratio: 0.2 }]), format: 'webp' }],
  ];

  test('boxes and keypoints in the query string move as they do in a multipart form', async () => {
    const fields = {
      seed: 5,
      angle_range: '-30,30',
      bboxes: JSON.stringify([[10, 5, 30, 20], [60, 30, 20, 25]]),
      bbox_format: 'coco',
      bbox_labels: JSON.stringify(['cat', 7]),
      keypoints: JSON.stringify([[20, 12, 45, 1.5]]),
    };
    const viaForm = await multipart('rotate', png, fields);
    const viaRaw = await raw('rotate', png, fields);
    assert.equal(viaForm.statusCode, 200, viaForm.body);
    assert.equal(viaRaw.statusCode, 200, viaRaw.body);
    const [a, b] = [viaForm.json(), viaRaw.json()];
    assert.equal(a.targets.bboxes.length, 2, 'both boxes kept');
    assert.deepEqual(b.targets, a.targets);
    assert.deepEqual(b.params, a.params);
    assert.ok((await pixels(Buffer.from(b.image, 'base64'))).data.equals((await pixels(Buffer.from(a.image, 'base64'))).data), 'decoded pixels differ');
  });

  for (const [op, fields] of cases) {
    for (const [name, image, type] of [['PNG', 'png', 'image/png'], ['JPEG', 'jpeg', 'image/jpeg']] as const) {
      test(`${op} (${name}): raw body gives the pixels and X-Augment-Params of multipart`, async () => {
        const bytes = image === 'png' ? png : jpeg;
        const viaForm = await multipart(op, bytes, { seed: 77, ...fields });
        const viaRaw = await raw(op, bytes, { seed: 77, ...fields }, type);
        assert.equal(viaForm.statusCode, 200, viaForm.body);
        assert.equal(viaRaw.statusCode, 200, viaRaw.body);
        assert.equal(viaRaw.headers['content-type'], viaForm.headers['content-type']);
        assert.deepEqual(JSON.parse(String(viaRaw.headers['x-augment-params'])), JSON.parse(String(viaForm.headers['x-augment-params'])));
        const [a, b] = [await pixels(viaForm.rawPayload), await pixels(viaRaw.rawPayload)];
        assert.deepEqual([b.width, b.height, b.channels], [a.width, a.height, a.channels]);
        assert.ok(b.data.equals(a.data), 'decoded pixels differ');
      });
    }
  }

  test('JSON answers match too (Accept: application/json)', async () => {
    const fields = { seed: 5, angle_range: '-10,10' };
    const viaForm = await multipart('rotate', png, fields, { accept: 'application/json' });
    const viaRaw = await raw('rotate', png, fields, 'image/png', { accept: 'application/json' });
    assert.equal(viaRaw.statusCode, 200, viaRaw.body);
    const [a, b] = [viaForm.json(), viaRaw.json()];
    assert.deepEqual({ ...b, image: undefined }, { ...a, image: undefined });
    assert.ok((await pixels(Buffer.from(b.image, 'base64'))).data.equals((await pixels(Buffer.from(a.image, 'base64'))).data));
  });

  test('the declared type only selects the reading: the bytes decide the format', async () => {
    const res = await raw('flip', png, { seed: 1, direction: 'horizontal' }, 'image/jpeg');
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(res.headers['content-type'], 'image/png');
  });

  const refusals: Array<[string, string, Fields, number, string, string?]> = [
    ['an out-of-range value', 'rotate', { angle: 400 }, 400, 'AUG_INVALID_PARAM', 'angle'],
    ['a wrong type', 'scale', { factor: 'big' }, 400, 'AUG_INVALID_PARAM', 'factor'],
    ['an unknown field', 'flip', { direction: 'horizontal', colour: 'red' }, 400, 'AUG_INVALID_REQUEST', 'colour'],
    ['an inverted range', 'rotate', { angle_range: '30,-30' }, 400, 'AUG_INVALID_RANGE'],
    ['a bad output format', 'flip', { format: 'bmp' }, 400, 'AUG_INVALID_PARAM', 'format'],
    ['a pipeline step of no known operation', 'pipeline', { ops: JSON.stringify([{ op: 'blur' }]) }, 400, 'AUG_UNKNOWN_OP', 'ops[0].op'],
    ['ops that are not JSON', 'pipeline', { ops: '[{op:flip' }, 400, 'AUG_INVALID_PARAM'],
    ['a cutmix pipeline step without mix_image', 'pipeline', { ops: JSON.stringify([{ op: 'cutmix' }]) }, 400, 'AUG_INVALID_REQUEST', 'mix_image'],
  ];
  for (const [what, op, fields, status, code, param] of refusals) {
    test(`${what}: the same ${status} ${code} as multipart`, async () => {
      const viaForm = await multipart(op, png, fields);
      const viaRaw = await raw(op, png, fields);
      assert.equal(viaForm.statusCode, status, viaForm.body);
      assert.equal(viaRaw.statusCode, status, viaRaw.body);
      assert.equal(viaRaw.json().code, code);
      assert.equal(viaForm.json().code, code);
      assert.equal(viaRaw.json().param, param ?? viaForm.json().param);
    });
  }

  test('a repeated query parameter is refused like a repeated form field', async () => {
    const res = await app.inject({ method: 'POST', url: '/v1/augment/rotate?angle=10&angle=20', body: png, headers: { 'content-type': 'image/png' } });
    const viaForm = await app.inject({ method: 'POST', url: '/v1/augment/rotate', body: (() => { const f = form({ image: png }); f.append('angle', '10'); f.append('angle', '20'); return f; })() });
    assert.equal(res.statusCode, 400);
    assert.equal(res.json().code, viaForm.json().code);
  });

  test('a body over MAX_FILE_BYTES is 413 AUG_PAYLOAD_TOO_LARGE', async () => {
    const big = Buffer.concat([png, Buffer.alloc(maxFileBytes)]);
    const res = await raw('flip', big, { seed: 1 });
    assert.equal(res.statusCode, 413);
    assert.equal(res.json().code, 'AUG_PAYLOAD_TOO_LARGE');
    const viaForm = await multipart('flip', big, { seed: 1 });
    assert.equal(viaForm.json().code, 'AUG_PAYLOAD_TOO_LARGE');
  });

  test('an unsupported content type is 415 AUG_UNSUPPORTED_MEDIA', async () => {
    for (const type of ['image/bmp', 'application/octet-stream', 'text/plain']) {
      const res = await raw('flip', png, { seed: 1 }, type);
      assert.equal(res.statusCode, 415, `${type}: ${res.body}`);
      assert.equal(res.json().code, 'AUG_UNSUPPORTED_MEDIA');
    }
  });

  test('bytes that are no image, or none, are refused as in multipart', async () => {
    const garbage = await raw('flip', Buffer.from('not an image at all'), { seed: 1 });
    assert.equal(garbage.statusCode, 415);
    assert.equal(garbage.json().code, 'AUG_UNSUPPORTED_MEDIA');
    const empty = await raw('flip', Buffer.alloc(0), { seed: 1 });
    assert.equal(empty.statusCode, 400, empty.body);
    assert.equal(empty.json().code, 'AUG_INVALID_REQUEST');
  });

  test('cutmix takes two images: a raw body is 415', async () => {
    const res = await raw('cutmix', png, { seed: 1 });
    assert.equal(res.statusCode, 415);
    assert.equal(res.json().code, 'AUG_UNSUPPORTED_MEDIA');
  });

  test('with a multipart body the query string is not read (Swagger UI sends both)', async () => {
    const withQuery = await app.inject({ method: 'POST', url: '/v1/augment/flip?direction=vertical&seed=9', body: form({ image: png, direction: 'horizontal', seed: 3 }) });
    const without = await multipart('flip', png, { direction: 'horizontal', seed: 3 });
    assert.equal(withQuery.statusCode, 200, withQuery.body);
    assert.deepEqual(JSON.parse(String(withQuery.headers['x-augment-params'])), { op: 'flip', seed: 3, params: { direction: 'horizontal' } });
    assert.ok((await pixels(withQuery.rawPayload)).data.equals((await pixels(without.rawPayload)).data));
  });
});
