import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import ort from 'onnxruntime-node';
import { readInferenceConfig } from '../services/inference/config.ts';
import { loadModelConfig, type ModelConfig } from '../services/inference/model-config.ts';
import { preprocess, specOf } from '../services/inference/preprocess.ts';
import { sessionOptions } from '../services/inference/providers.ts';
import { runPython } from './augment-suite.ts';
import { cannonMeasure, multipartBody, type HttpRequestSpec } from './http.ts';
import { INFERENCE_INPUTS, inferenceInput, type BenchImage } from './inputs.ts';
import { measure, type Budget } from './pool.ts';
import { startService, type RunningService } from './services.ts';
import { round, summarize, type Figures, type Run } from './stats.ts';

/** The committed Fashion-MNIST models, served from models/ once they are there. */
export const FASHION_MODELS = ['vgg', 'googlenet', 'resnet'] as const;

export type InferenceStack =
  | 'service-batching'
  | 'service-no-batching'
  | 'raw-session'
  | 'raw-session-run-only'
  | 'pytorch-eager'
  | 'pytorch-forward-only';

export interface InferenceResult extends Figures {
  model: string;
  stack: InferenceStack;
  /** Concurrent requests (service) or 1 (in-process stacks, which batch instead). */
  concurrency: number;
  /** Images per request (service) or per batch (in-process stacks). */
  batch: number;
  /** `throughput` is images/s; p50/p99 are per request or per batch. */
  unit: 'images/s';
}

export interface ModelInfo {
  name: string;
  source: 'committed' | 'bench-export' | 'fixture';
  architecture: string;
  input_shape: number[];
  parameters: number | null;
  input_image: string;
}

export interface InferenceOptions {
  quick: boolean;
  budget: Budget;
  /** Target seconds per measured run; the request count is sized from the raw session's speed. */
  secondsPerRun: number;
  concurrencies: number[];
  multiConcurrencies: number[];
  imagesPerRequest: number;
  batches: number[];
  torchBudget: Budget;
  batchingModes: boolean[];
  models: string[];
  withResnet18: boolean;
  withEnsemble: boolean;
  workDir: string;
  log: (line: string) => void;
  /** Extra environment for the service (profiling). */
  serviceEnv?: Record<string, string>;
  nodeFlags?: string[];
}

const PYTHON_DIR = join(import.meta.dirname, 'python');

/** Exports (once) an untrained model with the bench's export script. */
async function exportModel(arch: string, dir: string, log: (line: string) => void): Promise<void> {
  if (existsSync(join(dir, 'config.json'))) return;
  log(`exporting ${arch} to ${dir}`);
  const out = spawnSync('/usr/bin/python3', [join(PYTHON_DIR, 'export_model.py'), '--arch', arch, '--out', dir], { encoding: 'utf8' });
  if (out.status !== 0) throw new Error(`export of ${arch} failed:\n${out.stderr}`);
}

/**
 * A model repository for this run under bench/work: the committed models (or, while they are
 * missing, untrained stand-ins of the same architectures), resnet18, and an ensemble `default`
 * (the committed one where there is one, else soft voting over the three).
 */
async function prepareRepository(options: InferenceOptions): Promise<{ root: string; models: ModelInfo[]; ensemble?: string[] }> {
  // Quick runs (npm test) get their own folder: they must not pull models from under a full run.
  const root = resolve(options.workDir, options.quick ? 'model-repo-quick' : 'model-repo');
  await rm(root, { recursive: true, force: true });
  await mkdir(join(root, 'ensembles'), { recursive: true });
  const infos: ModelInfo[] = [];
  const add = async (name: string, dir: string, source: ModelInfo['source'], image: string) => {
    // Copied, not linked: the repository skips symlinked model folders (readdir's isDirectory()
    // is false for a link) and refuses model files whose real path leaves the folder.
    await cp(resolve(dir), join(root, name), { recursive: true });
    const config = await loadModelConfig(join(root, name));
    infos.push({ name, source, architecture: config.architecture, input_shape: config.input.shape, parameters: config.parameters ?? null, input_image: image });
  };
  for (const name of options.models) {
    const committed = resolve('models', name);
    if (existsSync(join(committed, 'config.json')) && existsSync(join(committed, 'model.onnx'))) {
      await add(name, committed, 'committed', INFERENCE_INPUTS.gray28.name);
    } else {
      const dir = resolve(options.workDir, 'models', name);
      await exportModel(name, dir, options.log);
      await add(name, dir, 'bench-export', INFERENCE_INPUTS.gray28.name);
    }
  }
  if (options.withResnet18) {
    const dir = resolve(options.workDir, 'models', 'resnet18');
    await exportModel('resnet18', dir, options.log);
    await add('resnet18', dir, 'bench-export', INFERENCE_INPUTS.photo.name);
  }
  let ensemble: string[] | undefined;
  if (options.withEnsemble) {
    const committed = resolve('models', 'ensembles', 'default.json');
    const raw = existsSync(committed)
      ? (JSON.parse(await readFile(committed, 'utf8')) as { members: string[] })
      : { name: 'default', members: options.models.filter((m) => FASHION_MODELS.includes(m as never)), voting: 'soft' };
    if (raw.members.every((m) => infos.some((i) => i.name === m)) && raw.members.length > 0) {
      await writeFile(join(root, 'ensembles', 'default.json'), JSON.stringify(raw, null, 2));
      ensemble = raw.members;
    }
  }
  return { root, models: infos, ensemble };
}

