/**
 * Score every served model with onnxruntime-node (CPU) on the 10,000 Fashion-MNIST test images.
 *
 *   npx tsx models/evaluate.ts [--write-configs]
 *
 * Per model: fp32 top-1, the fp16 variant when ONNX Runtime's CPU provider can run it,
 * the largest |ORT - PyTorch| logit gap against reference.json, and the soft/hard voting
 * ensembles of models/ensembles/*.json. Writes models/results/evaluation.json; with
 * --write-configs also records the ORT accuracies in the configs (sha256 is untouched:
 * it covers the .onnx file, not the config).
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadTestSet, normalizedBatch, type TestSet } from './evaluation/fashion-mnist.ts';
import {
  classCount, createSession, grayscaleNorm, listModels, MODELS_DIR, readConfig, runLogits, sha256File, type Accuracy,
  type ModelConfig,
} from './evaluation/repository.ts';
import { accuracy, argmaxRows, ensemblePredictions, softmaxRows } from './evaluation/metrics.ts';

const RUNTIME = 'onnxruntime-node 1.30.0 (cpu)';
const BATCH = 500;

interface EnsembleConfig {
  name: string; members: string[]; weights: number[]; voting: string;
  accuracy?: { soft: number; hard: number } & Omit<Accuracy, 'top1'>;
}

async function allLogits(path: string, cfg: ModelConfig, set: TestSet): Promise<Float32Array> {
  const session = await createSession(path);
  const k = classCount(cfg);
  const { mean, std } = grayscaleNorm(cfg);
  const out = new Float32Array(set.count * k);
  for (let s = 0; s < set.count; s += BATCH) {
    const n = Math.min(BATCH, set.count - s);
    const batch = normalizedBatch(set, s, n, mean, std);
    out.set(await runLogits(session, cfg, batch, n), s * k);
  }
  await session.release();
  return out;
}

function referenceGap(dir: string, logits: Float32Array, k: number): number | null {
  const refPath = join(dir, 'reference.json');
  if (!existsSync(refPath)) return null;
  const ref = JSON.parse(readFileSync(refPath, 'utf8')) as { indices: number[]; logits: number[][] };
  let max = 0;
  ref.indices.forEach((idx, r) => {
    const row = ref.logits[r];
    if (!row) throw new Error(`expected one logits row per index in ${refPath}, got ${ref.logits.length} for ${ref.indices.length}`);
    row.forEach((v, j) => { max = Math.max(max, Math.abs(v - logits[idx * k + j]!)); });
  });
  return max;
}

async function main(): Promise<void> {
  const write = process.argv.includes('--write-configs');
  const set = loadTestSet();
  const results: Record<string, unknown> = { dataset: 'fashion-mnist-test', images: set.count, runtime: RUNTIME, models: {} };
  const probs = new Map<string, Float32Array[]>();
  for (const name of listModels()) {
    const dir = join(MODELS_DIR, name);
    const cfg = readConfig(name);
    const file = join(dir, cfg.file);
    const k = classCount(cfg);
    const t0 = Date.now();
    const logits = await allLogits(file, cfg, set);
    const top1 = accuracy(argmaxRows(logits, k), set.labels);
    const entry: Record<string, unknown> = {
      top1, seconds: (Date.now() - t0) / 1000, sha256_ok: sha256File(file) === cfg.sha256,
      file_bytes: statSync(file).size, parameters: cfg.parameters,
      max_abs_logit_diff_vs_pytorch: referenceGap(dir, logits, k),
    };
    probs.set(name, softmaxRows(logits, k));
    const fp16 = cfg.variants?.fp16;
    if (fp16) {
      const f16 = join(dir, fp16.file);
      const v: Record<string, unknown> = { file_bytes: statSync(f16).size, sha256_ok: sha256File(f16) === fp16.sha256 };
      try {
        const l16 = await allLogits(f16, cfg, set);
        v.top1 = accuracy(argmaxRows(l16, k), set.labels);
        v.runtime = RUNTIME;
        let gap = 0;
        for (let i = 0; i < l16.length; i++) gap = Math.max(gap, Math.abs(l16[i]! - logits[i]!));
        v.max_abs_logit_diff_vs_fp32 = gap;
        if (write) fp16.accuracy = { dataset: 'fashion-mnist-test', images: set.count, top1: v.top1 as number, runtime: RUNTIME };
      } catch (err) {
        v.ort_cpu_error = String((err as Error).message).split('\n')[0];
        v.top1 = fp16.accuracy?.top1 ?? null;
        v.runtime = fp16.accuracy?.runtime ?? null;
      }
      entry.fp16 = v;
    }
    (results.models as Record<string, unknown>)[name] = entry;
    console.log(name, JSON.stringify(entry));
    if (write) {
      cfg.accuracy = { dataset: 'fashion-mnist-test', images: set.count, top1, runtime: RUNTIME };
      writeFileSync(join(dir, 'config.json'), JSON.stringify(cfg, null, 2) + '\n');
    }
  }
  const ensDir = join(MODELS_DIR, 'ensembles');
  const ensembles: Record<string, unknown> = {};
  for (const f of existsSync(ensDir) ? readdirSync(ensDir).filter((x) => x.endsWith('.json')) : []) {
    const ens = JSON.parse(readFileSync(join(ensDir, f), 'utf8')) as EnsembleConfig;
    const p = ens.members.map((m) => {
      const memberProbs = probs.get(m);
      if (!memberProbs) throw new Error(`expected served models for ensemble ${ens.name} members, got ${ens.members}`);
      return memberProbs;
    });
    const pred = ensemblePredictions(p, ens.weights);
    const acc = { soft: accuracy(pred.soft, set.labels), hard: accuracy(pred.hard, set.labels) };
    ensembles[ens.name] = { members: ens.members, weights: ens.weights, ...acc };
    console.log('ensemble', ens.name, JSON.stringify(acc));
    if (write) {
      ens.accuracy = { ...acc, dataset: 'fashion-mnist-test', images: set.count, runtime: RUNTIME };
      writeFileSync(join(ensDir, f), JSON.stringify(ens, null, 2) + '\n');
    }
  }
  results.ensembles = ensembles;
  mkdirSync(join(MODELS_DIR, 'results'), { recursive: true });
  writeFileSync(join(MODELS_DIR, 'results', 'evaluation.json'), JSON.stringify(results, null, 2) + '\n');
}

await main();
