import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import ort from 'onnxruntime-node';
import { ModelRepository, type RepositorySettings } from '../../services/inference/model-repository.ts';
import { fileURLToPath } from 'node:url';
import { FIXTURE_REPOSITORY, copyRepository, recordingLog } from './helpers.ts';

const settings = (root: string, overrides: Partial<RepositorySettings> = {}): RepositorySettings => ({
  modelRepository: root,
  providers: [{ name: 'cuda' }, { name: 'cpu' }],
  workers: 1,
  workerNice: 10,
  intraOpThreads: 0,
  intraOpSpinning: false,
  timeoutMs: 0, // no deadline: a slow machine must not turn into INF_TIMEOUT here
  maxBatchSize: 4,
  maxBatchDelayMs: 1,
  maxQueue: 64,
  modelVariant: '',
  ...overrides,
});

const sha = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

/** Adds a model folder derived from tiny-gray: `edit` may change the config and the file bytes. */
async function addVariant(root: string, name: string, edit: (config: Record<string, any>, onnx: Buffer) => Buffer | undefined) {
  const config = JSON.parse(await readFile(join(root, 'tiny-gray', 'config.json'), 'utf8'));
  const onnx = await readFile(join(root, 'tiny-gray', 'model.onnx'));
  config.name = name;
  await mkdir(join(root, name));
  const bytes = edit(config, onnx);
  if (bytes) await writeFile(join(root, name, 'model.onnx'), bytes);
  await writeFile(join(root, name, 'config.json'), JSON.stringify(config));
}

test('broken models are not ready with their reason; the others load and serve', async () => {
  const { root, cleanup } = await copyRepository();
  const log = recordingLog();
  const repo = new ModelRepository(settings(root), log);
  try {
    await addVariant(root, 'corrupt', (config, onnx) => {
      const bytes = Buffer.from(onnx.map((b, i) => (i > 16 ? b ^ 0x5a : b)));
      config.sha256 = sha(bytes); // the hash matches: the runtime itself must refuse it
      return bytes;
    });
    await addVariant(root, 'truncated', (config, onnx) => {
      const bytes = onnx.subarray(0, onnx.length >> 1);
      config.sha256 = sha(bytes);
      return bytes;
    });
    await addVariant(root, 'missing', () => undefined);
    await addVariant(root, 'bad-sha', (config, onnx) => {
      config.sha256 = '0'.repeat(64);
      return onnx;
    });
    await addVariant(root, 'wrong-shape', (config, onnx) => {
      config.input.shape = [-1, 1, 32, 32];
      config.preprocess.resize = 32;
      config.preprocess.crop = 32;
      return onnx;
    });
    await addVariant(root, 'escape', (config, onnx) => {
      config.file = '../tiny-gray/model.onnx';
      return onnx;
    });

    await repo.load();

    const expected: Record<string, RegExp> = {
      corrupt: /no execution provider could load/,
      truncated: /no execution provider could load/,
      missing: /file model\.onnx is missing/,
      'bad-sha': /sha256 of model\.onnx is [0-9a-f]{64}, config declares 0{64}/,
      'wrong-shape': /input\.shape \[-1, 1, 32, 32\] disagrees with the model's input shape \[batch, 1, 28, 28\]/,
      escape: /model escape: expected a path inside the model's folder for file/,
    };
    for (const [name, reason] of Object.entries(expected)) {
      assert.equal(repo.isReady(name), false, name);
      const meta = repo.metadata(name);
      assert.equal(meta.ready, false);
      assert.match(meta.reason ?? '', reason, name);
      assert.ok(log.records.some((r) => r.level === 'error' && r.fields.model === name && reason.test(String(r.fields.reason))), `logged: ${name}`);
      assert.throws(() => repo.get(name), { code: 'INF_MODEL_NOT_READY', statusCode: 503 });
    }
    for (const name of ['tiny-gray', 'tiny-gray-nhwc', 'tiny-rgb']) assert.equal(repo.isReady(name), true, name);
    assert.equal(repo.allReady(), false);
    assert.deepEqual(repo.notReady().map((m) => m.name).sort(), Object.keys(expected).sort());
    assert.throws(() => repo.get('nope'), { code: 'INF_MODEL_NOT_FOUND', statusCode: 404 });

    const [probs] = await repo.predict('tiny-gray', [new Float32Array(784)]);
    assert.equal(probs!.length, 10);
  } finally {
    await repo.close();
    await cleanup();
  }
});

test('metadata lists every model with the provider in use, and the fallback reason is logged', async () => {
  const { root, cleanup } = await copyRepository();
  const log = recordingLog();
  const repo = new ModelRepository(settings(root), log);
  try {
    await repo.load();
    assert.equal(repo.allReady(), true);
    const list = repo.list();
    assert.deepEqual(list.map((m) => m.name), ['tiny-gray', 'tiny-gray-nhwc', 'tiny-rgb']);
    const gray = list[0]!;
    assert.equal(gray.version, '1');
    assert.deepEqual(gray.input, { name: 'input', shape: [-1, 1, 28, 28], datatype: 'FP32', layout: 'NCHW' });
    assert.equal(gray.labels.length, 10);
    assert.equal(gray.ready, true);
    assert.equal(gray.reason, undefined);
    assert.equal(gray.max_batch_size, 4);
    assert.ok(gray.accuracy);
    assert.ok(gray.execution_provider === 'cuda' || gray.execution_provider === 'cpu');
    if (gray.execution_provider === 'cpu') {
      // The models load at once, so whichever fails on CUDA first is told at warn level (once per
      // process), the others at debug; which one comes first is the scheduler's choice.
      const told = log.records.filter((r) => r.fields.provider === 'cuda' && String(r.fields.reason).length > 0);
      assert.equal(told.filter((r) => r.level === 'warn').length, 1, 'the CUDA failure is warned once');
      assert.deepEqual(told.map((r) => r.fields.model).sort(), ['tiny-gray', 'tiny-gray-nhwc', 'tiny-rgb'], 'every model that fell back is told');
    }
    assert.ok(log.records.some((r) => r.level === 'info' && r.fields.model === 'tiny-gray' && r.message === 'model ready'));
    assert.deepEqual(repo.ensembles(), [{ name: 'default', members: ['tiny-gray', 'tiny-gray-nhwc'], voting: 'soft', weights: [1, 1], ready: true }]);
    assert.throws(() => repo.getEnsemble('nope'), { code: 'INF_ENSEMBLE_NOT_FOUND', statusCode: 404 });
  } finally {
    await repo.close();
    await cleanup();
  }
});

