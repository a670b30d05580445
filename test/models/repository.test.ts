import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { findDataDir, loadTestSet, normalizedBatch } from '../../models/evaluation/fashion-mnist.ts';
import {
  createSession, grayscaleNorm, listModels, MODELS_DIR, readConfig, runLogits, sha256File,
} from '../../models/evaluation/repository.ts';
import { argmaxRows } from '../../models/evaluation/metrics.ts';

const MAX_FILE_BYTES = 10 * 1024 * 1024;
const models = listModels();

test('the repository serves the three committed models and nothing else by accident', () => {
  for (const name of ['vgg', 'googlenet', 'resnet']) assert.ok(models.includes(name), name);
  for (const notAModel of ['training', 'ensembles', 'examples', 'results', 'evaluation']) {
    assert.ok(!models.includes(notAModel), `${notAModel}/ must not hold a config.json`);
  }
});

for (const name of models) {
  test(`${name}: config is complete and its files match their sha256`, () => {
    const cfg = readConfig(name);
    assert.equal(cfg.name, name);
    assert.equal(typeof cfg.version, 'string');
    assert.deepEqual(cfg.input, { name: 'input', shape: [-1, 1, 28, 28], datatype: 'FP32', layout: 'NCHW' });
    assert.deepEqual(cfg.output, { name: 'logits', shape: [-1, 10], kind: 'logits' });
    assert.equal(cfg.preprocess.channels, 1);
    assert.equal(cfg.preprocess.mean.length, cfg.preprocess.channels);
    assert.equal(cfg.preprocess.std.length, cfg.preprocess.channels);
    assert.equal(cfg.labels.length, 10);
    assert.ok(cfg.parameters > 0);
    const files = [{ file: cfg.file, sha256: cfg.sha256 }, ...Object.values(cfg.variants ?? {})];
    for (const f of files) {
      const path = join(MODELS_DIR, name, f.file);
      assert.equal(sha256File(path), f.sha256, f.file);
      assert.ok(statSync(path).size <= MAX_FILE_BYTES, `${f.file} exceeds 10 MB`);
    }
  });

  test(`${name}: ONNX Runtime runs any batch size and returns 10 logits per image`, async () => {
    const cfg = readConfig(name);
    for (const file of [cfg.file, ...Object.values(cfg.variants ?? {}).map((v) => v.file)]) {
      const session = await createSession(join(MODELS_DIR, name, file), 1);
      for (const n of [1, 5]) {
        const logits = await runLogits(session, cfg, new Float32Array(n * 28 * 28), n);
        assert.equal(logits.length, n * 10, `${file} batch ${n}`);
        assert.ok(logits.every(Number.isFinite));
      }
      await session.release();
    }
  });

  test(`${name}: classifies real test images and matches the PyTorch reference`, async (t) => {
    if (!findDataDir()) return t.skip('dataset-fashion-mnist not installed: no real images to classify');
    const cfg = readConfig(name);
    const set = loadTestSet();
    const n = 32;
    const session = await createSession(join(MODELS_DIR, name, cfg.file), 1);
    const { mean, std } = grayscaleNorm(cfg);
    const logits = await runLogits(session, cfg, normalizedBatch(set, 0, n, mean, std), n);
    await session.release();
    const pred = argmaxRows(logits, 10);
    const correct = pred.filter((p, i) => p === set.labels[i]).length;
    assert.ok(correct >= 28, `${correct}/${n} correct`);
    const ref = JSON.parse(readFileSync(join(MODELS_DIR, name, 'reference.json'), 'utf8')) as { indices: number[]; logits: number[][] };
    let gap = 0;
    ref.indices.filter((i) => i < n).forEach((idx, r) => ref.logits[r]?.forEach((v, j) => {
      gap = Math.max(gap, Math.abs(v - logits[idx * 10 + j]!));
    }));
    assert.ok(gap < 1e-3, `max |ORT - PyTorch| = ${gap}`);
  });
}

test('ensemble configs name served models with one weight each', () => {
  const ens = JSON.parse(readFileSync(join(MODELS_DIR, 'ensembles', 'default.json'), 'utf8'));
  assert.equal(ens.name, 'default');
  assert.ok(['soft', 'hard'].includes(ens.voting));
  assert.equal(ens.weights.length, ens.members.length);
  for (const m of ens.members) assert.ok(models.includes(m), m);
});

test('the torchvision example config declares 3-channel ImageNet preprocessing', () => {
  const cfg = JSON.parse(readFileSync(join(MODELS_DIR, 'examples', 'resnet18-imagenet', 'config.json'), 'utf8'));
  assert.deepEqual(cfg.input.shape, [-1, 3, 224, 224]);
  assert.deepEqual(cfg.preprocess, { channels: 3, resize: 256, crop: 224, mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] });
  assert.equal(cfg.labels.length, cfg.output.shape[1]);
  assert.match(cfg.sha256, /^[0-9a-f]{64}$/);
});
