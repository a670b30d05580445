import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';

export const MODELS_DIR = join(import.meta.dirname ?? new URL('.', import.meta.url).pathname, '..');

export interface Accuracy { dataset: string; images: number; top1: number; runtime: string }
export interface ModelConfig {
  name: string; version: string; architecture: string; file: string; sha256: string;
  input: { name: string; shape: number[]; datatype: string; layout: string };
  output: { name: string; shape: number[]; kind: string };
  preprocess: { channels: number; resize: number; crop: number; mean: number[]; std: number[] };
  labels: string[]; accuracy: Accuracy | null; parameters: number;
  training?: Record<string, unknown>;
  variants?: Record<string, { file: string; sha256: string; accuracy: Accuracy | null }>;
  notes?: string;
}

/** Names of the served models: direct subfolders of models/ holding a config.json. */
export function listModels(dir = MODELS_DIR): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isDirectory() && existsSync(join(dir, e.name, 'config.json')))
    .map((e) => e.name)
    .sort();
}

export function readConfig(name: string, dir = MODELS_DIR): ModelConfig {
  return JSON.parse(readFileSync(join(dir, name, 'config.json'), 'utf8')) as ModelConfig;
}

export function sha256File(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

/** Number of classes: the k of the config's [batch, k] output shape. */
export function classCount(cfg: ModelConfig): number {
  const k = cfg.output.shape[1];
  if (cfg.output.shape.length !== 2 || k === undefined || k <= 0) {
    throw new Error(`expected output shape [batch, classes] for ${cfg.name}, got [${cfg.output.shape.join(', ')}]`);
  }
  return k;
}

/** The single-channel normalization (mean, std) of the config's `preprocess`. */
export function grayscaleNorm(cfg: ModelConfig): { mean: number; std: number } {
  const [mean] = cfg.preprocess.mean;
  const [std] = cfg.preprocess.std;
  if (mean === undefined || std === undefined) {
    throw new Error(`expected one preprocess mean and std for ${cfg.name}, got mean=[${cfg.preprocess.mean.join(', ')}] std=[${cfg.preprocess.std.join(', ')}]`);
  }
  return { mean, std };
}

export function createSession(path: string, threads = 2): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(path, { executionProviders: ['cpu'], intraOpNumThreads: threads });
}

/** Run a float32 NCHW batch through a session, returning the flat logits. */
export async function runLogits(
  session: ort.InferenceSession, cfg: ModelConfig, data: Float32Array, n: number,
): Promise<Float32Array> {
  const [, c, h, w] = cfg.input.shape;
  if (cfg.input.shape.length !== 4 || c === undefined || h === undefined || w === undefined) {
    throw new Error(`expected NCHW input shape for ${cfg.name}, got [${cfg.input.shape.join(', ')}]`);
  }
  const feeds = { [cfg.input.name]: new ort.Tensor('float32', data, [n, c, h, w]) };
  const out = await session.run(feeds);
  const logits = out[cfg.output.name];
  if (!logits) throw new Error(`expected output ${cfg.output.name} from ${cfg.name}, got ${Object.keys(out).join(', ')}`);
  return logits.data as Float32Array;
}