test('outputs through batcher and worker equal a direct onnxruntime run; logits become probabilities', async () => {
  const { root, cleanup } = await copyRepository();
  const repo = new ModelRepository(settings(root, { maxBatchSize: 3 }), recordingLog());
  try {
    await repo.load();
    const inputs = Array.from({ length: 5 }, (_, k) => new Float32Array(784).map((_, i) => Math.sin(i * (k + 1))));
    const session = await ort.InferenceSession.create(join(root, 'tiny-gray', 'model.onnx'));
    const direct = await Promise.all(inputs.map(async (x) => (await session.run({ input: new ort.Tensor('float32', x.slice(), [1, 1, 28, 28]) })).logits!.data as Float32Array));
    await session.release();
    const raw = await repo.infer('tiny-gray', inputs);
    raw.forEach((row, i) => row.forEach((v, j) => assert.ok(Math.abs(v - direct[i]![j]!) < 1e-5)));
    const probs = await repo.predict('tiny-gray', inputs);
    for (const p of probs) assert.ok(Math.abs(p.reduce((a, b) => a + b, 0) - 1) < 1e-5);
    await assert.rejects(repo.infer('tiny-gray', [new Float32Array(10)]), RangeError);
  } finally {
    await repo.close();
    await cleanup();
  }
});

test('an ensemble with a missing member is listed as not ready; unload stops serving', async () => {
  const { root, cleanup } = await copyRepository();
  await writeFile(join(root, 'ensembles', 'broken.json'), JSON.stringify({ name: 'broken', members: ['tiny-gray', 'ghost'] }));
  await writeFile(join(root, 'ensembles', 'invalid.json'), JSON.stringify({ name: 'invalid', members: [] }));
  const log = recordingLog();
  const repo = new ModelRepository(settings(root), log);
  try {
    await repo.load();
    const broken = repo.getEnsemble('broken');
    assert.equal(broken.ready, false);
    assert.match(broken.reason ?? '', /ghost \(not in the repository\)/);
    assert.deepEqual(broken.weights, [1, 1]);
    assert.ok(log.records.some((r) => /members/.test(String(r.fields.reason))));
    await repo.unload('tiny-gray-nhwc');
    assert.equal(repo.isReady('tiny-gray-nhwc'), false);
    assert.equal(repo.getEnsemble('default').ready, false);
    await assert.rejects(repo.predict('tiny-gray-nhwc', [new Float32Array(784)]), { code: 'INF_MODEL_NOT_READY' });
  } finally {
    await repo.close();
    await cleanup();
  }
});

test('a graph with a fixed batch size runs every batch at that size, padded; -1 in its config is refused', async () => {
  const root = fileURLToPath(new URL('../fixtures/fixed-batch-models/', import.meta.url));
  const repo = new ModelRepository(settings(root, { maxBatchSize: 8 }), recordingLog());
  const sizes: number[] = [];
  repo.onBatch = (_model, size) => sizes.push(size);
  try {
    await repo.load();
    assert.equal(repo.metadata('tiny-gray-b2').max_batch_size, 2);
    const inputs = Array.from({ length: 3 }, (_, k) => new Float32Array(784).map((_, i) => Math.cos(i * (k + 1))));
    const fixed = await repo.infer('tiny-gray-b2', inputs);
    assert.equal(fixed.length, 3);
    assert.deepEqual(sizes, [2, 1]);
    // Same weights as tiny-gray, whose graph has a dynamic batch axis.
    const session = await ort.InferenceSession.create(join(FIXTURE_REPOSITORY, 'tiny-gray', 'model.onnx'));
    for (const [k, x] of inputs.entries()) {
      const expected = (await session.run({ input: new ort.Tensor('float32', x.slice(), [1, 1, 28, 28]) })).logits!.data as Float32Array;
      fixed[k]!.forEach((v, j) => assert.ok(Math.abs(v - expected[j]!) < 1e-5));
    }
    await session.release();
  } finally {
    await repo.close();
  }

  const { root: copy, cleanup } = await copyRepository();
  const config = JSON.parse(await readFile(join(root, 'tiny-gray-b2', 'config.json'), 'utf8'));
  await mkdir(join(copy, 'b2'));
  await writeFile(join(copy, 'b2', 'model.onnx'), await readFile(join(root, 'tiny-gray-b2', 'model.onnx')));
  await writeFile(join(copy, 'b2', 'config.json'), JSON.stringify({ ...config, input: { ...config.input, shape: [-1, 1, 28, 28] } }));
  const dynamic = new ModelRepository(settings(copy), recordingLog());
  try {
    await dynamic.load();
    assert.match(dynamic.metadata('tiny-gray-b2').reason ?? '', /disagrees with the model's input shape \[2, 1, 28, 28\]/);
  } finally {
    await dynamic.close();
    await cleanup();
  }
});
