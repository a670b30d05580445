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

export function createSession(path: string, threads = 2): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(path, { executionProviders: ['cpu'], intraOpNumThreads: threads });
}

/** Run a float32 NCHW batch through a session, returning the flat logits. */
export async function runLogits(
  session: ort.InferenceSession, cfg: ModelConfig, data: Float32Array, n: number,
): Promise<Float32Array> {
  const [, c, h, w] = cfg.input.shape;
  const feeds = { [cfg.input.name]: new ort.Tensor('float32', data, [n, c, h, w]) };
  const out = await session.run(feeds);
  return out[cfg.output.name].data as Float32Array;
}
