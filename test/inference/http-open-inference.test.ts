import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import ort from 'onnxruntime-node';
import { FIXTURE_REPOSITORY, buildTestApp, copyRepository } from './helpers.ts';

const image = (k: number) => Array.from({ length: 784 }, (_, i) => Math.sin(i * (k + 1)) * 0.5);

async function directLogits(rows: number[][]): Promise<number[]> {
  const session = await ort.InferenceSession.create(join(FIXTURE_REPOSITORY, 'tiny-gray', 'model.onnx'));
  const out = await session.run({ input: new ort.Tensor('float32', Float32Array.from(rows.flat()), [rows.length, 1, 28, 28]) });
  await session.release();
  return [...(out.logits!.data as Float32Array)];
}

function expectError(res: { statusCode: number; body: string; json(): any; headers: Record<string, unknown> }, status: number, pattern?: RegExp) {
  assert.equal(res.statusCode, status, res.body);
  // Exactly: KServe's client reads an error body only under this type.
  assert.equal(res.headers['content-type'], 'application/json');
  const body = res.json();
  assert.deepEqual(Object.keys(body), ['error']);
  if (pattern) assert.match(body.error, pattern);
}

describe('Open Inference Protocol (KServe V2) REST', () => {
  let app: FastifyInstance;
  before(async () => {
    app = await buildTestApp({ MAX_IMAGES_PER_REQUEST: '8', MAX_QUEUE: '64' });
  });
  after(() => app.close());

  const infer = (model: string, body: unknown) => app.inject({ method: 'POST', url: `/v2/models/${model}/infer`, payload: body as object });
  const tensor = (rows: number[][], extra: Record<string, unknown> = {}) => ({
    inputs: [{ name: 'input', shape: [rows.length, 1, 28, 28], datatype: 'FP32', data: rows.flat(), ...extra }],
  });

  test('server metadata, liveness and readiness', async () => {
    const meta = (await app.inject('/v2')).json();
    assert.equal(meta.name, 'augserve-inference');
    assert.ok(Array.isArray(meta.extensions));
    assert.deepEqual((await app.inject('/v2/health/live')).json(), { live: true });
    const ready = await app.inject('/v2/health/ready');
    assert.equal(ready.statusCode, 200);
    assert.deepEqual(ready.json(), { ready: true });
  });

  test('model metadata and readiness; unknown model is a 404 {error}', async () => {
    const meta = (await app.inject('/v2/models/tiny-gray')).json();
    assert.deepEqual(meta, {
      name: 'tiny-gray', versions: ['1'], platform: 'onnxruntime_onnx',
      inputs: [{ name: 'input', datatype: 'FP32', shape: [-1, 1, 28, 28], accepted_datatypes: ['FP32', 'FP16', 'UINT8'] }],
      outputs: [{ name: 'logits', datatype: 'FP32', shape: [-1, 10] }],
    });
    assert.deepEqual((await app.inject('/v2/models/tiny-gray/ready')).json(), { name: 'tiny-gray', ready: true });
    expectError(await app.inject('/v2/models/nope'), 404, /no model named nope/);
    expectError(await app.inject('/v2/models/nope/ready'), 404);
    expectError(await app.inject('/v2/nothing'), 404);
  });

  test('infer returns the raw output tensor, equal to a direct run; flat and nested data agree; id echoed', async () => {
    const rows = [image(0), image(1), image(2)];
    const res = await infer('tiny-gray', { id: 'req-7', ...tensor(rows), outputs: [{ name: 'logits' }] });
    assert.equal(res.statusCode, 200, res.body);
    const body = res.json();
    assert.equal(body.model_name, 'tiny-gray');
    assert.equal(body.model_version, '1');
    assert.equal(body.id, 'req-7');
    const [output] = body.outputs;
    assert.equal(output.name, 'logits');
    assert.equal(output.datatype, 'FP32');
    assert.deepEqual(output.shape, [3, 10]);
    const expected = await directLogits(rows);
    output.data.forEach((v: number, i: number) => assert.ok(Math.abs(v - expected[i]!) < 1e-5));

    const nested = rows.map((row) => [Array.from({ length: 28 }, (_, y) => row.slice(y * 28, (y + 1) * 28))]);
    const again = await infer('tiny-gray', { inputs: [{ name: 'input', shape: [3, 1, 28, 28], datatype: 'FP32', data: nested }] });
    assert.deepEqual(again.json().outputs[0].data, output.data);
    assert.equal(again.json().id, undefined);
  });

  test('an NHWC model takes its own layout; a probabilities model returns probabilities', async () => {
    const res = await infer('tiny-gray-nhwc', { inputs: [{ name: 'image', shape: [1, 28, 28, 1], datatype: 'FP32', data: image(3) }] });
    assert.equal(res.statusCode, 200, res.body);
    const data: number[] = res.json().outputs[0].data;
    assert.ok(Math.abs(data.reduce((a, b) => a + b, 0) - 1) < 1e-5);
  });

  const bad: Array<[string, unknown, number, RegExp]> = [
    ['shape against the model', { inputs: [{ name: 'input', shape: [1, 3, 28, 28], datatype: 'FP32', data: new Array(3 * 784).fill(0) }] }, 400, /expected shape \[-1, 1, 28, 28\]/],
    ['rank', { inputs: [{ name: 'input', shape: [784], datatype: 'FP32', data: new Array(784).fill(0) }] }, 400, /shape/],
    ['batch 0', { inputs: [{ name: 'input', shape: [0, 1, 28, 28], datatype: 'FP32', data: [] }] }, 400, /shape/],
    ['datatype', { inputs: [{ name: 'input', shape: [1, 1, 28, 28], datatype: 'INT64', data: new Array(784).fill(0) }] }, 400, /FP32/],
    ['input name', { inputs: [{ name: 'pixels', shape: [1, 1, 28, 28], datatype: 'FP32', data: new Array(784).fill(0) }] }, 400, /inputs\[0\]\.name/],
    ['too few values', { inputs: [{ name: 'input', shape: [1, 1, 28, 28], datatype: 'FP32', data: new Array(783).fill(0) }] }, 400, /expected 784 values/],
    ['too many values', { inputs: [{ name: 'input', shape: [1, 1, 28, 28], datatype: 'FP32', data: new Array(785).fill(0) }] }, 400, /expected 784 values/],
    ['a string value', { inputs: [{ name: 'input', shape: [1, 1, 28, 28], datatype: 'FP32', data: ['x', ...new Array(783).fill(0)] }] }, 400, /finite numbers/],
    ['no inputs', { inputs: [] }, 400, /inputs/],
    ['two inputs', { inputs: [tensor([image(0)]).inputs[0], tensor([image(0)]).inputs[0]] }, 400, /inputs/],
    ['missing inputs', { id: 'x' }, 400, /inputs/],
    ['unknown output', { ...tensor([image(0)]), outputs: [{ name: 'probs' }] }, 400, /output logits/],
    ['batch over the limit', tensor(Array.from({ length: 9 }, (_, k) => image(k))), 413, /limit is 8/],
  ];
  for (const [name, body, status, pattern] of bad) {
    test(`infer: ${name} → ${status} {error}`, async () => expectError(await infer('tiny-gray', body), status, pattern));
  }

  test('infer: a body that is not JSON → 400 {error} naming it, whatever its type; unknown model → 404 {error}', async () => {
    expectError(await app.inject({ method: 'POST', url: '/v2/models/tiny-gray/infer', headers: { 'content-type': 'text/plain' }, body: 'hello' }), 400, /not valid JSON/);
    expectError(await infer('nope', tensor([image(0)])), 404);
  });
});