function classifyRequest(url: string, path: string, image: BenchImage, count: number): HttpRequestSpec {
  const files = Array.from({ length: count }, (_, i) => ({
    field: 'image',
    filename: `${i}-${image.name}`,
    contentType: image.format === 'png' ? 'image/png' : 'image/jpeg',
    bytes: image.bytes,
  }));
  const { body, contentType } = multipartBody({ top_k: '1' }, files);
  return { url: `${url}${path}`, body, headers: { 'content-type': contentType } };
}

async function checkClassify(spec: HttpRequestSpec): Promise<void> {
  const res = await fetch(spec.url, { method: 'POST', headers: spec.headers, body: new Uint8Array(spec.body) });
  if (!res.ok) throw new Error(`${spec.url}: HTTP ${res.status} ${await res.text()}`);
  await res.json();
}

interface RawModel {
  config: ModelConfig;
  session: ort.InferenceSession;
  image: BenchImage;
}

/**
 * The serving limit: one onnxruntime-node session in this process, with the worker's session
 * options, fed by the service's own preprocess() (decode + resize + crop + normalise, the images
 * of a batch prepared concurrently on libuv's pool, as the service's requests are).
 */
async function rawSessionResults(raw: RawModel, options: InferenceOptions): Promise<InferenceResult[]> {
  const { config, session, image } = raw;
  const spec = specOf(config);
  const perImage = config.input.shape.slice(1);
  const size = perImage.reduce((a, b) => a * b, 1);
  const results: InferenceResult[] = [];
  for (const batch of options.batches) {
    const full = async () => {
      const tensors = await Promise.all(Array.from({ length: batch }, () => preprocess(image.bytes, spec)));
      const data = new Float32Array(batch * size);
      tensors.forEach((t, i) => data.set(t, i * size));
      await session.run({ [config.input.name]: new ort.Tensor('float32', data, [batch, ...perImage]) });
    };
    const prepared = new Float32Array(batch * size);
    const one = await preprocess(image.bytes, spec);
    for (let i = 0; i < batch; i++) prepared.set(one, i * size);
    const runOnly = () => session.run({ [config.input.name]: new ort.Tensor('float32', prepared, [batch, ...perImage]) });
    const budget = { ...options.budget };
    results.push({ model: config.name, stack: 'raw-session', concurrency: 1, batch, unit: 'images/s', ...summarize(await measure(full, 1, budget, batch)) });
    results.push({ model: config.name, stack: 'raw-session-run-only', concurrency: 1, batch, unit: 'images/s', ...summarize(await measure(runOnly, 1, budget, batch)) });
    const [a, b] = results.slice(-2) as [InferenceResult, InferenceResult];
    options.log(`inference ${config.name} raw batch=${batch}: ${a.throughput} images/s (p50 ${a.p50_ms} ms; run only ${b.throughput} images/s, p50 ${b.p50_ms} ms)`);
  }
  return results;
}

/** Requests per measured run: about `secondsPerRun` at the expected rate, at least 1.5 per connection. */
function sizedBudget(options: InferenceOptions, imagesPerSecond: number, concurrency: number, images: number): Budget {
  if (options.budget.amount !== undefined) return { ...options.budget, amount: Math.max(options.budget.amount, concurrency) };
  const amount = Math.max(Math.ceil(1.5 * concurrency), Math.round((options.secondsPerRun * imagesPerSecond) / images), images === 1 ? 10 : 3);
  return { ...options.budget, amount, warmup: Math.max(options.budget.warmup, concurrency) };
}

