import assert from 'node:assert/strict';
import { writeFile, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import ort from 'onnxruntime-node';
import sharp from 'sharp';
import { INFERENCE_ERROR_CODES } from '../../services/inference/errors.ts';
import { loadModelConfig } from '../../services/inference/model-config.ts';
import { preprocess, specOf } from '../../services/inference/preprocess.ts';
import { softmax } from '../../services/inference/voting.ts';
import { componentSchema } from '../../services/shared/openapi.ts';
import { form } from '../helpers/form.ts';
import { makeImage } from '../helpers/images.ts';
import { FIXTURE_REPOSITORY, SLOW_REPOSITORY, buildTestApp, copyRepository, expectProblem } from './helpers.ts';

/** Every code a test below saw; each must be documented in openapi.yaml. */
const seen = new Set<string>();

/** Probabilities computed the long way: preprocess, a fresh onnxruntime session, softmax. */
async function directProbabilities(model: string, image: Buffer): Promise<number[]> {
  const config = await loadModelConfig(join(FIXTURE_REPOSITORY, model));
  const x = await preprocess(image, specOf(config));
  const session = await ort.InferenceSession.create(join(FIXTURE_REPOSITORY, model, config.file));
  const out = (await session.run({ [config.input.name]: new ort.Tensor('float32', x, [1, ...config.input.shape.slice(1)]) }))[config.output.name]!.data as Float32Array;
  await session.release();
  return [...(config.output.kind === 'logits' ? softmax(out) : out)];
}

const near = (a: number, b: number) => assert.ok(Math.abs(a - b) < 1e-5, `${a} != ${b}`);

describe('inference /v1 over the fixture repository', () => {
  let app: FastifyInstance;
  let photo: Buffer;
  let other: Buffer;

  before(async () => {
    app = await buildTestApp({ MAX_BATCH_DELAY_MS: '5' });
    photo = await makeImage(64, 48);
    other = await makeImage(30, 40, 'jpeg', 1);
  });
  after(() => app.close());

  const classify = (model: string, fields: Parameters<typeof form>[0]) => app.inject({ method: 'POST', url: `/v1/models/${model}/classify`, body: form(fields) });
  const ensemble = (name: string, fields: Parameters<typeof form>[0]) => app.inject({ method: 'POST', url: `/v1/ensembles/${name}/classify`, body: form(fields) });

  test('GET /v1/models lists models (with the provider in use) and ensembles', async () => {
    const res = await app.inject('/v1/models');
    assert.equal(res.statusCode, 200);
    const body = res.json();
    assert.deepEqual(body.models.map((m: any) => m.name), ['tiny-gray', 'tiny-gray-nhwc', 'tiny-rgb']);
    const gray = body.models[0];
    assert.equal(gray.ready, true);
    assert.equal(gray.execution_provider, 'cpu');
    assert.deepEqual(gray.input, { name: 'input', shape: [-1, 1, 28, 28], datatype: 'FP32', layout: 'NCHW' });
    assert.equal(gray.labels.length, 10);
    assert.equal(typeof gray.accuracy.top1, 'number');
    assert.deepEqual(body.ensembles, [{ name: 'default', members: ['tiny-gray', 'tiny-gray-nhwc'], voting: 'soft', weights: [1, 1], ready: true }]);
  });

  test('GET /v1/models/{name}, and 404 problem+json for an unknown one', async () => {
    const res = await app.inject('/v1/models/tiny-rgb');
    assert.equal(res.statusCode, 200);
    assert.equal(res.json().input.layout, 'NHWC');
    expectProblem(await app.inject('/v1/models/nope'), 404, 'INF_MODEL_NOT_FOUND', seen);
  });

  test('classify: top 5 by default, best first, equal to a direct onnxruntime run', async () => {
    const res = await classify('tiny-gray', { image: photo });
    assert.equal(res.statusCode, 200, res.body);
    const body = res.json();
    assert.equal(body.model, 'tiny-gray');
    assert.equal(body.results.length, 1);
    const predictions = body.results[0].predictions;
    assert.equal(predictions.length, 5);
    const expected = await directProbabilities('tiny-gray', photo);
    for (const p of predictions) near(p.probability, expected[p.index]!);
    const best = expected.indexOf(Math.max(...expected));
    assert.equal(predictions[0].index, best);
    for (let i = 1; i < 5; i++) assert.ok(predictions[i - 1].probability >= predictions[i].probability);
    assert.equal(typeof predictions[0].label, 'string');
  });

  test('a batch of images comes back in order; multipart and JSON agree', async () => {
    const res = await classify('tiny-rgb', { image: [photo, other, photo], top_k: 3 });
    assert.equal(res.statusCode, 200, res.body);
    const results = res.json().results;
    assert.equal(results.length, 3);
    assert.deepEqual(results[0], results[2]);
    assert.notDeepEqual(results[0], results[1]);
    const expectedOther = await directProbabilities('tiny-rgb', other);
    for (const p of results[1].predictions) near(p.probability, expectedOther[p.index]!);

    const json = await app.inject({ method: 'POST', url: '/v1/models/tiny-rgb/classify', payload: { images: [photo, other, photo].map((b) => b.toString('base64')), top_k: 3 } });
    assert.equal(json.statusCode, 200, json.body);
    assert.deepEqual(json.json().results, results);
  });

  test(`${64} images in one request are accepted; one more is a 413`, async () => {
    const tiny = await makeImage(28, 28, 'png', 1);
    const ok = await classify('tiny-gray', { image: Array.from({ length: 64 }, () => tiny), top_k: 1 });
    assert.equal(ok.statusCode, 200, ok.body);
    assert.equal(ok.json().results.length, 64);
    expectProblem(await classify('tiny-gray', { image: Array.from({ length: 65 }, () => tiny) }), 413, 'INF_PAYLOAD_TOO_LARGE', seen);
    const json = await app.inject({ method: 'POST', url: '/v1/models/tiny-gray/classify', payload: { images: Array.from({ length: 65 }, () => tiny.toString('base64')) } });
    expectProblem(json, 413, 'INF_PAYLOAD_TOO_LARGE', seen);
  });

  test('top_k larger than the labels gives every label; probabilities sum to one', async () => {
    const res = await classify('tiny-rgb', { image: photo, top_k: 1000 });
    const predictions = res.json().results[0].predictions;
    assert.equal(predictions.length, 3);
    near(predictions.reduce((s: number, p: any) => s + p.probability, 0), 1);
  });

  const bad: Array<[string, () => Promise<any>, number, string]> = [
    ['no image', () => classify('tiny-gray', { top_k: 1 }), 400, 'INF_INVALID_REQUEST'],
    ['empty image', () => classify('tiny-gray', { image: Buffer.alloc(0) }), 400, 'INF_INVALID_REQUEST'],
    ['wrong file field', () => classify('tiny-gray', { picture: photo }), 400, 'INF_INVALID_REQUEST'],
    ['unknown field', () => classify('tiny-gray', { image: photo, topk: 2 }), 400, 'INF_INVALID_REQUEST'],
    ['top_k 0', () => classify('tiny-gray', { image: photo, top_k: 0 }), 400, 'INF_INVALID_PARAM'],
    ['top_k text', () => classify('tiny-gray', { image: photo, top_k: 'five' }), 400, 'INF_INVALID_PARAM'],
    ['tta not boolean', () => classify('tiny-gray', { image: photo, tta: 'perhaps' }), 400, 'INF_INVALID_PARAM'],
    ['not an image', () => classify('tiny-gray', { image: Buffer.from('plain text, not pixels') }), 415, 'INF_UNSUPPORTED_MEDIA'],
    ['truncated PNG', async () => classify('tiny-gray', { image: photo.subarray(0, photo.length >> 1) }), 415, 'INF_UNSUPPORTED_MEDIA'],
    ['text body', () => app.inject({ method: 'POST', url: '/v1/models/tiny-gray/classify', headers: { 'content-type': 'text/plain' }, body: 'hello' }), 415, 'INF_UNSUPPORTED_MEDIA'],
    ['raw image body', () => app.inject({ method: 'POST', url: '/v1/models/tiny-gray/classify', headers: { 'content-type': 'image/png' }, body: photo }), 415, 'INF_UNSUPPORTED_MEDIA'],
    ['JSON without images', () => app.inject({ method: 'POST', url: '/v1/models/tiny-gray/classify', payload: { top_k: 1 } }), 400, 'INF_INVALID_REQUEST'],
    ['JSON images not base64', () => app.inject({ method: 'POST', url: '/v1/models/tiny-gray/classify', payload: { images: ['%%%'] } }), 400, 'INF_INVALID_REQUEST'],
    ['JSON images empty list', () => app.inject({ method: 'POST', url: '/v1/models/tiny-gray/classify', payload: { images: [] } }), 400, 'INF_INVALID_PARAM'],
    ['unknown model', () => classify('nope', { image: photo }), 404, 'INF_MODEL_NOT_FOUND'],
    ['unknown ensemble', () => ensemble('nope', { image: photo }), 404, 'INF_ENSEMBLE_NOT_FOUND'],
    ['voting unknown', () => ensemble('default', { image: photo, voting: 'borda' }), 400, 'INF_INVALID_PARAM'],
    ['models not members', () => ensemble('default', { image: photo, models: 'tiny-gray,tiny-rgb' }), 400, 'INF_INVALID_PARAM'],
    ['weights count', () => ensemble('default', { image: photo, voting: 'weighted', weights: '1,2,3' }), 400, 'INF_INVALID_PARAM'],
    ['weights negative', () => ensemble('default', { image: photo, voting: 'weighted', weights: '1,-1' }), 400, 'INF_INVALID_PARAM'],
    ['weights all zero', () => ensemble('default', { image: photo, voting: 'weighted', weights: '0,0' }), 400, 'INF_INVALID_PARAM'],
    ['unknown route', () => app.inject({ method: 'GET', url: '/v1/nothing' }), 404, 'INF_ROUTE_NOT_FOUND'],
  ];
  for (const [name, send, status, code] of bad) {
    test(`${name} → ${status} ${code}`, async () => expectProblem(await send(), status, code, seen));
  }

  test('ensemble, soft voting by default: the mean of the members, who are listed', async () => {
    const res = await ensemble('default', { image: photo, top_k: 10 });
    assert.equal(res.statusCode, 200, res.body);
    const body = res.json();
    assert.equal(body.ensemble, 'default');
    assert.equal(body.voting, 'soft');
    const [result] = body.results;
    assert.deepEqual(result.members.map((m: any) => m.model), ['tiny-gray', 'tiny-gray-nhwc']);
    assert.equal(result.votes, undefined);
    const [a, b] = [await directProbabilities('tiny-gray', photo), await directProbabilities('tiny-gray-nhwc', photo)];
    for (const p of result.predictions) near(p.probability, (a[p.index]! + b[p.index]!) / 2);
    for (const p of result.members[1].predictions) near(p.probability, b[p.index]!);
  });

  test('hard voting reports votes and vote shares; weighted voting follows the weights; a subset works', async () => {
    const hard = (await ensemble('default', { image: photo, voting: 'hard', top_k: 2 })).json();
    const result = hard.results[0];
    const total = Object.values(result.votes as Record<string, number>).reduce((s, v) => s + v, 0);
    assert.equal(total, 2);
    for (const [label, count] of Object.entries(result.votes as Record<string, number>)) {
      const p = result.predictions.find((x: any) => x.label === label);
      if (p) near(p.probability, count / 2);
    }

    const weighted = (await ensemble('default', { image: photo, voting: 'weighted', weights: '1,0', top_k: 10 })).json();
    const a = await directProbabilities('tiny-gray', photo);
    for (const p of weighted.results[0].predictions) near(p.probability, a[p.index]!);
    assert.deepEqual(weighted.weights, [1, 0]);

    const subset = (await ensemble('default', { image: photo, models: 'tiny-gray-nhwc' })).json();
    assert.deepEqual(subset.results[0].members.map((m: any) => m.model), ['tiny-gray-nhwc']);
    assert.deepEqual(subset.results[0].predictions, subset.results[0].members[0].predictions);

    const json = await app.inject({ method: 'POST', url: '/v1/ensembles/default/classify', payload: { images: [photo.toString('base64')], voting: 'weighted', weights: [1, 0], top_k: 10 } });
    assert.deepEqual(json.json().results, weighted.results);
  });

  test('tta averages the image and its mirror image', async () => {
    // Square, so that the centre crop is symmetric and mirroring the tensor equals mirroring the image.
    const square = await makeImage(56, 56);
    const mirrored = await sharp(square).flop().png().toBuffer();
    const res = await classify('tiny-rgb', { image: square, tta: 'true', top_k: 3 });
    assert.equal(res.statusCode, 200, res.body);
    const [p, q] = [await directProbabilities('tiny-rgb', square), await directProbabilities('tiny-rgb', mirrored)];
    for (const x of res.json().results[0].predictions) near(x.probability, (p[x.index]! + q[x.index]!) / 2);
    const ens = await ensemble('default', { image: square, tta: 'true', top_k: 10 });
    const [a, b] = [await directProbabilities('tiny-gray', square), await directProbabilities('tiny-gray', mirrored)];
    assert.ok(Math.abs(a[0]! - b[0]!) > 1e-4, 'tiny-gray scores the mirror image differently'); // tiny-rgb, a global mean, cannot
    for (const x of ens.json().results[0].members[0].predictions) near(x.probability, (a[x.index]! + b[x.index]!) / 2);
  });

  test('every code a test saw, and every code the service defines, is documented in openapi.yaml', () => {
    const documented = new Set(componentSchema('Problem').properties!.code!.enum as string[]);
    for (const code of [...seen, ...INFERENCE_ERROR_CODES]) assert.ok(documented.has(code), `${code} is not in the Problem code enum`);
  });
});

describe('inference /v1 when a model is broken or overloaded', () => {
  test('a model that failed to load answers 503 INF_MODEL_NOT_READY with Retry-After; the others serve', async () => {
    const { root, cleanup } = await copyRepository();
    const config = JSON.parse(await readFile(join(root, 'tiny-rgb', 'config.json'), 'utf8'));
    await writeFile(join(root, 'tiny-rgb', 'config.json'), JSON.stringify({ ...config, sha256: '0'.repeat(64) }));
    const app = await buildTestApp({ MODEL_REPOSITORY: root });
    try {
      const photo = await makeImage(32, 32);
      const body = expectProblem(await app.inject({ method: 'POST', url: '/v1/models/tiny-rgb/classify', body: form({ image: photo }) }), 503, 'INF_MODEL_NOT_READY');
      assert.match(body.detail, /sha256/);
      const meta = (await app.inject('/v1/models/tiny-rgb')).json();
      assert.equal(meta.ready, false);
      assert.match(meta.reason, /sha256/);
      assert.equal((await app.inject({ method: 'POST', url: '/v1/models/tiny-gray/classify', body: form({ image: photo }) })).statusCode, 200);
    } finally {
      await app.close();
      await cleanup();
    }
  });

  test('a request the queue cannot take is refused before its images are decoded', async () => {
    // 40 images with tta are 80 queue entries, over MAX_QUEUE: refused whatever the images hold.
    // The last one passes the header check but cannot be decoded; had it been decoded, this were a 415.
    const whole = await makeImage(64, 64);
    const truncated = whole.subarray(0, whole.length >> 1);
    const app = await buildTestApp({ MAX_QUEUE: '64', MAX_IMAGES_PER_REQUEST: '64' });
    try {
      const images = [...Array.from({ length: 39 }, () => whole), truncated];
      const refused = await app.inject({ method: 'POST', url: '/v1/models/tiny-gray/classify', body: form({ image: images, tta: 'true' }) });
      expectProblem(refused, 503, 'INF_QUEUE_FULL');
      // Without tta the same images fit, are decoded, and the broken one is found.
      expectProblem(await app.inject({ method: 'POST', url: '/v1/models/tiny-gray/classify', body: form({ image: images }) }), 415, 'INF_UNSUPPORTED_MEDIA');
    } finally {
      await app.close();
    }
  });

  test('a full queue answers 503 INF_QUEUE_FULL with Retry-After; a request past its deadline 504 INF_TIMEOUT', async () => {
    // One image per batch: a 64-image request fills the 64-image queue and runs one image at a
    // time; a second one sent with it finds no room. With no deadline the first is sure to finish
    // however slow the machine. With a 1 ms deadline the same request is late on any machine:
    // its 64 sequential runs of the slow model cannot all come back within a millisecond.
    const photo = await makeImage(28, 28);
    const body = () => form({ image: Array.from({ length: 64 }, () => photo) });
    const settings = { MODEL_REPOSITORY: SLOW_REPOSITORY, MAX_QUEUE: '64', MAX_IMAGES_PER_REQUEST: '64', MAX_BATCH_SIZE: '1' };
    const app = await buildTestApp({ ...settings, INFERENCE_TIMEOUT_MS: '0' });
    try {
      const classify = () => app.inject({ method: 'POST', url: '/v1/models/slow-gray/classify', body: body() });
      const answers = await Promise.all([classify(), classify()]);
      const full = answers.find((res) => res.statusCode === 503);
      assert.ok(full && answers.some((res) => res.statusCode === 200), `expected one 503 and one 200, got ${answers.map((res) => res.statusCode)}`);
      expectProblem(full, 503, 'INF_QUEUE_FULL');
      assert.ok(Number(full.headers['retry-after']) >= 1);
    } finally {
      await app.close();
    }
    const hurried = await buildTestApp({ ...settings, INFERENCE_TIMEOUT_MS: '1' });
    try {
      expectProblem(await hurried.inject({ method: 'POST', url: '/v1/models/slow-gray/classify', body: body() }), 504, 'INF_TIMEOUT');
    } finally {
      await hurried.close();
    }
  });
});
