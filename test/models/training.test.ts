import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findDataDir, loadTestSet, normalizedBatch } from '../../models/evaluation/fashion-mnist.ts';
import { createSession, grayscaleNorm, runLogits, type ModelConfig } from '../../models/evaluation/repository.ts';
import { pythonTorchMissing, runPython, TRAINING } from './python.ts';

test('train.py one tiny epoch, export.py, ONNX Runtime matches PyTorch logits', async (t) => {
  const missing = pythonTorchMissing();
  if (missing) return t.skip(missing);
  if (!findDataDir()) return t.skip('dataset-fashion-mnist not installed: nothing to train on');
  const dir = mkdtempSync(join(tmpdir(), 'zoo-train-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const run = join(dir, 'run');
  const dest = join(dir, 'smoke');
  runPython([join(TRAINING, 'train.py'), '--arch', 'googlenet', '--out', run, '--epochs', '1',
    '--limit', '64', '--batch-size', '32', '--val-limit', '64', '--test-limit', '64']);
  const log = JSON.parse(readFileSync(join(run, 'train_log.json'), 'utf8'));
  assert.equal(log.epochs, 1);
  assert.equal(log.steps, 2);
  runPython([join(TRAINING, 'export.py'), '--arch', 'googlenet', '--run', run, '--dest', dest, '--reference', '32']);

  const cfg = JSON.parse(readFileSync(join(dest, 'config.json'), 'utf8')) as ModelConfig;
  const ref = JSON.parse(readFileSync(join(dest, 'reference.json'), 'utf8')) as { indices: number[]; logits: number[][] };
  const set = loadTestSet();
  const n = ref.indices.length;
  const session = await createSession(join(dest, cfg.file), 1);
  const { mean, std } = grayscaleNorm(cfg);
  const logits = await runLogits(session, cfg, normalizedBatch(set, 0, n, mean, std), n);
  await session.release();
  let gap = 0;
  ref.logits.forEach((row, r) => row.forEach((v, j) => { gap = Math.max(gap, Math.abs(v - logits[r * 10 + j]!)); }));
  assert.ok(gap < 1e-3, `max |ORT - PyTorch| = ${gap}`);

  const fp16Variant = cfg.variants?.fp16;
  assert.ok(fp16Variant, 'export.py must record an fp16 variant in config.json');
  const fp16 = await createSession(join(dest, fp16Variant.file), 1);
  const l16 = await runLogits(fp16, cfg, normalizedBatch(set, 0, 4, mean, std), 4);
  await fp16.release();
  assert.equal(l16.length, 40);
});