async function serviceResults(
  service: RunningService,
  batching: boolean,
  models: ModelInfo[],
  images: Record<string, BenchImage>,
  expectedRate: Record<string, number>,
  options: InferenceOptions,
): Promise<InferenceResult[]> {
  const stack: InferenceStack = batching ? 'service-batching' : 'service-no-batching';
  const results: InferenceResult[] = [];
  for (const model of models) {
    const image = images[model.name]!;
    const plan: [number, number][] = [
      ...options.concurrencies.map((c) => [c, 1] as [number, number]),
      ...options.multiConcurrencies.map((c) => [c, options.imagesPerRequest] as [number, number]),
    ];
    for (const [concurrency, count] of plan) {
      const spec = classifyRequest(service.url, `/v1/models/${model.name}/classify`, image, count);
      await checkClassify(spec);
      const runs = await cannonMeasure(spec, concurrency, sizedBudget(options, expectedRate[model.name]!, concurrency, count), count, service.child.pid);
      const r: InferenceResult = { model: model.name, stack, concurrency, batch: count, unit: 'images/s', ...summarize(runs) };
      results.push(r);
      options.log(`inference ${model.name} ${stack} c=${concurrency} images/request=${count}: ${r.throughput} images/s (p50 ${r.p50_ms} ms, p99 ${r.p99_ms} ms, CPU/image ${r.cpu_ms_per_item} ms + client ${r.client_cpu_ms_per_item} ms)`);
    }
  }
  return results;
}

export interface EnsembleResult extends Figures {
  concurrency: number;
  members: string[];
  /** Ensemble requests/s ÷ the rate of running each member once per image in turn. */
  vs_members_in_turn: number;
  /** p50 latency of the ensemble ÷ the sum of the members' p50 at the same concurrency. */
  p50_vs_members_sum: number;
}

export interface InferenceSuiteResult {
  models: ModelInfo[];
  ensemble_members: string[] | null;
  results: InferenceResult[];
  ensemble: EnsembleResult[];
  torch_threads: number | null;
  service_settings: Record<string, string>;
}

