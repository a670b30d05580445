import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import sharp from 'sharp';
import { buildAugmentApp } from '../../../services/augment/app.ts';
import { readAugmentConfig } from '../../../services/augment/config.ts';
import { intakeErrors } from '../../../services/augment/errors.ts';
import { operations } from '../../../services/augment/ops/index.ts';
import type { OpName } from '../../../services/augment/ops/types.ts';
import { augmentOne, pipelineSource } from '../../../services/augment/single.ts';
import { decodeImage, defaultOutputFormat, encodeImage, inspectImage, transcodable, type IntakeLimits } from '../../../services/shared/intake.ts';
import { colorJitter, jitterRange } from '../../../services/augment/ops/color-jitter.ts';
import * as photometric from '../../../services/augment/ops/photometric.ts';
import { posterize } from '../../../services/augment/ops/posterize.ts';
import { createRng } from '../../../services/augment/random.ts';
import { form } from '../../helpers/form.ts';
import { makeImage as makeImageBytes, pixels } from '../../helpers/images.ts';
import { makeTar, readTar } from '../../helpers/tar.ts';
import { decodeRaw, inputBytes } from '../../helpers/torchvision.ts';
import { assertCode, assertSameImage, assertSeededAndReplayable, makeImage } from './fixtures.ts';

const SIZE = { width: 40, height: 30 };
const SEEDS = Array.from({ length: 400 }, (_, i) => i);

/** Each colour operation with fields that leave something to sample (or, without any, its defaults). */
const SAMPLED: Array<[string, Record<string, string | number>]> = [
  ['brightness', {}],
  ['contrast', { factor_range: '0.2,1.8' }],
  ['saturation', { factor_range: '0,2' }],
  ['hue', {}],
  ['color_jitter', { brightness: 0.4, contrast: '0.5,1.5', saturation: 0.4, hue: 0.1 }],
  ['sharpness', { factor_range: '0,3' }],
  ['gamma', { gamma_range: '0.5,2', gain: 1.1 }],
  ['posterize', { bits_range: '2,6' }],
  ['solarize', {}],
  ['equalize', {}],
  ['autocontrast', {}],
  ['invert', {}],
  ['grayscale', { channels: 1 }],
];

