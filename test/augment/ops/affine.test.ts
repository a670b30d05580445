import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { buildAugmentApp } from '../../../services/augment/app.ts';
import { readAugmentConfig } from '../../../services/augment/config.ts';
import { affine } from '../../../services/augment/ops/affine.ts';
import { projective, torchvisionAffine } from '../../../services/augment/ops/geometry.ts';
import { rotate } from '../../../services/augment/ops/rotate.ts';
import { createRng } from '../../../services/augment/random.ts';
import { form } from '../../helpers/form.ts';
import { makeImage as makePng, pixels } from '../../helpers/images.ts';
import { makeTar, readTar } from '../../helpers/tar.ts';
import { CHANNELS, assertCode, assertSameImage, assertSeededAndReplayable, makeImage } from './fixtures.ts';

const size = { width: 40, height: 30 };

test('affine without any component is the identity, about the image centre, bilinear, black', async () => {
  const resolved = affine.sample(createRng(0), size, {}, {});
  assert.deepEqual(resolved, { angle: 0, translate: [0, 0], scale: 1, shear: [0, 0], center: [20, 15], interpolation: 'bilinear', fill: '#000000' });
  const image = await makeImage(40, 30, 3);
  assertSameImage(await affine.apply(image, resolved, {}), image);
});

test('affine samples as RandomAffine: angle, scale and shear uniform in their ranges, translations whole pixels within ±f·side', () => {
  let shearY = false;
  for (let seed = 0; seed < 300; seed++) {
    const r = affine.sample(createRng(seed), size, { angle_range: [-10, 20], translate_range: [0.2, 0.1], scale_range: [0.8, 1.1], shear_range: [-5, 5, 2, 7] }, {});
    assert.ok(r.angle >= -10 && r.angle <= 20, `angle ${r.angle}`);
    assert.ok(Number.isInteger(r.translate[0]) && Math.abs(r.translate[0]) <= 8, `tx ${r.translate[0]}`);
    assert.ok(Number.isInteger(r.translate[1]) && Math.abs(r.translate[1]) <= 3, `ty ${r.translate[1]}`);
    assert.ok(r.scale >= 0.8 && r.scale <= 1.1, `scale ${r.scale}`);
    assert.ok(r.shear[0] >= -5 && r.shear[0] <= 5 && r.shear[1] >= 2 && r.shear[1] <= 7, `shear ${r.shear}`);
    const xOnly = affine.sample(createRng(seed), size, { shear_range: [-5, 5] }, {});
    assert.equal(xOnly.shear[1], 0);
    shearY ||= r.shear[1] !== 0;
  }
  assert.ok(shearY);
  // Fixed values win over ranges (which are still checked).
  const fixed = affine.sample(createRng(0), size, { angle: 12, angle_range: [-1, 1], translate: [1.5, -2], translate_range: [0.5, 0.5], scale: 2, shear: [3, 4] }, {});
  assert.deepEqual([fixed.angle, fixed.translate, fixed.scale, fixed.shear], [12, [1.5, -2], 2, [3, 4]]);
});

for (const channels of CHANNELS) {
  test(`affine: same seed, same bytes; resolved parameters replay (${channels} channels)`, async () => {
    const params = { angle_range: [-30, 30] as const, translate_range: [0.1, 0.1] as const, scale_range: [0.9, 1.2] as const, shear_range: [-8, 8, -4, 4], fill: '#abc', interpolation: channels % 2 ? 'nearest' : 'bilinear' } as const;
    await assertSeededAndReplayable(affine, await makeImage(23, 17, channels), params);
  });
}

test('affine with only an angle is rotate (same map, same pixels)', async () => {
  const image = await makeImage(33, 21, 3);
  for (const angle of [17, -48.5, 123]) {
    const viaAffine = await affine.apply(image, affine.sample(createRng(0), { width: 33, height: 21 }, { angle, fill: '#123456' }, {}), {});
    assertSameImage(viaAffine, await rotate.apply(image, { angle, fill: '#123456', expand: false }, {}), `${angle}°`);
  }
});