export async function runInferenceSuite(options: InferenceOptions): Promise<InferenceSuiteResult> {
  const { log } = options;
  const inputsDir = join(options.workDir, 'inputs');
  const gray = await inferenceInput(INFERENCE_INPUTS.gray28, inputsDir);
  const photo = await inferenceInput(INFERENCE_INPUTS.photo, inputsDir);
  const repo = await prepareRepository(options);
  const images: Record<string, BenchImage> = Object.fromEntries(repo.models.map((m) => [m.name, m.input_image === photo.name ? photo : gray]));
  const results: InferenceResult[] = [];

  // The raw session is measured right before the service on each model (in the first service
  // process), so that the machine's load changes as little as possible between the two; it also
  // tells how many requests make a run of the wanted length.
  const expectedRate: Record<string, number> = {};
  // The worker's session options, with the threading settings the service is started with.
  const rawOptions = sessionOptions(readInferenceConfig({ ...process.env, ...options.serviceEnv }));
  const rawFor = async (model: ModelInfo) => {
    if (expectedRate[model.name] !== undefined) return;
    const config = await loadModelConfig(join(repo.root, model.name));
    const session = await ort.InferenceSession.create(join(config.dir, config.file), { ...rawOptions, executionProviders: ['cpu'] });
    try {
      const mine = await rawSessionResults({ config, session, image: images[model.name]! }, options);
      results.push(...mine);
      expectedRate[model.name] = Math.max(...mine.filter((r) => r.stack === 'raw-session').map((r) => r.throughput));
    } finally {
      await session.release();
    }
  };

  const serviceEnv = { MODEL_REPOSITORY: repo.root, EXECUTION_PROVIDERS: 'cpu', ...options.serviceEnv };
  const ensemble: EnsembleResult[] = [];
  // Every stack of one model is measured back to back (raw session, the service with batching,
  // without, PyTorch), both services started up front and idle while not driven: on a shared
  // machine the load changes within minutes, and ratios only mean something within a short span.
  const services = new Map<boolean, RunningService>();
  let torchThreads: number | null = null;
  try {
    for (const batching of options.batchingModes) {
      services.set(batching, await startService({ name: 'inference', env: { ...serviceEnv, DYNAMIC_BATCHING: String(batching) }, nodeFlags: options.nodeFlags, readyTimeoutMs: 300_000 }));
    }
    const measured = new Set<string>();
    for (const model of repo.models) {
      await rawFor(model);
      for (const [batching, service] of services) results.push(...(await serviceResults(service, batching, [model], images, expectedRate, options)));
      torchThreads = (await torchResults(model)) ?? torchThreads;
      measured.add(model.name);
      // The ensemble right after its last member, against the members' figures just taken.
      const batchingService = services.get(true);
      if (batchingService && repo.ensemble && ensemble.length === 0 && repo.ensemble.every((m) => measured.has(m))) {
        ensemble.push(...(await ensembleResults(batchingService, repo.ensemble, gray, expectedRate, results, options)));
      }
    }
  } finally {
    for (const service of services.values()) await service.stop();
  }

  async function torchResults(m: ModelInfo): Promise<number | null> {
    if (options.torchBudget.runs === 0) return null;
    const config = await loadModelConfig(join(repo.root, m.name));
    const job = {
      budget: options.torchBudget,
      models: [{ name: m.name, arch: m.name, input: images[m.name]!.path, preprocess: config.preprocess, batches: options.batches }],
    };
    const torch = (await runPython(join(PYTHON_DIR, 'torch_eager.py'), job, log)) as {
      torch_threads: number;
      results: { model: string; batch: number; runs: PyRun[]; forward_runs: PyRun[] }[];
    };
    for (const r of torch.results) {
      results.push({ model: r.model, stack: 'pytorch-eager', concurrency: 1, batch: r.batch, unit: 'images/s', ...summarize(r.runs.map(fromPy)) });
      results.push({ model: r.model, stack: 'pytorch-forward-only', concurrency: 1, batch: r.batch, unit: 'images/s', ...summarize(r.forward_runs.map(fromPy)) });
    }
    return torch.torch_threads;
  }

  return {
    models: repo.models,
    ensemble_members: repo.ensemble ?? null,
    results,
    ensemble,
    torch_threads: torchThreads,
    service_settings: { ...serviceEnv, MODEL_REPOSITORY: 'bench/work/model-repo', LOG_LEVEL: 'warn' },
  };
}

interface PyRun {
  items: number;
  seconds: number;
  latencies_ms: number[];
}
const fromPy = (r: PyRun): Run => ({ items: r.items, seconds: r.seconds, latenciesMs: r.latencies_ms });

async function ensembleResults(
  service: RunningService,
  members: string[],
  image: BenchImage,
  expectedRate: Record<string, number>,
  results: InferenceResult[],
  options: InferenceOptions,
): Promise<EnsembleResult[]> {
  const out: EnsembleResult[] = [];
  // Running every member once per image in turn: 1 / Σ(1 / rate_m).
  const inTurn = (c: number) => {
    const rates = members.map((m) => results.find((r) => r.model === m && r.stack === 'service-batching' && r.concurrency === c && r.batch === 1));
    if (rates.some((r) => !r)) return undefined;
    return {
      rate: 1 / rates.reduce((sum, r) => sum + 1 / r!.throughput, 0),
      p50: rates.reduce((sum, r) => sum + r!.p50_ms, 0),
    };
  };
  const slowest = Math.min(...members.map((m) => expectedRate[m]!));
  for (const concurrency of options.concurrencies.filter((c) => c <= 32)) {
    const spec = classifyRequest(service.url, '/v1/ensembles/default/classify', image, 1);
    await checkClassify(spec);
    const runs = await cannonMeasure(spec, concurrency, sizedBudget(options, slowest / members.length, concurrency, 1), 1, service.child.pid);
    const figures = summarize(runs);
    const base = inTurn(concurrency);
    out.push({
      concurrency,
      members,
      ...figures,
      vs_members_in_turn: base ? round(figures.throughput / base.rate) : Number.NaN,
      p50_vs_members_sum: base ? round(figures.p50_ms / base.p50) : Number.NaN,
    });
    options.log(`inference ensemble c=${concurrency}: ${figures.throughput} req/s (p50 ${figures.p50_ms} ms)${base ? `; members in turn ${round(base.rate)} req/s` : ''}`);
  }
  return out;
}
