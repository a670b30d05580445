import { Worker } from 'node:worker_threads';
import type { FastifyBaseLogger } from 'fastify';
import { InferenceFailedError, InferenceTimeoutError, ShuttingDownError, WorkerFailedError } from './errors.ts';
import type { FromWorker, LoadRequest, LoadedInfo, ToWorker, WorkerData } from './worker-protocol.ts';

export type Log = Pick<FastifyBaseLogger, 'info' | 'warn' | 'error'> & Partial<Pick<FastifyBaseLogger, 'debug'>>;

export interface WorkerPoolOptions {
  size: number;
  log: Log;
  /** Worker entry; tests substitute one that crashes or stalls on cue. */
  workerUrl?: URL;
  /** Scheduling niceness of the worker threads (Linux; 0 = the event loop's own). */
  nice?: number;
}

export interface RunResult {
  data: Float32Array;
  dims: number[];
}

interface Pending {
  resolve: (value: never) => void;
  reject: (error: Error) => void;
  timer?: NodeJS.Timeout;
}

interface Slot {
  worker: Worker;
  pending: Map<number, Pending>;
  startedAt: number;
}

// The entry beside this module: `.ts` when run from the sources, `.js` in the compiled build.
const DEFAULT_WORKER_URL = new URL(import.meta.url.endsWith('.ts') ? './session-worker.ts' : './session-worker.js', import.meta.url);

/**
 * Starts a worker from a `.ts` entry. Node 20 does not apply the parent's `--import tsx` hooks to
 * a worker's entry, nor does `execArgv: ['--import', 'tsx']` help (both fail with "Unknown file
 * extension .ts"), so a small bootstrap registers tsx inside the worker and then imports the entry.
 * A `.js` entry (a compiled build) starts directly.
 */
export function startWorker(url: URL, workerData?: unknown): Worker {
  if (!url.pathname.endsWith('.ts')) return new Worker(url, { workerData });
  const api = JSON.stringify(import.meta.resolve('tsx/esm/api'));
  const code = `import(${api}).then(({ register }) => { register(); return import(${JSON.stringify(url.href)}); });`;
  return new Worker(code, { eval: true, workerData });
}

/**
 * A fixed number of worker threads, each holding a session per loaded model. Batches go to the
 * worker with the fewest in flight. A worker that dies is replaced (its models reloaded) and its
 * pending calls are rejected with INF_WORKER_FAILED; a call not answered in time is rejected with
 * INF_TIMEOUT (its late answer is dropped: onnxruntime cannot cancel a running batch).
 */
export class WorkerPool {
  private readonly slots: (Slot | undefined)[];
  private readonly loads = new Map<string, LoadRequest>();
  private readonly workerUrl: URL;
  private readonly log: Log;
  private readonly nice: number;
  private nextId = 1;
  private closing = false;
  private restartDelayMs = 0;
  private quickDeaths = 0;
  /** Replacements started since the pool was created (for metrics and tests). */
  replacements = 0;

  constructor(options: WorkerPoolOptions) {
    this.log = options.log;
    this.workerUrl = options.workerUrl ?? DEFAULT_WORKER_URL;
    this.nice = options.nice ?? 0;
    this.slots = Array.from({ length: options.size }, () => undefined);
    for (let i = 0; i < options.size; i++) this.spawn(i);
  }

  get size(): number {
    return this.slots.length;
  }

  /** Live workers (a replacement counts once spawned, while it reloads models). */
  get alive(): number {
    return this.slots.filter(Boolean).length;
  }

  private spawn(index: number): void {
    const worker = startWorker(this.workerUrl, { nice: this.nice } satisfies WorkerData);
    const slot: Slot = { worker, pending: new Map(), startedAt: Date.now() };
    this.slots[index] = slot;
    worker.on('message', (message: FromWorker) => this.settle(slot, message));
    worker.on('error', (error) => this.log.error({ err: error, worker: index }, 'inference worker error'));
    worker.on('exit', (code) => this.onExit(index, slot, code));
    // Replacements get every model the pool holds; their loads queue ahead of any run.
    for (const request of this.loads.values()) {
      this.call(slot, { type: 'load', id: 0, request }, undefined).catch((error: Error) =>
        this.log.error({ model: request.model, worker: index, reason: error.message }, 'replacement worker failed to load model'));
    }
  }