describe('colour operations: sampling', () => {
  test('the defaults and ranges: every draw within its range, the fixed value wins', () => {
    const draws = (op: string, params: Record<string, unknown>, field: string) =>
      SEEDS.map((seed) => operations[op as keyof typeof operations].sample(createRng(seed), SIZE, params, {})[field] as number);
    const within = (values: number[], lo: number, hi: number, label: string) => {
      assert.ok(values.every((v) => v >= lo && v <= hi), `${label}: ${Math.min(...values)}..${Math.max(...values)}`);
      // Spread over the range, not stuck at one end (400 uniform draws).
      assert.ok(Math.min(...values) < lo + (hi - lo) * 0.1 && Math.max(...values) > hi - (hi - lo) * 0.1, label);
    };
    for (const op of ['brightness', 'contrast', 'saturation', 'sharpness']) within(draws(op, {}, 'factor'), 0.6, 1.4, op);
    within(draws('hue', {}, 'factor'), -0.1, 0.1, 'hue');
    within(draws('gamma', {}, 'gamma'), 0.8, 1.2, 'gamma');
    within(draws('solarize', {}, 'threshold'), 128, 255, 'solarize');
    assert.deepEqual(draws('brightness', { factor: 0.3, factor_range: [1, 2] }, 'factor'), SEEDS.map(() => 0.3));
  });

  test('posterize draws whole bits, each of the range', () => {
    const bits = SEEDS.map((seed) => posterize.sample(createRng(seed), SIZE, { bits_range: [1, 8] }, {}).bits);
    assert.deepEqual([...new Set(bits)].sort(), [1, 2, 3, 4, 5, 6, 7, 8]);
    assert.deepEqual([...new Set(SEEDS.map((seed) => posterize.sample(createRng(seed), SIZE, {}, {}).bits))].sort(), [4, 5, 6, 7, 8]);
  });

  test("color_jitter's ranges are ColorJitter's: v means max(0, 1−v)..1+v (hue −v..v), a centre-only range is not applied", () => {
    assert.deepEqual(jitterRange('brightness', 0.4), [0.6, 1.4]);
    assert.deepEqual(jitterRange('contrast', [1.5]), [0, 2.5]);
    assert.deepEqual(jitterRange('saturation', [0.2, 3]), [0.2, 3]);
    assert.deepEqual(jitterRange('hue', 0.2), [-0.2, 0.2]);
    assert.deepEqual(jitterRange('hue', [-0.5, 0.1]), [-0.5, 0.1]);
    assert.equal(jitterRange('brightness', 0), undefined);
    assert.equal(jitterRange('contrast', [1, 1]), undefined);
    assert.equal(jitterRange('hue', 0), undefined);
    assert.equal(jitterRange('saturation', undefined), undefined);
    assert.deepEqual(colorJitter.sample(createRng(1), SIZE, {}, {}), { order: [] });
  });

  test('color_jitter: every order of the four adjustments comes up, factors within their ranges', () => {
    const params = { brightness: 0.5, contrast: [0.2, 0.9], saturation: 0.3, hue: 0.25 };
    const orders = new Set<string>();
    for (const seed of SEEDS) {
      const r = colorJitter.sample(createRng(seed), SIZE, params, {});
      orders.add(r.order.join(','));
      assert.deepEqual([...r.order].sort(), ['brightness', 'contrast', 'hue', 'saturation']);
      assert.ok(r.brightness! >= 0.5 && r.brightness! <= 1.5 && r.contrast! >= 0.2 && r.contrast! <= 0.9);
      assert.ok(r.saturation! >= 0.7 && r.saturation! <= 1.3 && Math.abs(r.hue!) <= 0.25);
    }
    assert.equal(orders.size, 24);
  });

  test('color_jitter applies its adjustments in `order`', async () => {
    const image = await makeImage(31, 23, 3, 4);
    const resolved = { order: ['hue', 'contrast', 'brightness'] as const, hue: 0.2, contrast: 1.5, brightness: 0.7 };
    const expected = photometric.adjustBrightness(photometric.adjustContrast(photometric.adjustHue(image, 0.2), 1.5), 0.7);
    assertSameImage(await colorJitter.apply(image, { ...resolved, order: [...resolved.order] }, {}), expected);
    const reversed = await colorJitter.apply(image, { ...resolved, order: ['brightness', 'contrast', 'hue'] }, {});
    assert.ok(!reversed.data.equals(expected.data), 'order matters');
  });

  for (const [op, fields] of SAMPLED) {
    test(`${op}: same seed same parameters and bytes; the resolved parameters replay without a draw`, async () => {
      const params = Object.fromEntries(Object.entries(fields).map(([k, v]) => [k, typeof v === 'string' ? v.split(',').map(Number) : v]));
      await assertSeededAndReplayable(operations[op as keyof typeof operations], await makeImage(24, 18, 3, 7), params);
    });
  }

  test('bad values throw the documented codes', () => {
    const sample = (op: string, params: Record<string, unknown>) => () => operations[op as keyof typeof operations].sample(createRng(0), SIZE, params, {});
    assertCode(sample('posterize', { bits: 0 }), 'AUG_INVALID_PARAM');
    assertCode(sample('posterize', { bits: 2.5 }), 'AUG_INVALID_PARAM');
    assertCode(sample('posterize', { bits_range: [1.5, 3] }), 'AUG_INVALID_PARAM');
    assertCode(sample('hue', { factor: -0.51 }), 'AUG_INVALID_PARAM');
    assertCode(sample('hue', { factor_range: [-0.6, 0] }), 'AUG_INVALID_RANGE');
    assertCode(sample('brightness', { factor: -1 }), 'AUG_INVALID_PARAM');
    assertCode(sample('contrast', { factor_range: [2, 1] }), 'AUG_INVALID_RANGE');
    assertCode(sample('gamma', { gain: -1 }), 'AUG_INVALID_PARAM');
    assertCode(sample('color_jitter', { hue: -0.2 }), 'AUG_INVALID_PARAM');
    assertCode(sample('color_jitter', { order: ['hue'] }), 'AUG_INVALID_PARAM');
    assertCode(sample('color_jitter', { order: ['hue', 'hue'], hue: 0.1 }), 'AUG_INVALID_PARAM');
  });
});

