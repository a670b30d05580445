import { decodeCrop, flipHorizontal, normalize, specOf, type Crop, type Geometry, type PreprocessSpec } from './preprocess.ts';
import type { ModelRepository } from './model-repository.ts';
import type { ModelConfig, Voting } from './model-config.ts';
import { InvalidParamError, ModelNotReadyError } from './errors.ts';
import { hardVote, softVote, topK, weightedVote, type Probabilities } from './voting.ts';

export interface Prediction {
  label: string;
  index: number;
  probability: number;
}

export type Stage = 'preprocess' | 'run' | 'postprocess';

/** Told how long each stage took (seconds), for metrics. */
export type StageTimer = (model: string, stage: Stage, seconds: number) => void;

export interface ClassifyOptions {
  topK: number;
  /** Each image's displayed size when already known (saves reading its header again). */
  sizes?: readonly { width: number; height: number }[];
  tta: boolean;
  /** Decode limit per image (pixels). */
  maxPixels: number;
  timer?: StageTimer;
}

async function timed<T>(timer: StageTimer | undefined, model: string, stage: Stage, work: () => Promise<T> | T): Promise<T> {
  const started = performance.now();
  try {
    return await work();
  } finally {
    timer?.(model, stage, (performance.now() - started) / 1000);
  }
}

/** Top-k of a probability vector as predictions; `tieBreak` orders equal scores (hard voting). */
export function predictions(labels: readonly string[], scores: Probabilities, k: number, tieBreak?: Probabilities): Prediction[] {
  return topK(scores, Math.min(k, labels.length), tieBreak).map((index) => ({ label: labels[index]!, index, probability: scores[index]! }));
}

/**
 * Class probabilities of each image for one model: preprocess (as the model's config says),
 * run through its batcher, softmax where it gives logits. With `tta`, the flipped image runs in
 * the same batch and the two vectors are averaged.
 */
async function probabilities(repo: ModelRepository, model: string, tensors: Float32Array[], spec: PreprocessSpec, tta: boolean, timer?: StageTimer): Promise<Float32Array[]> {
  const inputs = tta ? [...tensors, ...tensors.map((t) => flipHorizontal(t, spec))] : tensors;
  const probs = await timed(timer, model, 'run', () => repo.predict(model, inputs));
  if (!tta) return probs;
  return tensors.map((_, i) => {
    const a = probs[i]!;
    const b = probs[i + tensors.length]!;
    return a.map((v, j) => (v + b[j]!) / 2);
  });
}

/**
 * Preprocesses a request's images for several models: each image is decoded once per distinct
 * geometry (channels, resize, crop), and normalised once per distinct spec. An ensemble of models
 * trained on the same data thus decodes each upload once.
 */
class TensorCache {
  private readonly crops = new Map<string, Promise<Crop[]>>();
  private readonly tensors = new Map<string, Promise<Float32Array[]>>();
  constructor(private readonly images: readonly Buffer[], private readonly options: ClassifyOptions) {}

  get(model: string, config: ModelConfig): Promise<Float32Array[]> {
    const spec = specOf(config);
    const key = JSON.stringify(spec);
    let tensors = this.tensors.get(key);
    if (!tensors) {
      tensors = timed(this.options.timer, model, 'preprocess', async () => (await this.cropsFor(spec)).map((crop) => normalize(crop, spec)));
      this.tensors.set(key, tensors);
    }
    return tensors;
  }

  private cropsFor(geometry: Geometry): Promise<Crop[]> {
    const key = `${geometry.channels}/${geometry.resize}/${geometry.crop}`;
    let crops = this.crops.get(key);
    if (!crops) {
      const { maxPixels, sizes } = this.options;
      crops = Promise.all(this.images.map((image, i) => decodeCrop(image, geometry, { maxPixels, size: sizes?.[i] })));
      this.crops.set(key, crops);
    }
    return crops;
  }
}

export interface ModelResult {
  model: string;
  results: { predictions: Prediction[] }[];
}

/**
 * Classifies images with one model.
 * @example await classifyWithModel(repo, 'resnet', [png], { topK: 5, tta: false, maxPixels: 4e7 })
 */