test('V2: a model that failed to load is not ready (503), and neither is the server', async () => {
  const { root, cleanup } = await copyRepository();
  const config = JSON.parse(await readFile(join(root, 'tiny-gray', 'config.json'), 'utf8'));
  await writeFile(join(root, 'tiny-gray', 'config.json'), JSON.stringify({ ...config, input: { ...config.input, shape: [-1, 1, 32, 32] }, preprocess: { ...config.preprocess, resize: 32, crop: 32 } }));
  const app = await buildTestApp({ MODEL_REPOSITORY: root });
  try {
    assert.equal((await app.inject('/v2/health/ready')).statusCode, 503);
    const res = await app.inject('/v2/models/tiny-gray/ready');
    assert.equal(res.statusCode, 503);
    assert.deepEqual(res.json(), { name: 'tiny-gray', ready: false });
    assert.equal((await app.inject('/v2/models/tiny-rgb/ready')).statusCode, 200);
    const infer = await app.inject({ method: 'POST', url: '/v2/models/tiny-gray/infer', payload: { inputs: [{ name: 'input', shape: [1, 1, 32, 32], datatype: 'FP32', data: new Array(1024).fill(0) }] } });
    expectError(infer, 503, /not ready/);
    assert.equal(infer.headers['retry-after'], '1');
  } finally {
    await app.close();
    await cleanup();
  }
});