describe('colour operations over HTTP: seeds, replay, errors, pipeline and shard', () => {
  let app: FastifyInstance;
  const photo = inputBytes('photo');
  const grey = inputBytes('grey');
  before(async () => {
    app = await buildAugmentApp(readAugmentConfig({ LOG_LEVEL: 'silent' }));
  });
  after(() => app.close());
  const post = (op: string, fields: Record<string, string | number | Buffer | undefined>) =>
    app.inject({ method: 'POST', url: `/v1/augment/${op}`, body: form({ format: 'png', ...fields }) });
  const asFields = (params: Record<string, unknown>) =>
    Object.fromEntries(Object.entries(params).map(([k, v]) => [k, Array.isArray(v) ? v.join(',') : (v as string | number)]));

  for (const [op, fields] of SAMPLED) {
    test(`${op}: a seed gives the same bytes; the applied params sent back give the same pixels; grey stays one channel`, async () => {
      const first = await post(op, { image: photo, seed: 2024, ...fields });
      assert.equal(first.statusCode, 200, first.body);
      const again = await post(op, { image: photo, seed: 2024, ...fields });
      assert.deepEqual(again.rawPayload, first.rawPayload);
      const applied = JSON.parse(String(first.headers['x-augment-params']));
      assert.equal(applied.op, op);
      const replay = await post(op, { image: photo, seed: 9, ...fields, ...asFields(applied.params) });
      assert.equal(replay.statusCode, 200, replay.body);
      assert.deepEqual(JSON.parse(String(replay.headers['x-augment-params'])).params, applied.params);
      assertSameImage(await decodeRaw(replay.rawPayload), await decodeRaw(first.rawPayload));
      const greyOut = await post(op, { image: grey, seed: 2024, ...fields });
      assert.equal(greyOut.statusCode, 200, greyOut.body);
      // grayscale's channels=1 here; only channels=3 makes grey three channels.
      assert.equal((await sharp(greyOut.rawPayload).metadata()).channels, 1);
    });
  }

  const bad: Array<[string, Record<string, string | number>, string, string]> = [
    ['posterize', { bits: 0 }, 'AUG_INVALID_PARAM', 'bits'],
    ['posterize', { bits: 9 }, 'AUG_INVALID_PARAM', 'bits'],
    ['posterize', { bits: 2.5 }, 'AUG_INVALID_PARAM', 'bits'],
    ['posterize', { bits_range: '0,4' }, 'AUG_INVALID_PARAM', 'bits_range'],
    ['posterize', { bits_range: '6,3' }, 'AUG_INVALID_RANGE', 'bits_range'],
    ['hue', { factor: 0.6 }, 'AUG_INVALID_PARAM', 'factor'],
    ['hue', { factor_range: '-0.7,0' }, 'AUG_INVALID_PARAM', 'factor_range'],
    ['brightness', { factor: -0.1 }, 'AUG_INVALID_PARAM', 'factor'],
    ['contrast', { factor_range: '1.5,0.5' }, 'AUG_INVALID_RANGE', 'factor_range'],
    ['saturation', { factor: 'lots' }, 'AUG_INVALID_PARAM', 'factor'],
    ['sharpness', { factor_range: '-1,2' }, 'AUG_INVALID_PARAM', 'factor_range'],
    ['gamma', { gamma: -1 }, 'AUG_INVALID_PARAM', 'gamma'],
    ['gamma', { gain: -0.5 }, 'AUG_INVALID_PARAM', 'gain'],
    ['solarize', { threshold: 256 }, 'AUG_INVALID_PARAM', 'threshold'],
    ['solarize', { threshold_range: '200,100' }, 'AUG_INVALID_RANGE', 'threshold_range'],
    ['grayscale', { channels: 2 }, 'AUG_INVALID_PARAM', 'channels'],
    ['color_jitter', { hue: 0.6 }, 'AUG_INVALID_PARAM', 'hue'],
    ['color_jitter', { hue: -0.2 }, 'AUG_INVALID_PARAM', 'hue'],
    ['color_jitter', { brightness: -0.5 }, 'AUG_INVALID_PARAM', 'brightness'],
    ['color_jitter', { saturation: '1.5,0.5' }, 'AUG_INVALID_RANGE', 'saturation'],
    ['color_jitter', { contrast: '1,2,3' }, 'AUG_INVALID_PARAM', 'contrast'],
    ['color_jitter', { order: 'brightness,sparkle', brightness: 1.2 }, 'AUG_INVALID_PARAM', 'order'],
    ['color_jitter', { order: 'hue,hue', hue: 0.1 }, 'AUG_INVALID_PARAM', 'order'],
    ['color_jitter', { order: 'hue' }, 'AUG_INVALID_PARAM', 'hue'],
    ['equalize', { factor: 2 }, 'AUG_INVALID_REQUEST', 'factor'],
  ];
  for (const [op, fields, code, field] of bad) {
    test(`${op} ${JSON.stringify(fields)} → 400 ${code} naming ${field}`, async () => {
      const res = await post(op, { image: photo, ...fields });
      assert.equal(res.statusCode, 400, res.body);
      assert.match(String(res.headers['content-type']), /application\/problem\+json/);
      const problem = res.json();
      assert.equal(problem.code, code);
      assert.match(problem.detail, new RegExp(`\\b${field.replace(/[[\]]/g, '\\$&')}\\b`));
    });
  }

  test('pipeline: colour steps run as the same functions; bad colour fields are 400s naming the step field', async () => {
    const ops = [{ op: 'color_jitter', brightness: 0.4, hue: [-0.2, 0.2] }, { op: 'posterize', bits_range: '3,6' }, { op: 'equalize', p: 1 }];
    const res = await post('pipeline', { image: photo, seed: 31, ops: JSON.stringify(ops) });
    assert.equal(res.statusCode, 200, res.body);
    const { applied } = JSON.parse(String(res.headers['x-augment-params']));
    assert.deepEqual(applied.map((s: { op: string }) => s.op), ['color_jitter', 'posterize', 'equalize']);
    const [jitter, poster] = applied.map((s: { params: Record<string, any> }) => s.params);
    let expected = await decodeRaw(photo);
    for (const name of jitter.order as string[]) {
      expected = name === 'brightness' ? photometric.adjustBrightness(expected, jitter.brightness) : photometric.adjustHue(expected, jitter.hue);
    }
    expected = photometric.equalize(photometric.posterize(expected, poster.bits));
    assertSameImage(await decodeRaw(res.rawPayload), expected);

    for (const [step, field] of [
      [{ op: 'posterize', bits: 9 }, 'ops[0].bits'],
      [{ op: 'color_jitter', hue: 0.7 }, 'ops[0].hue'],
      [{ op: 'hue', factor_range: [0.2, 0.1] }, 'factor_range'],
    ] as const) {
      const refused = await post('pipeline', { image: photo, ops: JSON.stringify([step]) });
      assert.equal(refused.statusCode, 400, refused.body);
      assert.ok(refused.json().detail.includes(field), refused.json().detail);
    }
  });

  test('shard: a colour step runs per sample, byte-identical to the pipeline with that seed; bad colour ops refuse the whole shard', async () => {
    const ops = [{ op: 'color_jitter', brightness: 0.3, saturation: 0.5 }, { op: 'solarize', threshold_range: [150, 250] }];
    const query = (steps: unknown) => new URLSearchParams({ ops: JSON.stringify(steps), seed: '5', format: 'png' }).toString();
    const body = await makeTar([{ name: 'a.png', data: photo }, { name: 'b.png', data: grey }]);
    const res = await app.inject({ method: 'POST', url: `/v1/augment/shard?${query(ops)}`, headers: { 'content-type': 'application/x-tar' }, body });
    assert.equal(res.statusCode, 200, res.body);
    const files = new Map((await readTar(res.rawPayload)).map((m) => [m.name, m.data]));
    const info = JSON.parse(files.get('a.v0.json')!.toString());
    assert.deepEqual(info.applied.map((s: { op: string }) => s.op), ['color_jitter', 'solarize']);
    const single = await post('pipeline', { image: photo, ops: JSON.stringify(ops), seed: info.seed });
    assertSameImage(await decodeRaw(files.get('a.v0.png')!), await decodeRaw(single.rawPayload));
    assert.equal((await sharp(files.get('b.v0.png')!).metadata()).channels, 1);

    const refused = await app.inject({ method: 'POST', url: `/v1/augment/shard?${query([{ op: 'posterize', bits: 0 }])}`, headers: { 'content-type': 'application/x-tar' }, body });
    assert.equal(refused.statusCode, 400);
    assert.ok(refused.json().detail.includes('ops[0].bits'), refused.body);
  });
});