test("affine's geometry and resampling are torchvision's forward map", () => {
  const resolved = affine.sample(createRng(0), size, { angle: 20, translate: [3, -2], scale: 1.2, shear: [10, -5], center: [5, 7] }, {});
  const m = torchvisionAffine({ angle: 20, translate: [3, -2], scale: 1.2, shear: [10, -5], center: [5, 7] }, size);
  assert.deepEqual(affine.geometry(resolved, size, {}).matrix, m);
  assert.deepEqual(affine.resampling!(resolved, size), { forward: projective(m), width: 40, height: 30, interpolation: 'bilinear', fill: '#000000' });
});

test('affine refuses reversed ranges, fractions beyond 1, bad shears, scales and interpolations', () => {
  const bad: Array<[Record<string, unknown>, string]> = [
    [{ angle_range: [10, -10] }, 'AUG_INVALID_RANGE'],
    [{ scale_range: [1.2, 0.8] }, 'AUG_INVALID_RANGE'],
    [{ scale_range: [0, 1] }, 'AUG_INVALID_RANGE'],
    [{ scale: 0 }, 'AUG_INVALID_PARAM'],
    [{ translate_range: [1.5, 0] }, 'AUG_INVALID_RANGE'],
    [{ shear_range: [5, -5] }, 'AUG_INVALID_RANGE'],
    [{ shear_range: [-5, 5, 7, 2] }, 'AUG_INVALID_RANGE'],
    [{ shear_range: [-5, 5, 1] }, 'AUG_INVALID_PARAM'],
    [{ shear_range: [-90, 5] }, 'AUG_INVALID_RANGE'],
    [{ shear: [90, 0] }, 'AUG_INVALID_PARAM'],
    [{ interpolation: 'bicubic' }, 'AUG_INVALID_PARAM'],
    [{ center: [1] }, 'AUG_INVALID_PARAM'],
    [{ fill: 'purple' }, 'AUG_INVALID_PARAM'],
  ];
  for (const [params, code] of bad) assertCode(() => affine.sample(createRng(0), size, params, {}), code);
});

