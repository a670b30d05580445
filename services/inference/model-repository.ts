import { existsSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { Batcher } from './batcher.ts';
import {
  ModelLoadFailedError, ModelNotFoundError, ModelNotReadyError, EnsembleNotFoundError,
} from './errors.ts';
import {
  findModelDirs, loadEnsembleConfigs, loadModelVersions, selectModelFile, verifyModelFile,
  type EnsembleConfig, type ModelConfig,
} from './model-config.ts';
import type { InferenceConfig } from './config.ts';
import { softmax } from './voting.ts';
import { providerHint, type ProviderFailure } from './providers.ts';
import { WorkerPool, type Log } from './worker-pool.ts';

export type RepositorySettings = Pick<InferenceConfig,
  'modelRepository' | 'providers' | 'workers' | 'workerNice' | 'intraOpThreads' | 'intraOpSpinning' | 'timeoutMs' | 'maxBatchSize' | 'maxBatchDelayMs' | 'maxQueue' | 'modelVariant'>;

export type ModelState = 'loading' | 'ready' | 'failed' | 'unloaded';

/** What GET /v1/models lists for one model (`version`, `input`, ... are the highest version's). */
export interface ModelMetadata {
  name: string;
  version: string | null;
  /** Versions served, ascending (none while not ready). */
  versions: string[];
  architecture: string | null;
  input: ModelConfig['input'] | null;
  output: (ModelConfig['output'] & { datatype: 'FP32' }) | null;
  labels: string[];
  execution_provider: string | null;
  ready: boolean;
  state: ModelState;
  reason?: string;
  accuracy: ModelConfig['accuracy'] | null;
  parameters: number | null;
  variant: string | null;
  max_batch_size: number | null;
}

export interface EnsembleMetadata extends EnsembleConfig {
  ready: boolean;
  reason?: string;
}

/** One loaded version of a model: its sessions in the pool (under `poolKey`) and its batcher. */
interface Serving {
  config: ModelConfig;
  poolKey: string;
  provider: string;
  variant?: string;
  maxBatchSize: number;
  batcher: Batcher<Float32Array, Float32Array>;
}

interface Entry {
  name: string;
  dir: string;
  state: ModelState;
  reason?: string;
  /** The highest version's config as last read (also when it failed to load). */
  config?: ModelConfig;
  /** Every version to serve, oldest first, as last read. */
  configs?: ModelConfig[];
  /** The versions served, by version, ascending; empty unless ready. */
  served: Map<string, Serving>;
  /** Loads so far, to give each version its own key in the worker pool. */
  loads: number;
  /** The reload in progress, which a second request for the same model joins. */
  reloading?: Promise<ModelMetadata>;
}

/** A folder name that can only mean a direct subfolder of the repository. */
const MODEL_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/** A loaded, ready model version as the routes use it. */
export interface ReadyModel {
  name: string;
  config: ModelConfig;
  provider: string;
}

/**
 * A model reference: `name` (its highest served version) or `name:version` (ensembles pin members
 * this way). Model names cannot hold a colon, so the split is unambiguous.
 */
export function parseModelRef(ref: string): { name: string; version?: string } {
  const at = ref.lastIndexOf(':');
  return at < 0 ? { name: ref } : { name: ref.slice(0, at), version: ref.slice(at + 1) };
}

/** The highest-numbered served version. */
function highest(served: Map<string, Serving>): Serving | undefined {
  let best: Serving | undefined;
  for (const serving of served.values()) if (!best || Number(serving.config.version) > Number(best.config.version)) best = serving;
  return best;
}

/**
 * The model repository (after Triton's): every subfolder of `modelRepository` holding a
 * `config.json` is a model, every `ensembles/*.json` an ensemble. `load()` verifies and loads them
 * all into the worker pool and warms them up; a model that cannot be served (bad config, missing or
 * corrupt file, sha256 mismatch, config disagreeing with the graph) is kept as not ready with its
 * reason, and the others load regardless.
 */
export class ModelRepository {
  private readonly entries = new Map<string, Entry>();
  private ensembleList: EnsembleConfig[] = [];
  private readonly ensembleErrors = new Map<string, string>();
  readonly pool: WorkerPool;
  readonly root: string;
  private loaded = false;
  private started = false;
  private loading: Promise<void> | undefined;
  private readonly providerFailuresTold = new Set<string>();

  /** Told each batch run, for metrics (set before load()). */
  onBatch?: (model: string, size: number, seconds: number) => void;

  constructor(readonly settings: RepositorySettings, private readonly log: Log, pool?: WorkerPool) {
    this.root = resolve(settings.modelRepository);
    this.pool = pool ?? new WorkerPool({ size: settings.workers, log, nice: settings.workerNice });
  }

  /** Scans the repository and loads every model in parallel. Resolves when each is ready or failed. Once only. */
  async load(): Promise<void> {
    if (this.started) throw new Error('ModelRepository.load() runs once; build a new repository to rescan');
    this.started = true;
    this.loading = this.scanAndLoad();
    return this.loading;
  }

  /** Resolves when `load()` has finished (every model ready or failed); at once if it never started. */
  async settled(): Promise<void> {
    await this.loading?.catch(() => undefined);
  }

  private async scanAndLoad(): Promise<void> {
    const dirs = await findModelDirs(this.root).catch((error: Error) => {
      this.log.error({ root: this.root, reason: error.message }, 'model repository is not readable');
      return [] as string[];
    });
    const configs = await Promise.all(dirs.map(async (dir) => {
      try {
        const configs = await loadModelVersions(dir);
        return { dir, configs, config: configs.at(-1)! };
      } catch (error) {
        return { dir, error: error as Error };
      }
    }));
    const toLoad: Entry[] = [];
    for (const item of configs) {
      const name = item.config?.name ?? basename(item.dir);
      if (this.entries.has(name)) {
        this.log.error({ model: name, dir: item.dir }, 'two model folders declare the same name; the second is ignored');
        continue;
      }
      const entry: Entry = { name, dir: item.dir, state: 'loading', config: item.config, configs: item.configs, served: new Map(), loads: 0 };
      this.entries.set(name, entry);
      if (item.error) this.markFailed(entry, item.error.message);
      else toLoad.push(entry);
    }
    const { ensembles, errors } = await loadEnsembleConfigs(this.root);
    this.ensembleList = ensembles;
    for (const error of errors) this.log.error({ reason: error.message }, 'ensemble config is invalid; skipped');
    await Promise.all(toLoad.map((entry) => this.loadOne(entry)));
    this.loaded = true;
  }

  private markFailed(entry: Entry, reason: string): void {
    entry.state = 'failed';
    entry.reason = reason;
    this.log.error({ model: entry.name, reason }, 'model not ready');
  }

  private async loadOne(entry: Entry): Promise<void> {
    try {
      entry.served = await this.startAll(entry, entry.configs!);
      entry.state = 'ready';
    } catch (error) {
      this.markFailed(entry, (error as Error).message);
    }
  }

  /** Loads every version; all or nothing (what did load is released when one fails). */
  private async startAll(entry: Entry, configs: readonly ModelConfig[]): Promise<Map<string, Serving>> {
    const results = await Promise.allSettled(configs.map((config) => this.start(entry, config, configs.length > 1)));
    const failed = results.findIndex((r) => r.status === 'rejected');
    if (failed >= 0) {
      for (const r of results) if (r.status === 'fulfilled') await this.stop(r.value, false);
      const reason = ((results[failed] as PromiseRejectedResult).reason as Error).message;
      throw new Error(configs.length > 1 ? `version ${configs[failed]!.version}: ${reason}` : reason);
    }
    return new Map(results.map((r, i) => [configs[i]!.version, (r as PromiseFulfilledResult<Serving>).value]));
  }

  /** Releases one version: drained (queued work finishes) or closed (queued work refused). */
  private async stop(serving: Serving, drain: boolean): Promise<void> {
    if (drain) await serving.batcher.drain();
    else serving.batcher.close();
    await this.pool.unload(serving.poolKey);
  }

  /**
   * A provider that failed is told once per process at warn level (what was tried, why, what to
   * do), not once per model: every model fails the same way on a CPU host. Other models that
   * fall back for the same reason are told at debug level.
   */
  private reportProviderFailure(model: string, failure: ProviderFailure, usedInstead: string): void {
    const key = `${failure.provider}\n${failure.reason}`;
    const first = !this.providerFailuresTold.has(key);
    this.providerFailuresTold.add(key);
    const details = { model, provider: failure.provider, reason: failure.reason, hint: providerHint(failure.provider), usedInstead };
    if (first) this.log.warn(details, `execution provider ${failure.provider} unavailable; models fall back to the next provider (told once)`);
    else this.log.debug?.(details, 'execution provider unavailable for model; fell back');
  }

  /** Loads one version of a model into the pool, warmed up, behind a new batcher. */
  private async start(entry: Entry, config: ModelConfig, severalVersions = false): Promise<Serving> {
    const { maxBatchSize, maxBatchDelayMs, maxQueue, timeoutMs, providers, intraOpThreads, intraOpSpinning, modelVariant } = this.settings;
    const ref = selectModelFile(config, modelVariant || undefined);
    const path = await verifyModelFile(config, ref);
    const fixedBatch = config.input.shape[0]! > 0 ? config.input.shape[0]! : undefined;
    const batchSize = fixedBatch ?? maxBatchSize;
    // The first load keeps the model's name (and version, among several) as its pool key; a reload loads beside it.
    const base = severalVersions ? `${config.name}:${config.version}` : config.name;
    const poolKey = entry.loads++ === 0 ? base : `${base}#${entry.loads}`;
    const info = await this.pool.load({
      model: poolKey,
      path,
      providers,
      intraOpThreads,
      intraOpSpinning,
      io: { inputName: config.input.name, inputShape: config.input.shape, outputName: config.output.name, classes: config.labels.length },
      warmupBatchSizes: [...new Set([fixedBatch ?? 1, batchSize])],
    });
    for (const failure of info.failures) this.reportProviderFailure(config.name, failure, info.provider);
    const batcher = new Batcher<Float32Array, Float32Array>({
      name: config.name,
      maxBatchSize: batchSize,
      maxBatchDelayMs,
      maxQueue,
      maxInFlight: this.pool.size,
      timeoutMs,
      run: (inputs) => this.runBatch(config, poolKey, inputs, fixedBatch),
      onBatch: (size, seconds) => this.onBatch?.(config.name, size, seconds),
    });
    this.log.info({ model: config.name, version: config.version, provider: info.provider, variant: ref.variant, warmupMs: Math.round(info.warmupMs) }, 'model ready');
    return { config, poolKey, provider: info.provider, variant: ref.variant, maxBatchSize: batchSize, batcher };
  }

  /**
   * Loads a model again from its folder (config.json re-read, file verified, sessions warmed
   * up), or for the first time when the folder was added after start. The version being served
   * keeps serving until the new one is ready, then finishes what it has queued and is released;
   * if the new one cannot be served, the old one stays and INF_MODEL_LOAD_FAILED says why.
   * Concurrent reloads of one model share one load. `override` is a config to use instead of the
   * folder's config.json (validated the same way; the files it names are still the folder's).
   */
  async reload(name: string, override?: unknown): Promise<ModelMetadata> {
    if (!this.loaded) throw new ModelNotReadyError('the model repository is still loading');
    let entry = this.entries.get(name);
    if (!entry) {
      const dir = join(this.root, name);
      if (!MODEL_NAME.test(name) || name === 'ensembles' || !existsSync(join(dir, 'config.json'))) {
        throw new ModelNotFoundError(`no model named ${name} and no folder ${name}/ with a config.json in the model repository`);
      }
      entry = { name, dir, state: 'loading', served: new Map(), loads: 0 };
      this.entries.set(name, entry);
    }
    const target = entry;
    target.reloading ??= this.replace(target, override).finally(() => (target.reloading = undefined));
    return target.reloading;
  }

  private async replace(entry: Entry, override?: unknown): Promise<ModelMetadata> {
    const old = entry.served;
    if (old.size === 0) entry.state = 'loading';
    let configs: ModelConfig[];
    let served: Map<string, Serving>;
    try {
      configs = await loadModelVersions(entry.dir, override);
      const named = configs.find((c) => c.name !== entry.name);
      if (named) throw new Error(`its config.json names it ${named.name}`);
      served = await this.startAll(entry, configs);
    } catch (error) {
      const reason = (error as Error).message;
      if (old.size === 0) this.markFailed(entry, reason);
      else this.log.error({ model: entry.name, reason }, 'model reload failed; the loaded versions keep serving');
      throw new ModelLoadFailedError(`model ${entry.name} cannot be loaded: ${reason}`);
    }
    Object.assign(entry, { config: configs.at(-1), configs, served, state: 'ready', reason: undefined });
    for (const serving of old.values()) {
      void this.stop(serving, true).catch((error: Error) => {
        this.log.warn({ model: entry.name, reason: error.message }, 'releasing the replaced version failed');
      });
    }
    return this.metadata(entry.name);
  }

  /** One batch through the pool: rows concatenated in, split back out (padded to a fixed batch size). */
  private async runBatch(config: ModelConfig, poolKey: string, inputs: Float32Array[], fixedBatch: number | undefined): Promise<Float32Array[]> {
    const perImage = config.input.shape.slice(1);
    const size = perImage.reduce((a, b) => a * b, 1);
    const rows = fixedBatch ?? inputs.length;
    const data = new Float32Array(rows * size);
    inputs.forEach((input, i) => data.set(input, i * size));
    const result = await this.pool.run(poolKey, data, [rows, ...perImage], this.settings.timeoutMs || undefined);
    const classes = config.labels.length;
    return inputs.map((_, i) => result.data.slice(i * classes, (i + 1) * classes));
  }

  /** True once `load()` has finished, at least one model was found, and every model found is ready. */
  allReady(): boolean {
    return this.loaded && this.entries.size > 0 && [...this.entries.values()].every((e) => e.state === 'ready');
  }

  /** For readiness probes: ready, or what is not and why (also while loading, or when empty). */
  readiness(): { ready: boolean; notReady: { name: string; reason: string }[] } {
    if (!this.loaded) return { ready: false, notReady: [{ name: '*', reason: 'the model repository is still loading' }] };
    if (this.entries.size === 0) return { ready: false, notReady: [{ name: '*', reason: `no model found in ${this.root}` }] };
    const notReady = this.notReady().map(({ name, reason }) => ({ name, reason }));
    return { ready: notReady.length === 0, notReady };
  }

  /**
   * Throws INF_QUEUE_FULL now when `count` more images would not fit in the model's queue, the
   * check `submit` makes later: a request the queue will refuse is refused before its images are
   * decoded, so that under overload refusals cost next to nothing (a client retrying at once
   * otherwise kept the CPU busy decoding images only to refuse them).
   */
  checkRoom(ref: string, count: number): void {
    const { name, version } = parseModelRef(ref);
    const entry = this.entries.get(name);
    if (entry?.state !== 'ready' || entry.served.size === 0) return; // the request's own lookup says why
    (version === undefined ? highest(entry.served) : entry.served.get(version))?.batcher.checkRoom(count);
  }

  /** Images waiting in a model's queue (0 when it is not ready). */
  queueDepth(name: string): number {
    let queued = 0;
    for (const serving of this.entries.get(name)?.served.values() ?? []) queued += serving.batcher.queued;
    return queued;
  }

  /** Models that are not ready, with why. */
  notReady(): { name: string; state: ModelState; reason: string }[] {
    return [...this.entries.values()].filter((e) => e.state !== 'ready').map((e) => ({ name: e.name, state: e.state, reason: e.reason ?? e.state }));
  }

  /** True for a known model (`name`, or `name:version` of a version it serves or declares). */
  has(ref: string): boolean {
    const { name, version } = parseModelRef(ref);
    const entry = this.entries.get(name);
    return !!entry && (version === undefined || entry.served.has(version) || !!entry.configs?.some((c) => c.version === version));
  }

  isReady(ref: string): boolean {
    const { name, version } = parseModelRef(ref);
    const entry = this.entries.get(name);
    return entry?.state === 'ready' && (version === undefined || entry.served.has(version));
  }

  /** The served version a reference names: the highest without a version. */
  private serving(ref: string): { entry: Entry; serving: Serving } {
    const { name, version } = parseModelRef(ref);
    const entry = this.entries.get(name);
    if (!entry) throw new ModelNotFoundError(`no model named ${name}`);
    if (entry.state !== 'ready' || entry.served.size === 0) {
      throw new ModelNotReadyError(`model ${name} is not ready: ${entry.reason ?? entry.state}`);
    }
    const serving = version === undefined ? highest(entry.served) : entry.served.get(version);
    if (!serving) throw new ModelNotFoundError(`model ${name} has no version ${version} (served: ${[...entry.served.keys()].join(', ')})`);
    return { entry, serving };
  }

  /**
   * The ready model version (`name` = the highest served, or `name:version`); throws
   * INF_MODEL_NOT_FOUND (no such model or version) or INF_MODEL_NOT_READY (with the reason).
   */
  get(ref: string): ReadyModel {
    const { entry, serving } = this.serving(ref);
    return { name: entry.name, config: serving.config, provider: serving.provider };
  }

  /**
   * Runs preprocessed inputs (one Float32Array per image, in the model's layout) through the
   * model's batcher and returns the raw outputs (logits or probabilities, as the model gives them).
   */
  async infer(ref: string, inputs: readonly Float32Array[]): Promise<Float32Array[]> {
    const { entry, serving } = this.serving(ref);
    const { name } = entry;
    const { config, batcher } = serving;
    const size = config.input.shape.slice(1).reduce((a, b) => a * b, 1);
    const bad = inputs.find((input) => input.length !== size);
    if (bad) {
      // After a reload: prepared for the version just replaced by one of another input size.
      if (entry.loads > 1) throw new ModelNotReadyError(`model ${name} now takes ${size} values per image, not ${bad.length} (it was reloaded); retry`);
      throw new RangeError(`expected ${size} values per image for model ${name}, got ${bad.length}`);
    }
    return batcher.submit(inputs);
  }

  /** Like infer() but always class probabilities: softmax applied where the model gives logits. */
  async predict(ref: string, inputs: readonly Float32Array[]): Promise<Float32Array[]> {
    const { config } = this.get(ref);
    const outputs = await this.infer(ref, inputs);
    return config.output.kind === 'logits' ? outputs.map((o) => softmax(o)) : outputs;
  }

  /** Stops serving a model: queued requests are refused, its sessions released. */
  async unload(name: string): Promise<void> {
    const entry = this.entries.get(name);
    if (!entry) throw new ModelNotFoundError(`no model named ${name}`);
    const served = [...entry.served.values()];
    entry.served = new Map();
    entry.state = 'unloaded';
    entry.reason = 'unloaded';
    await Promise.all(served.map((serving) => this.stop(serving, false)));
  }

  /** Metadata of one model, ready or not. */
  metadata(name: string): ModelMetadata {
    const entry = this.entries.get(name);
    if (!entry) throw new ModelNotFoundError(`no model named ${name}`);
    const top = highest(entry.served);
    const c = top?.config ?? entry.config;
    return {
      name: entry.name,
      version: c?.version ?? null,
      versions: [...entry.served.keys()].sort((a, b) => Number(a) - Number(b)),
      architecture: c?.architecture ?? null,
      input: c ? { ...c.input } : null,
      output: c ? { ...c.output, datatype: 'FP32' } : null,
      labels: c?.labels ?? [],
      execution_provider: top?.provider ?? null,
      ready: entry.state === 'ready',
      state: entry.state,
      ...(entry.state === 'ready' ? {} : { reason: entry.reason ?? entry.state }),
      accuracy: c?.accuracy ?? null,
      parameters: c?.parameters ?? null,
      variant: top?.variant ?? null,
      max_batch_size: top?.maxBatchSize ?? null,
    };
  }

  /**
   * The repository as it is on disk and in memory (the V2 repository index): every model known,
   * and every folder with a config.json not loaded yet, with Triton's state names.
   */
  async index(): Promise<{ name: string; version?: string; state: 'READY' | 'LOADING' | 'UNAVAILABLE'; reason?: string }[]> {
    const dirs = await findModelDirs(this.root).catch(() => [] as string[]);
    const known = new Set([...this.entries.values()].map((e) => e.dir));
    type Row = { name: string; version?: string; state: 'READY' | 'LOADING' | 'UNAVAILABLE'; reason?: string };
    // One row per version, as Triton's index: served ones READY, the others with the model's state.
    const rows = [...this.entries.values()].flatMap((e): Row[] => {
      if (e.state === 'ready') return [...e.served.keys()].map((version) => ({ name: e.name, version, state: 'READY' }));
      const state = e.state === 'loading' ? 'LOADING' as const : 'UNAVAILABLE' as const;
      const versions = (e.configs ?? (e.config ? [e.config] : [])).map((c) => c.version);
      return (versions.length > 0 ? versions : [undefined]).map((version) => ({
        name: e.name, ...(version ? { version } : {}), state, ...(state === 'UNAVAILABLE' ? { reason: e.reason ?? e.state } : {}),
      }));
    });
    for (const dir of dirs) if (!known.has(dir)) rows.push({ name: basename(dir), state: 'UNAVAILABLE', reason: 'not loaded' });
    return rows.sort((a, b) => a.name.localeCompare(b.name) || Number(a.version ?? 0) - Number(b.version ?? 0));
  }

  /** Every model found, sorted by name. */
  list(): ModelMetadata[] {
    return [...this.entries.keys()].sort().map((name) => this.metadata(name));
  }

  /** Every valid ensemble with whether all its members are ready. */
  ensembles(): EnsembleMetadata[] {
    return this.ensembleList.map((e) => this.ensembleMetadata(e));
  }

  private ensembleMetadata(e: EnsembleConfig): EnsembleMetadata {
    const missing = e.members.filter((m) => !this.isReady(m));
    if (missing.length === 0) {
      const [first, ...rest] = e.members.map((m) => this.get(m).config);
      const odd = rest.find((c) => c.labels.join('\n') !== first!.labels.join('\n'));
      return odd ? { ...e, ready: false, reason: `members ${first!.name} and ${odd.name} have different labels` } : { ...e, ready: true };
    }
    const why = missing.map((m) => {
      const { name, version } = parseModelRef(m);
      if (this.has(m)) return `${m} (not ready)`;
      return version !== undefined && this.has(name) ? `${m} (version not served)` : `${m} (not in the repository)`;
    });
    return { ...e, ready: false, reason: `members unavailable: ${why.join(', ')}` };
  }

  /** The ensemble's config; throws INF_ENSEMBLE_NOT_FOUND. Members may still be not ready. */
  getEnsemble(name: string): EnsembleMetadata {
    const e = this.ensembleList.find((x) => x.name === name);
    if (!e) throw new EnsembleNotFoundError(`no ensemble named ${name}`);
    return this.ensembleMetadata(e);
  }

  /** Refuses queued work and stops the workers. */
  async close(): Promise<void> {
    for (const entry of this.entries.values()) for (const serving of entry.served.values()) serving.batcher.close();
    await this.pool.close();
  }
}