describe('brightness and invert in one pass (decode → libvips → encode)', () => {
  const limits: IntakeLimits = { fileBytes: 1 << 26, files: 2, fieldBytes: 1 << 16, fields: 50, inputPixels: 1 << 26 };

  test("libvips' linear truncates as torchvision's _blend: brightness equal on every 8-bit value at 300 factors", async () => {
    const ramp = Buffer.from(Array.from({ length: 256 }, (_, v) => v));
    const image = { data: ramp, width: 256, height: 1, channels: 1 as const };
    const factors = [0, 1e-9, 0.999999, 1, 1.0000001, 255, 1e6, ...Array.from({ length: 293 }, (_, k) => k / 97)];
    for (const factor of factors) {
      const fused = await operations.brightness.transform!({ factor }, { width: 256, height: 1 }, { channels: 1, profiled: false })!(sharp(ramp, { raw: { width: 256, height: 1, channels: 1 } }));
      const out = await fused.toColourspace('b-w').raw({ depth: 'uchar' }).toBuffer();
      assert.ok(out.equals(photometric.adjustBrightness(image, factor).data), `factor ${factor}`);
    }
  });

  test('give the pixels of decode → apply → encode on every plain input; a profiled upload takes the raw path', async () => {
    const rgb = await makeImageBytes(97, 61, 'png');
    const inputs: Array<[string, Buffer, boolean]> = [
      ['RGB PNG', rgb, true],
      ['grey PNG', await makeImageBytes(97, 61, 'png', 1), true],
      ['RGB JPEG', await makeImageBytes(97, 61, 'jpeg'), true],
      ['grey JPEG', await makeImageBytes(97, 61, 'jpeg', 1), true],
      ['RGB WebP', await makeImageBytes(97, 61, 'webp'), true],
      ['JPEG with a Display P3 profile', await sharp(rgb).withIccProfile('p3').jpeg().toBuffer(), false],
    ];
    const cases: Array<[OpName, Record<string, unknown>]> = [
      ['brightness', { factor: 0 }],
      ['brightness', { factor: 0.37 }],
      ['brightness', { factor: 1.3 }],
      ['brightness', { factor: 9.5 }],
      ['invert', {}],
    ];
    for (const [name, bytes, plain] of inputs) {
      const meta = await inspectImage(bytes, limits, intakeErrors);
      for (const [op, params] of cases) {
        const label = `${name}, ${op} ${JSON.stringify(params)}`;
        const resolve = (size: { width: number; height: number }) => operations[op].sample(createRng(1), size, params, {}) as Record<string, unknown>;
        const resolved = resolve({ width: meta.width!, height: meta.height! });
        assert.equal(transcodable(meta) && operations[op].transform?.(resolved as never, { width: meta.width!, height: meta.height! }, pipelineSource(meta)) !== undefined, plain, `${label}: one pass or not`);
        const out = await augmentOne({ op, bytes, meta, resolve, ctx: {}, format: defaultOutputFormat(meta), quality: undefined, limits });
        const input = await decodeImage(bytes, limits, intakeErrors);
        const want = await encodeImage(await operations[op].apply(input.raw, resolved as never, {}), input.format);
        const [a, b] = await Promise.all([pixels(out.bytes), pixels(want)]);
        assert.deepEqual([a.width, a.height, a.channels], [b.width, b.height, b.channels], label);
        assert.ok(a.data.equals(b.data), `${label}: pixels differ`);
      }
    }
  });
});
