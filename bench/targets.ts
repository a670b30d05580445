import { OWN_STACKS, type AugmentRatio, type AugmentResult } from './augment-suite.ts';
import type { InferenceResult, InferenceSuiteResult } from './inference-suite.ts';
import { round } from './stats.ts';

/** One target of the issue, checked against this run's figures (never adjusted to pass). */
export interface Target {
  id: string;
  description: string;
  value: number;
  target: number;
  /** `>=`: value must reach target; `<=`: value must stay under it. */
  compare: '>=' | '<=';
  met: boolean;
}

export function check(id: string, description: string, value: number, target: number, compare: Target['compare'] = '>='): Target {
  const met = Number.isFinite(value) && (compare === '>=' ? value >= target : value <= target);
  return { id, description, value: round(value), target, compare, met };
}

/** Issue 16's targets: the raw-body upload against in-process sharp (multipart reported beside it), and the best Python stack. */
export const AUGMENT_TARGETS = { vsSharp: 0.9, vsPython: 1.0 };

/** Augmentation targets at the highest concurrency measured (32 in full runs). */
export function augmentTargets(ratios: AugmentRatio[]): Target[] {
  const top = Math.max(...ratios.map((r) => r.concurrency));
  return ratios
    .filter((r) => r.concurrency === top)
    .flatMap((r) => [
      check(
        `augment/${r.input}/${r.op}/vs-sharp`,
        `${r.op} on ${r.input}: service (${r.service_raw_vs_sharp === null ? 'multipart: two images' : 'raw body'}) ÷ in-process sharp at concurrency ${top}`,
        r.service_raw_vs_sharp ?? r.service_vs_sharp,
        AUGMENT_TARGETS.vsSharp,
      ),
      // An operation no Python stack of this run has (ColorJitter, the policies without torchvision) has no such target.
      ...(Number.isFinite(r.service_vs_best_python)
        ? [check(`augment/${r.input}/${r.op}/vs-python`, `${r.op} on ${r.input}: service at concurrency ${top} ÷ best Python (${r.best_python})`, r.service_vs_best_python, AUGMENT_TARGETS.vsPython)]
        : []),
      check(`augment/${r.input}/${r.op}/dims`, `${r.op} on ${r.input}: every stack gives the expected output size (1 = yes)`, r.dims_match ? 1 : 0, 1),
    ]);
}

export function bestPython(results: AugmentResult[], input: string, op: string): AugmentResult | undefined {
  return results
    .filter((r) => r.input === input && r.op === op && !OWN_STACKS.includes(r.stack))
    .reduce<AugmentResult | undefined>((a, b) => (!a || b.throughput > a.throughput ? b : a), undefined);
}

/** Per-model comparisons of the service with the raw session and PyTorch. */
export interface ModelRatios {
  model: string;
  raw_best_images_per_s: number;
  raw_best_batch: number;
  raw_single_p50_ms: number;
  single_c32_batching: number | null;
  single_c32_vs_raw_best: number | null;
  multi_best: number | null;
  multi_vs_raw_best: number | null;
  single_c1_vs_torch_b1: number | null;
  raw_b1_vs_torch_b1: number | null;
  c1_p50_minus_raw_ms_batching: number | null;
  c1_p50_minus_raw_ms_no_batching: number | null;
  best_single_batching_vs_no_batching: number | null;
}

const find = (rs: InferenceResult[], model: string, stack: string, c: number, batch: number) =>
  rs.find((r) => r.model === model && r.stack === stack && r.concurrency === c && r.batch === batch);

export function modelRatios(suite: InferenceSuiteResult, imagesPerRequest: number): ModelRatios[] {
  return suite.models.map(({ name }) => {
    const rs = suite.results.filter((r) => r.model === name);
    const raw = rs.filter((r) => r.stack === 'raw-session');
    const best = raw.reduce((a, b) => (b.throughput > a.throughput ? b : a));
    const rawB1 = raw.find((r) => r.batch === 1)!;
    const c32 = find(rs, name, 'service-batching', 32, 1) ?? null;
    const multi = rs.filter((r) => r.stack === 'service-batching' && r.batch === imagesPerRequest);
    const multiBest = multi.length ? Math.max(...multi.map((r) => r.throughput)) : null;
    const torchB1 = find(rs, name, 'pytorch-eager', 1, 1);
    const c1b = find(rs, name, 'service-batching', 1, 1);
    const c1n = find(rs, name, 'service-no-batching', 1, 1);
    const singles = (stack: string) => rs.filter((r) => r.stack === stack && r.batch === 1).map((r) => r.throughput);
    const on = singles('service-batching');
    const off = singles('service-no-batching');
    const ratio = (a: number | undefined | null, b: number | undefined | null) => (a != null && b ? round(a / b) : null);
    return {
      model: name,
      raw_best_images_per_s: best.throughput,
      raw_best_batch: best.batch,
      raw_single_p50_ms: rawB1.p50_ms,
      single_c32_batching: c32?.throughput ?? null,
      single_c32_vs_raw_best: ratio(c32?.throughput, best.throughput),
      multi_best: multiBest,
      multi_vs_raw_best: ratio(multiBest, best.throughput),
      single_c1_vs_torch_b1: ratio(c1b?.throughput ?? c1n?.throughput, torchB1?.throughput),
      raw_b1_vs_torch_b1: ratio(rawB1.throughput, torchB1?.throughput),
      c1_p50_minus_raw_ms_batching: c1b ? round(c1b.p50_ms - rawB1.p50_ms) : null,
      c1_p50_minus_raw_ms_no_batching: c1n ? round(c1n.p50_ms - rawB1.p50_ms) : null,
      best_single_batching_vs_no_batching: on.length && off.length ? round(Math.max(...on) / Math.max(...off)) : null,
    };
  });
}

