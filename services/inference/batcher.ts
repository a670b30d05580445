import { InferenceTimeoutError, QueueFullError, ShuttingDownError } from './errors.ts';

export interface BatcherOptions<I, O> {
  /** For messages: the model this batcher feeds. */
  name: string;
  /** Largest batch handed to `run`. */
  maxBatchSize: number;
  /** How long the oldest queued item waits for more before a partial batch is flushed. */
  maxBatchDelayMs: number;
  /** Items (images) allowed to wait; a request that would overflow it is refused whole. */
  maxQueue: number;
  /** Batches running at once; more wait in the queue, which is how batches grow under load. */
  maxInFlight: number;
  /** Deadline per request, queue wait included; 0 disables it. */
  timeoutMs: number;
  /** Runs one batch; must return one output per input, in order. */
  run: (inputs: I[]) => Promise<O[]>;
  /** Told each batch's size and run time (seconds) once it has run, for metrics. */
  onBatch?: (size: number, seconds: number) => void;
  /** Milliseconds on a monotonic clock (default performance.now); tests pass one they move by hand. */
  now?: () => number;
}

interface Request<O> {
  outputs: O[];
  remaining: number;
  done: boolean;
  resolve: (outputs: O[]) => void;
  reject: (error: Error) => void;
  timer?: NodeJS.Timeout;
}

interface Item<I, O> {
  input: I;
  request: Request<O>;
  index: number;
  /** The clock's time at submit. */
  at: number;
}

/**
 * Dynamic batching for one model. Requests (each one or more items) that arrive close together
 * are run as one batch. When no batch is running, what waits leaves at once (an idle model adds no
 * delay). While one runs, a batch is flushed when `maxBatchSize` items wait, or once the oldest has
 * waited `maxBatchDelayMs`, provided fewer than `maxInFlight` batches are running; otherwise items
 * keep queuing and the next batch leaves as full as it can when one finishes (batches grow with
 * load). A request's items may span batches; its outputs come back in its own order.
 * Overload is an answer: a full queue refuses with INF_QUEUE_FULL, a late request gets INF_TIMEOUT.
 */
export class Batcher<I, O> {
  private queue: Item<I, O>[] = [];
  private timer: NodeJS.Timeout | undefined;
  private inFlight = 0;
  private closed = false;
  /** Set by drain(): told when the last queued item has run. */
  private drained?: () => void;
  /** Sizes of the batches run so far, oldest first (bounded), for metrics and tests. */
  readonly batchSizes: number[] = [];

  private readonly now: () => number;

  constructor(private readonly options: BatcherOptions<I, O>) {
    this.now = options.now ?? (() => performance.now());
    if (!(options.maxBatchSize >= 1 && options.maxInFlight >= 1 && options.maxQueue >= 1)) {
      throw new RangeError(`expected maxBatchSize, maxInFlight and maxQueue >= 1 for batcher ${options.name}`);
    }
  }

  /** Items waiting (not yet in a running batch). */
  get queued(): number {
    return this.queue.length;
  }

  /** Batches running now. */
  get running(): number {
    return this.inFlight;
  }

  /** Throws INF_QUEUE_FULL when `count` more inputs would not fit now (what `submit` refuses). */
  checkRoom(count: number): void {
    const { name, maxQueue } = this.options;
    if (this.queue.length + count > maxQueue) throw new QueueFullError(`model ${name} has ${this.queue.length} images queued (limit ${maxQueue}); retry later`);
  }

  /**
   * Queues a request's inputs; resolves with their outputs in the same order.
   * @example const [logits] = await batcher.submit([tensor]);
   */
  submit(inputs: readonly I[]): Promise<O[]> {
    const { name, timeoutMs } = this.options;
    if (this.closed) return Promise.reject(new ShuttingDownError(`model ${name} is unloading`));
    if (inputs.length === 0) return Promise.resolve([]);
    try {
      this.checkRoom(inputs.length);
    } catch (error) {
      return Promise.reject(error);
    }
    return new Promise<O[]>((resolve, reject) => {
      const request: Request<O> = { outputs: new Array<O>(inputs.length), remaining: inputs.length, done: false, resolve, reject };
      if (timeoutMs > 0) {
        request.timer = setTimeout(() => {
          // Its queued items leave so they stop taking room; running ones finish unread.
          this.queue = this.queue.filter((item) => item.request !== request);
          this.fail(request, new InferenceTimeoutError(`model ${name} did not answer within ${timeoutMs} ms`));
          this.settle();
        }, timeoutMs);
      }
      const at = this.now();
      inputs.forEach((input, index) => this.queue.push({ input, request, index, at }));
      this.pump();
    });
  }

  /**
   * Refuses new work but runs what is queued; resolves once nothing is queued or running (a
   * replaced model version finishing its requests before its sessions are released).
   */
  drain(): Promise<void> {
    this.closed = true;
    if (this.queue.length === 0 && this.inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => (this.drained = resolve));
  }

  /** Refuses new work and rejects what is queued with INF_SHUTTING_DOWN; running batches finish. */
  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    const queued = this.queue;
    this.queue = [];
    for (const item of queued) this.fail(item.request, new ShuttingDownError(`model ${this.options.name} is unloading`));
    this.settle();
  }

  /** Tells a drain() that nothing is left. */
  private settle(): void {
    if (this.queue.length === 0 && this.inFlight === 0) this.drained?.();
  }

  private fail(request: Request<O>, error: Error): void {
    if (request.done) return;
    request.done = true;
    clearTimeout(request.timer);
    request.reject(error);
  }

  private pump(): void {
    const { maxBatchSize, maxBatchDelayMs, maxInFlight } = this.options;
    while (this.queue.length > 0 && this.inFlight < maxInFlight) {
      const waited = this.now() - this.queue[0]!.at;
      // With nothing running, waiting for company only adds latency: an idle model runs at once.
      if (this.inFlight > 0 && this.queue.length < maxBatchSize && waited < maxBatchDelayMs) {
        // Not due yet: wake when the oldest item is. A completed batch also calls pump().
        this.timer ??= setTimeout(() => {
          this.timer = undefined;
          this.pump();
        }, Math.max(0, maxBatchDelayMs - waited));
        return;
      }
      this.flush();
    }
  }

  private flush(): void {
    const batch = this.queue.splice(0, this.options.maxBatchSize);
    if (this.batchSizes.push(batch.length) > 1000) this.batchSizes.splice(0, 500);
    this.inFlight++;
    const started = this.now();
    this.options
      .run(batch.map((item) => item.input))
      .then((outputs) => {
        this.options.onBatch?.(batch.length, (this.now() - started) / 1000);
        if (outputs.length !== batch.length) throw new Error(`model ${this.options.name} returned ${outputs.length} outputs for ${batch.length} inputs`);
        batch.forEach((item, i) => {
          const request = item.request;
          if (request.done) return;
          request.outputs[item.index] = outputs[i]!;
          if (--request.remaining === 0) {
            request.done = true;
            clearTimeout(request.timer);
            request.resolve(request.outputs);
          }
        });
      })
      .catch((error: Error) => {
        for (const item of batch) this.fail(item.request, error);
      })
      .finally(() => {
        this.inFlight--;
        this.pump();
        this.settle();
      });
  }
}