export async function classifyWithModel(repo: ModelRepository, model: string, images: readonly Buffer[], options: ClassifyOptions): Promise<ModelResult> {
  const { config } = repo.get(model);
  repo.checkRoom(model, images.length * (options.tta ? 2 : 1));
  const tensors = await new TensorCache(images, options).get(model, config);
  const probs = await probabilities(repo, model, tensors, specOf(config), options.tta, options.timer);
  const results = await timed(options.timer, model, 'postprocess', () =>
    probs.map((p) => ({ predictions: predictions(config.labels, p, options.topK) })));
  return { model, results };
}

export interface EnsembleOptions extends ClassifyOptions {
  voting: Voting;
  /** Subset of the members, in the order wanted; default all. */
  models?: string[];
  /** Weighted voting: one per model used; default the ensemble's configured weights. */
  weights?: number[];
}

export interface EnsembleResult {
  ensemble: string;
  voting: Voting;
  models: string[];
  weights?: number[];
  results: {
    predictions: Prediction[];
    members: { model: string; predictions: Prediction[] }[];
    votes?: Record<string, number>;
  }[];
}

/**
 * Classifies images with every member (or a subset) of an ensemble and combines them by voting.
 * Members must share their labels; each may preprocess differently.
 */
export async function classifyWithEnsemble(repo: ModelRepository, name: string, images: readonly Buffer[], options: EnsembleOptions): Promise<EnsembleResult> {
  const ensemble = repo.getEnsemble(name);
  const models = options.models ?? ensemble.members;
  const unknown = models.filter((m) => !ensemble.members.includes(m));
  if (unknown.length > 0) {
    throw Object.assign(new InvalidParamError(`expected members of ensemble ${name} (${ensemble.members.join(', ')}) for models, got ${unknown.join(', ')}`), { param: 'models' });
  }
  if (new Set(models).size !== models.length) {
    throw Object.assign(new InvalidParamError(`expected distinct model names for models, got ${models.join(',')}`), { param: 'models' });
  }
  let weights: number[] | undefined;
  if (options.voting === 'weighted') {
    weights = options.weights ?? models.map((m) => ensemble.weights[ensemble.members.indexOf(m)]!);
    if (weights.length !== models.length) {
      throw Object.assign(new InvalidParamError(`expected ${models.length} weights (one per model used) for weights, got ${weights.length}`), { param: 'weights' });
    }
    if (weights.every((w) => w === 0)) throw Object.assign(new InvalidParamError('expected at least one positive weight for weights, got all zero'), { param: 'weights' });
  }
  const configs = models.map((m) => repo.get(m).config);
  const labels = configs[0]!.labels;
  configs.forEach((c) => {
    if (c.labels.length !== labels.length || c.labels.some((l, i) => l !== labels[i])) {
      throw new ModelNotReadyError(`ensemble ${name}: members ${models[0]} and ${c.name} have different labels`);
    }
  });

  for (const model of models) repo.checkRoom(model, images.length * (options.tta ? 2 : 1));
  const cache = new TensorCache(images, options);
  const perMember = await Promise.all(models.map(async (model, m) => {
    const tensors = await cache.get(model, configs[m]!);
    return probabilities(repo, model, tensors, specOf(configs[m]!), options.tta, options.timer);
  }));

  const started = performance.now();
  const results = images.map((_, i) => {
    const memberProbs = perMember.map((probs) => probs[i]!);
    const members = models.map((model, m) => ({ model, predictions: predictions(labels, memberProbs[m]!, options.topK) }));
    if (options.voting === 'hard') {
      const vote = hardVote(memberProbs);
      const votes: Record<string, number> = {};
      vote.votes.forEach((count, index) => {
        if (count > 0) votes[labels[index]!] = count;
      });
      return { predictions: predictions(labels, vote.probabilities, options.topK, vote.summed), members, votes };
    }
    const combined = options.voting === 'weighted' ? weightedVote(memberProbs, weights!) : softVote(memberProbs);
    return { predictions: predictions(labels, combined, options.topK), members };
  });
  options.timer?.(name, 'postprocess', (performance.now() - started) / 1000);
  const total = weights?.reduce((a, b) => a + b, 0);
  return {
    ensemble: name,
    voting: options.voting,
    models,
    ...(weights ? { weights: weights.map((w) => w / total!) } : {}),
    results,
  };
}