describe('affine over HTTP: seeds, replay, pipeline, shard and 400s naming the field', () => {
  let app: FastifyInstance;
  let photo: Buffer;
  before(async () => {
    app = await buildAugmentApp(readAugmentConfig({ LOG_LEVEL: 'silent' }));
    photo = await makePng(57, 41, 'png');
  });
  after(() => app.close());
  const post = (op: string, fields: Record<string, string | number | Buffer>) => app.inject({ method: 'POST', url: `/v1/augment/${op}`, body: form(fields) });
  const sampled = { angle_range: '-30,30', translate_range: '0.2,0.1', scale_range: '0.8,1.2', shear_range: '-10,10,-5,5', interpolation: 'nearest', fill: '#336699' };

  test('the same seed gives the same bytes; the applied params sent back give the same pixels', async () => {
    const first = await post('affine', { image: photo, seed: 1234, ...sampled });
    assert.equal(first.statusCode, 200, first.body);
    assert.deepEqual((await post('affine', { image: photo, seed: 1234, ...sampled })).rawPayload, first.rawPayload);
    const { params } = JSON.parse(String(first.headers['x-augment-params']));
    assert.deepEqual(Object.keys(params), ['angle', 'translate', 'scale', 'shear', 'center', 'interpolation', 'fill']);
    const fields = Object.fromEntries(Object.entries(params).map(([k, v]) => [k, Array.isArray(v) ? v.join(',') : String(v)]));
    const replay = await post('affine', { image: photo, seed: 99, ...fields });
    assert.equal(replay.statusCode, 200, replay.body);
    assert.ok((await pixels(first.rawPayload)).data.equals((await pixels(replay.rawPayload)).data), 'replayed pixels differ');
    const other = await post('affine', { image: photo, seed: 1235, ...sampled });
    assert.notDeepEqual(JSON.parse(String(other.headers['x-augment-params'])).params, params);
  });

  test('a pipeline step: sampled, then replayed from its applied params', async () => {
    const ops = JSON.stringify([{ op: 'affine', angle_range: [-20, 20], translate_range: [0.1, 0.1] }, { op: 'perspective', p: 1, distortion_scale: 0.3 }]);
    const res = await post('pipeline', { image: photo, ops, seed: 5 });
    assert.equal(res.statusCode, 200, res.body);
    const { applied } = JSON.parse(String(res.headers['x-augment-params']));
    assert.deepEqual(applied.map((s: { op: string }) => s.op), ['affine', 'perspective']);
    const fixed = applied.map((step: { op: string; params: Record<string, unknown> }) => ({ op: step.op, ...step.params }));
    const replay = await post('pipeline', { image: photo, ops: JSON.stringify(fixed), seed: 77 });
    assert.ok((await pixels(res.rawPayload)).data.equals((await pixels(replay.rawPayload)).data));
  });

  test('a shard step: every sample augmented, its applied affine params in its .json', async () => {
    const body = await makeTar([
      { name: 'a.png', data: photo },
      { name: 'b.png', data: await makePng(30, 20, 'png', 1) },
    ]);
    const query = new URLSearchParams({ ops: JSON.stringify([{ op: 'affine', angle_range: [-15, 15], shear_range: [-5, 5] }]), seed: '3' }).toString();
    const res = await app.inject({ method: 'POST', url: `/v1/augment/shard?${query}`, headers: { 'content-type': 'application/x-tar' }, body });
    assert.equal(res.statusCode, 200, res.body);
    const files = new Map((await readTar(res.rawPayload)).map((m) => [m.name, m.data]));
    for (const key of ['a', 'b']) {
      const info = JSON.parse(files.get(`${key}.v0.json`)!.toString());
      const steps = info.applied ?? info.ops ?? info;
      assert.match(JSON.stringify(steps), /"op":"affine"/, `${key}: ${JSON.stringify(info)}`);
      assert.ok(files.has(`${key}.v0.png`), [...files.keys()].join(' '));
    }
  });

  const refusals: Array<[string, Record<string, string>, string]> = [
    ['affine', { interpolation: 'bicubic' }, 'interpolation'],
    ['affine', { angle_range: '10,-10' }, 'angle_range'],
    ['affine', { scale_range: '1.2,0.8' }, 'scale_range'],
    ['affine', { translate_range: '1.5,0' }, 'translate_range'],
    ['affine', { shear_range: '5,-5' }, 'shear_range'],
    ['affine', { shear_range: '1,2,3' }, 'shear_range'],
    ['affine', { shear: '95,0' }, 'shear'],
    ['affine', { center: 'x,1' }, 'center'],
    ['perspective', { distortion_scale: '1.5' }, 'distortion_scale'],
    ['perspective', { interpolation: 'cubic' }, 'interpolation'],
    ['perspective', { startpoints: '[[0,0],[9,0],[9,9],[0,9]]' }, 'endpoints'],
    ['perspective', { startpoints: '[[0,0],[9,0],[9,9],[0,9]]', endpoints: '[[0,0],[1,1],[2,2],[3,3]]' }, 'endpoints'],
    ['perspective', { startpoints: '[[0,0],[9,0],[9,9]]', endpoints: '[[0,0],[9,0],[9,9],[0,9]]' }, 'startpoints'],
  ];
  for (const [op, fields, name] of refusals) {
    test(`${op} ${JSON.stringify(fields)} → 400 naming ${name}`, async () => {
      const res = await post(op, { image: photo, ...fields });
      assert.equal(res.statusCode, 400, res.body);
      const problem = res.json();
      assert.match(problem.code, /^AUG_INVALID_(PARAM|RANGE)$/);
      assert.ok(problem.param === name || String(problem.detail).includes(name), JSON.stringify(problem));
      // The same step in a pipeline is refused too.
      const step = { op, ...Object.fromEntries(Object.entries(fields).map(([k, v]) => [k, v.startsWith('[') ? JSON.parse(v) : v])) };
      const piped = await post('pipeline', { image: photo, ops: JSON.stringify([step]) });
      assert.equal(piped.statusCode, 400, piped.body);
      assert.ok(String(piped.json().detail).includes(name) || String(piped.json().param).includes(name), piped.body);
    });
  }
});