export function inferenceTargets(ratios: ModelRatios[]): Target[] {
  return ratios.flatMap((r) => {
    const big = r.model === 'resnet18';
    const out: Target[] = [];
    if (r.single_c32_vs_raw_best !== null) {
      out.push(check(`inference/${r.model}/single-c32`, `${r.model}: single-image requests at concurrency 32 (batching) ÷ raw session's best batched`, r.single_c32_vs_raw_best, big ? 0.85 : 0.5));
    }
    if (r.multi_vs_raw_best !== null) {
      out.push(check(`inference/${r.model}/multi`, `${r.model}: multi-image requests (best concurrency) ÷ raw session's best batched`, r.multi_vs_raw_best, big ? 0.95 : 0.8));
    }
    if (r.single_c1_vs_torch_b1 !== null) {
      out.push(check(`inference/${r.model}/vs-torch`, `${r.model}: service single-image at concurrency 1 ÷ PyTorch eager batch 1`, r.single_c1_vs_torch_b1, 2));
    }
    if (r.c1_p50_minus_raw_ms_batching !== null) {
      out.push(check(`inference/${r.model}/latency-batching`, `${r.model}: p50 at concurrency 1 (batching on) − raw batch-1 p50, ms`, r.c1_p50_minus_raw_ms_batching, 2, '<='));
    }
    if (r.c1_p50_minus_raw_ms_no_batching !== null) {
      out.push(check(`inference/${r.model}/latency-no-batching`, `${r.model}: p50 at concurrency 1 (batching off) − raw batch-1 p50, ms`, r.c1_p50_minus_raw_ms_no_batching, 2, '<='));
    }
    return out;
  });
}

/** Issue 14's targets for the shard endpoint. */
export const SHARD_TARGETS = { vsInProcess: 0.95, vsDataLoader: 2 };
/** Issue 24: the recipe as tensors out against the DataLoader, the endpoint against in-process, cache warm (epoch 2) against the DataLoader. */
export const RECIPE_TARGETS = { vsDataLoader: 1, vsInProcess: 0.95, cacheWarmVsDataLoader: 2 };

/** The shard suite's targets: against its per-sample function in-process, and against the DataLoader doing the same operations (tensor out, no encode). */
export function shardTargets(
  ratios: { shard_vs_in_process: number; shard_vs_dataloader: Record<string, number> },
  recipe?: { shard_vs_in_process: number; shard_vs_dataloader?: number; cache_warm_vs_dataloader?: number },
): Target[] {
  const targets = [check('shard/vs-in-process', 'shard endpoint ÷ the same per-sample function in-process (same concurrency)', ratios.shard_vs_in_process, SHARD_TARGETS.vsInProcess)];
  const dataloader = ratios.shard_vs_dataloader['same-ops'];
  if (dataloader !== undefined) targets.push(check('shard/vs-dataloader', 'shard endpoint ÷ PyTorch DataLoader, 2 workers, same operations (no encode)', dataloader, SHARD_TARGETS.vsDataLoader));
  if (recipe) {
    if (recipe.shard_vs_dataloader !== undefined) targets.push(check('shard/recipe-vs-dataloader', 'issue 24 recipe, format=npy: shard endpoint ÷ PyTorch DataLoader (2 workers, uint8 tensors)', recipe.shard_vs_dataloader, RECIPE_TARGETS.vsDataLoader));
    targets.push(check('shard/recipe-vs-in-process', 'issue 24 recipe, format=npy: shard endpoint ÷ the same per-sample function in-process', recipe.shard_vs_in_process, RECIPE_TARGETS.vsInProcess));
    if (recipe.cache_warm_vs_dataloader !== undefined) targets.push(check('shard/recipe-cache-warm-vs-dataloader', 'issue 24 recipe, format=npy, SHARD_CACHE_MB warm (a later epoch) ÷ PyTorch DataLoader', recipe.cache_warm_vs_dataloader, RECIPE_TARGETS.cacheWarmVsDataLoader));
  }
  return targets;
}
