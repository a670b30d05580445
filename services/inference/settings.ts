import { availableParallelism } from 'node:os';
import { parseProviders, type ProviderSpec } from './providers.ts';

/** Everything the inference service reads from the environment, validated once at start. */
export interface InferenceSettings {
  /** Folder whose direct subfolders holding a `config.json` are models. */
  modelRepository: string;
  /** Execution providers tried in order, each alone, per model. */
  providers: ProviderSpec[];
  /** Worker threads, each holding one session per model. */
  workers: number;
  /** onnxruntime intra-op threads per session (0 lets onnxruntime choose). */
  intraOpThreads: number;
  /** Per-request deadline, queue wait included. */
  timeoutMs: number;
  /** Largest batch sent to a session; 1 when dynamic batching is off. */
  maxBatchSize: number;
  /** How long the first queued image waits for company before its batch is flushed. */
  maxBatchDelayMs: number;
  /** Images waiting per model beyond which requests are refused with INF_QUEUE_FULL. */
  maxQueue: number;
  /** Images accepted in one classify request. */
  maxImagesPerRequest: number;
  /** Name of a `variants` entry to serve instead of `file` where a model declares it (e.g. fp16). */
  modelVariant: string | undefined;
}

function integer(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(`expected an integer in [${min}, ${max}] for ${name}, got ${JSON.stringify(raw)}`);
  }
  return value;
}

function boolean(env: NodeJS.ProcessEnv, name: string, fallback: boolean): boolean {
  const raw = env[name]?.trim().toLowerCase();
  if (raw === undefined || raw === '') return fallback;
  if (['1', 'true', 'yes', 'on'].includes(raw)) return true;
  if (['0', 'false', 'no', 'off'].includes(raw)) return false;
  throw new RangeError(`expected true or false for ${name}, got ${JSON.stringify(env[name])}`);
}

/**
 * Reads and validates the inference settings; throws a RangeError naming the variable on bad input.
 * @example readInferenceSettings({ MAX_BATCH_SIZE: '8' }).maxBatchSize // 8
 */
export function readInferenceSettings(env: NodeJS.ProcessEnv = process.env): InferenceSettings {
  const dynamicBatching = boolean(env, 'DYNAMIC_BATCHING', true);
  const maxBatchSize = dynamicBatching ? integer(env, 'MAX_BATCH_SIZE', 32, 1, 4096) : 1;
  // Two workers let one batch be prepared while another runs without oversubscribing small hosts.
  const defaultWorkers = Math.min(2, Math.max(1, availableParallelism() - 1));
  const maxQueue = integer(env, 'MAX_QUEUE', 1024, 1);
  const maxImagesPerRequest = integer(env, 'MAX_IMAGES_PER_REQUEST', 64, 1, 100_000);
  // A request larger than the queue could never be admitted, and would read as overload forever.
  if (maxQueue < maxImagesPerRequest) {
    throw new RangeError(`expected MAX_QUEUE >= MAX_IMAGES_PER_REQUEST (${maxImagesPerRequest}), got ${maxQueue}`);
  }
  return {
    modelRepository: env.MODEL_REPOSITORY?.trim() || 'models',
    providers: parseProviders(env.EXECUTION_PROVIDERS, env.CUDA_DEVICE_ID),
    workers: integer(env, 'INFERENCE_WORKERS', defaultWorkers, 1, 64),
    intraOpThreads: integer(env, 'INTRA_OP_THREADS', 0, 0, 256),
    timeoutMs: integer(env, 'INFERENCE_TIMEOUT_MS', 30_000, 1),
    maxBatchSize,
    maxBatchDelayMs: dynamicBatching ? integer(env, 'MAX_BATCH_DELAY_MS', 2, 0, 10_000) : 0,
    maxQueue,
    maxImagesPerRequest,
    modelVariant: env.MODEL_VARIANT?.trim() || undefined,
  };
}