  private onExit(index: number, slot: Slot, code: number): void {
    if (this.slots[index] === slot) this.slots[index] = undefined;
    const failed = slot.pending.size;
    for (const pending of slot.pending.values()) {
      clearTimeout(pending.timer);
      pending.reject(this.closing ? new ShuttingDownError('inference is shutting down') : new WorkerFailedError(`inference worker exited with code ${code}; it is being replaced`));
    }
    slot.pending.clear();
    if (this.closing) return;
    this.log.error({ worker: index, code, failedCalls: failed }, 'inference worker died; replacing it');
    // Workers that keep dying right after starting (a model that crashes the runtime on load)
    // are restarted with a growing delay instead of in a tight loop; the first is immediate.
    const quick = Date.now() - slot.startedAt < 5_000;
    this.restartDelayMs = !quick ? 0 : this.quickDeaths++ === 0 ? 0 : Math.min(30_000, Math.max(100, this.restartDelayMs * 2));
    if (!quick) this.quickDeaths = 0;
    this.replacements++;
    const restart = () => !this.closing && this.slots[index] === undefined && this.spawn(index);
    if (this.restartDelayMs === 0) restart();
    else setTimeout(restart, this.restartDelayMs).unref();
  }

  private settle(slot: Slot, message: FromWorker): void {
    const pending = slot.pending.get(message.id);
    if (!pending) return; // timed out already
    slot.pending.delete(message.id);
    clearTimeout(pending.timer);
    if (message.type === 'error') pending.reject(new Error(message.message));
    else pending.resolve(message as never);
  }

  private call<T extends FromWorker>(slot: Slot, message: ToWorker, timeoutMs: number | undefined, transfer: ArrayBuffer[] = []): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      const pending: Pending = { resolve: resolve as (value: never) => void, reject };
      if (timeoutMs !== undefined) {
        pending.timer = setTimeout(() => {
          slot.pending.delete(id);
          reject(new InferenceTimeoutError(`inference did not finish within ${timeoutMs} ms`));
        }, timeoutMs);
      }
      slot.pending.set(id, pending);
      slot.worker.postMessage({ ...message, id }, transfer);
    });
  }

  private live(): Slot[] {
    return this.slots.filter((s): s is Slot => s !== undefined);
  }

  /**
   * Loads (and warms up) a model in every worker. Resolves with the first worker's report; rejects
   * with the reason when any worker cannot load it, after unloading it from the others.
   */
  async load(request: LoadRequest): Promise<LoadedInfo> {
    if (this.closing) throw new ShuttingDownError('inference is shutting down');
    this.loads.set(request.model, request);
    try {
      const replies = await Promise.all(this.live().map((slot) => this.call<Extract<FromWorker, { type: 'loaded' }>>(slot, { type: 'load', id: 0, request }, undefined)));
      const first = replies[0];
      if (!first) throw new WorkerFailedError('no inference worker is alive');
      return first.info;
    } catch (error) {
      await this.unload(request.model).catch(() => undefined);
      throw error;
    }
  }

  /** Releases the model's sessions in every worker; later runs for it fail. */
  async unload(model: string): Promise<void> {
    this.loads.delete(model);
    await Promise.all(this.live().map((slot) => this.call(slot, { type: 'unload', id: 0, model }, 10_000)));
  }

  /**
   * Runs one batch (`dims` batch-first) on the least-busy worker. The array's buffer is
   * transferred: the caller must not use `data` afterwards.
   */
  async run(model: string, data: Float32Array, dims: number[], timeoutMs?: number): Promise<RunResult> {
    if (this.closing) throw new ShuttingDownError('inference is shutting down');
    const slots = this.live();
    if (slots.length === 0) throw new WorkerFailedError('no inference worker is alive; replacements are starting');
    const slot = slots.reduce((a, b) => (b.pending.size < a.pending.size ? b : a));
    const owned = data.byteOffset === 0 && data.byteLength === data.buffer.byteLength ? data : data.slice();
    try {
      const reply = await this.call<Extract<FromWorker, { type: 'result' }>>(slot, { type: 'run', id: 0, model, data: owned, dims }, timeoutMs, [owned.buffer as ArrayBuffer]);
      return { data: reply.data, dims: reply.dims };
    } catch (error) {
      if (error instanceof Error && !('code' in error)) throw new InferenceFailedError(`model ${model}: ${error.message}`);
      throw error;
    }
  }

  /**
   * Stops the workers: each finishes the run it is in (terminating a thread inside
   * onnxruntime's synchronous run aborts the process), releases its sessions and exits; one
   * that does not exit within the grace is terminated. Pending calls are rejected with
   * INF_SHUTTING_DOWN.
   */
  async close(graceMs = 5_000): Promise<void> {
    this.closing = true;
    const slots = this.live();
    await Promise.all(
      slots.map(async (slot) => {
        const exited = new Promise<void>((done) => slot.worker.once('exit', () => done()));
        slot.worker.postMessage({ type: 'close' } satisfies ToWorker);
        let timer: NodeJS.Timeout | undefined;
        const late = new Promise<'late'>((done) => {
          timer = setTimeout(() => done('late'), graceMs);
        });
        if ((await Promise.race([exited, late])) === 'late') await slot.worker.terminate();
        clearTimeout(timer);
      }),
    );
    slots.forEach((slot) => {
      const index = this.slots.indexOf(slot);
      if (index >= 0) this.slots[index] = undefined;
    });
  }
}
