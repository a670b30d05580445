import { ConfigError, commonSettings, readConfig, resolveCores, setting, type ConfigOf } from '../shared/config.ts';
import { inferenceParallelism } from '../shared/parallelism.mjs';
import { parseProviders, type ProviderSpec } from './providers.ts';

/** Every environment variable of the inference service, with its default and bounds. */
export const inferenceSettings = {
  ...commonSettings,
  port: setting.int('INFERENCE_PORT', 3002, 0, 65535, 'Port of the inference service.'),
  grpcPort: setting.int('INFERENCE_GRPC_PORT', 8001, 0, 65535, 'Port of the Open Inference Protocol gRPC service (inference.GRPCInferenceService) on HOST; 0 = off.'),
  modelRepository: setting.string('MODEL_REPOSITORY', 'models', 'Folder whose subfolders holding a config.json are models; ensembles/*.json are ensembles.'),
  executionProviders: setting.list('EXECUTION_PROVIDERS', ['cuda', 'cpu'], 'onnxruntime execution providers, tried in order, each alone, per model.'),
  cudaDeviceId: setting.int('CUDA_DEVICE_ID', 0, 0, 255, 'GPU used by the cuda and tensorrt providers.'),
  workers: setting.intOrAuto('INFERENCE_WORKERS', 'auto', 1, 256, 'Worker threads running sessions; each holds every model and runs one batch at a time. `auto` = one per 4 cores (at least 1), so that workers × INTRA_OP_THREADS ≈ cores.'),
  poolNice: setting.int('POOL_NICE', 10, 0, 19, commonSettings.poolNice.description),
  workerNice: setting.int('INFERENCE_WORKER_NICE', 10, 0, 19, 'Scheduling niceness of the inference threads (Linux), so that the event loop stays responsive when the CPU is saturated; 0 = same priority.'),
  intraOpThreads: setting.intOrAuto('INTRA_OP_THREADS', 'auto', 0, 256, 'onnxruntime intra-op threads per session. `auto` = cores ÷ INFERENCE_WORKERS (at least 1); 0 = onnxruntime decides (one per physical core, in every session).'),
  intraOpSpinning: setting.bool('INTRA_OP_SPINNING', false, "onnxruntime's idle intra-op threads spin for the next operator instead of sleeping. Serving one model, true measured 1.3-3 ms lower latency and 8-34 % more throughput; with several models (an ensemble) each session's spinning threads take the cores the next one needs (ensemble 40 % slower), hence off by default."),
  timeoutMs: setting.int('INFERENCE_TIMEOUT_MS', 30_000, 0, 3_600_000, 'Deadline of one classify/infer call, queue wait included (0 = none); beyond, 504.'),
  dynamicBatching: setting.bool('DYNAMIC_BATCHING', true, 'Combine requests arriving close together into one batch; false = batch size 1.'),
  maxBatchSize: setting.int('MAX_BATCH_SIZE', 32, 1, 4096, 'Largest batch run at once; warmed up at start, with 1.'),
  maxBatchDelayMs: setting.int('MAX_BATCH_DELAY_MS', 2, 0, 10_000, 'While a batch is running, how long the oldest queued image waits for company before its batch leaves (an idle model runs at once).'),
  maxQueue: setting.int('MAX_QUEUE', 1024, 1, 1_000_000, 'Images waiting per model; beyond, 503 INF_QUEUE_FULL with Retry-After. At least MAX_IMAGES_PER_REQUEST.'),
  maxImagesPerRequest: setting.int('MAX_IMAGES_PER_REQUEST', 64, 1, 100_000, 'Images in one classify or infer request; beyond, 413.'),
  maxJsonBytes: setting.int('MAX_JSON_BYTES', 64 * 1024 * 1024, 1024, 1024 * 1024 * 1024, 'Bytes of one JSON body (base64 images, V2 tensors).'),
  modelVariant: setting.string('MODEL_VARIANT', '', 'Serve this `variants` entry (e.g. fp16) where a model declares it.'),
  sharpConcurrency: setting.int('SHARP_CONCURRENCY', 1, 0, 64, "libvips threads per image (0 = one per core); 1 lets uploads decode in parallel on libuv's pool instead."),
  maxConcurrentRequests: setting.int('MAX_CONCURRENT_REQUESTS', 256, 1, 100_000, 'Requests processed at once; beyond, 503 with Retry-After.'),
};

export type InferenceConfig = Omit<ConfigOf<typeof inferenceSettings>, 'cores' | 'workers' | 'intraOpThreads'> & {
  /** EXECUTION_PROVIDERS and CUDA_DEVICE_ID read together. */
  providers: ProviderSpec[];
  /** AUGSERVE_CORES resolved. */
  cores: number;
  /** INFERENCE_WORKERS and INTRA_OP_THREADS resolved: workers × threads ≈ cores. */
  workers: number;
  intraOpThreads: number;
};

/**
 * Reads and checks the inference configuration; throws one ConfigError naming each bad variable.
 * With DYNAMIC_BATCHING=false the batch size is 1 and the delay 0.
 * @example readInferenceConfig({ MAX_BATCH_SIZE: '8' }).maxBatchSize // 8
 */
export function readInferenceConfig(env: NodeJS.ProcessEnv = process.env): InferenceConfig {
  const config = readConfig(inferenceSettings, env);
  const problems: string[] = [];
  let providers: ProviderSpec[] = [];
  try {
    providers = parseProviders(config.executionProviders.join(','), String(config.cudaDeviceId));
  } catch (error) {
    problems.push((error as Error).message);
  }
  // A request larger than the queue could never be admitted: it would read as overload forever.
  if (config.maxQueue < config.maxImagesPerRequest) {
    problems.push(`MAX_QUEUE: expected at least MAX_IMAGES_PER_REQUEST (${config.maxImagesPerRequest}), got ${config.maxQueue}`);
  }
  if (problems.length > 0) throw new ConfigError(`invalid configuration:\n  ${problems.join('\n  ')}`);
  if (!config.dynamicBatching) {
    config.maxBatchSize = 1;
    config.maxBatchDelayMs = 0;
  }
  const cores = resolveCores(config.cores);
  const parallel = inferenceParallelism(cores, config.workers === 'auto' ? undefined : config.workers);
  const intraOpThreads = config.intraOpThreads === 'auto' ? parallel.intraOpThreads : config.intraOpThreads;
  return { ...config, providers, cores, workers: parallel.workers, intraOpThreads };
}
