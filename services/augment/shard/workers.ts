import type { Worker } from 'node:worker_threads';
import type { DecodedImage } from '../../shared/intake.ts';
import { startWorker } from '../../shared/start-worker.ts';
import { DecodedCache, entryKey, type CacheCounters } from './cache.ts';
import type { ShardSample } from './read.ts';
import { imageOf, type OutputMember, type ShardRecipe } from './sample.ts';

/** What a worker needs of a recipe: everything but its hooks and cache, which the worker makes itself. */
export type RecipeSpec = Omit<ShardRecipe, 'hooks' | 'cache'> & { maxOutputPixels: number };

/** A decoded image by its cache key; the pixels in a SharedArrayBuffer, so no thread copies them. */
export type SharedEntry = [key: string, image: DecodedImage];

export interface SampleJob {
  id: number;
  key: string;
  members: Array<[string, Uint8Array]>;
  recipe: RecipeSpec;
  /** With SHARD_CACHE_MB: the sample image's sha256 and its decodes the cache holds. */
  cache?: { sha256: string; entries: SharedEntry[] };
}

/** The fields of a service error that `.error.json` is made from (an Error does not cross threads whole). */
export interface SampleFailure {
  message: string;
  code?: string;
  statusCode?: number;
  param?: string;
  stack?: string;
}

/** A job's cache use: lookups it answered, decodes it made (to keep). */
export interface CacheReport {
  hits: number;
  misses: number;
  fresh: SharedEntry[];
}

export type SampleDone =
  | { id: number; members: Array<{ name: string; data: Uint8Array }>; cache?: CacheReport; failure?: undefined }
  | { id: number; failure: SampleFailure; cache?: CacheReport; members?: undefined };

interface Slot {
  worker: Worker;
  pending: Map<number, { resolve: (members: OutputMember[]) => void; reject: (error: Error) => void }>;
}

const WORKER_URL = new URL(import.meta.url.endsWith('.ts') ? './worker.ts' : './worker.js', import.meta.url);

/** Bytes as a Buffer again after crossing threads (a clone arrives as a plain Uint8Array): a view, no copy. */
export function asBuffer(view: Uint8Array): Buffer {
  return Buffer.from(view.buffer, view.byteOffset, view.byteLength);
}

/** A cache entry with its pixels as a Buffer again. */
export function entryAsBuffer([key, image]: SharedEntry): SharedEntry {
  return [key, { ...image, raw: { ...image.raw, data: asBuffer(image.raw.data) } }];
}

/**
 * `augmentSample` on worker threads (SHARD_WORKERS): decode, pipeline and encoder of a whole sample
 * run off the event loop, which is left to read and write the tars. Same bytes as in the caller's
 * thread. A sample goes to the worker with the fewest in flight. The decoded-sample cache
 * (SHARD_CACHE_MB) stays on the event loop, one for all workers: a job carries the decodes of its
 * image that the cache holds (shared memory, not copies), and brings back the ones it made. A
 * worker that dies fails its samples and is replaced with the next sample.
 */
export class SampleWorkers {
  private readonly slots: Slot[] = [];
  private nextId = 1;
  private closed = false;

  /** The workers start with the first sample: an app that never receives a shard starts none. */
  constructor(
    readonly size: number,
    private readonly cache?: DecodedCache,
    private readonly counters?: CacheCounters,
  ) {}

  private spawn(): Slot {
    const slot: Slot = { worker: startWorker(WORKER_URL), pending: new Map() };
    slot.worker.unref();
    slot.worker.on('message', (done: SampleDone) => {
      const job = slot.pending.get(done.id);
      if (!job) return;
      slot.pending.delete(done.id);
      if (done.cache) this.keep(done.cache);
      if (done.failure) job.reject(Object.assign(new Error(done.failure.message), done.failure));
      else job.resolve(done.members.map(({ name, data }) => ({ name, data: asBuffer(data) })));
    });
    const fail = (error: Error) => {
      for (const job of slot.pending.values()) job.reject(error);
      slot.pending.clear();
      // Replaced when the next sample comes, not now: a worker that cannot start would otherwise respawn in a loop.
      const i = this.slots.indexOf(slot);
      if (i >= 0) this.slots.splice(i, 1);
    };
    slot.worker.on('error', fail);
    slot.worker.on('exit', (code) => {
      if (!this.closed) fail(new Error(`shard worker exited with ${code}`));
    });
    return slot;
  }

  private keep({ hits, misses, fresh }: CacheReport): void {
    for (let i = 0; i < hits; i++) this.counters?.hit();
    for (let i = 0; i < misses; i++) this.counters?.miss();
    for (const entry of fresh) this.cache?.put(...entryAsBuffer(entry));
  }

  /** What the cache holds of the sample's image, for its job. */
  private cached(sample: ShardSample): SampleJob['cache'] {
    if (!this.cache) return undefined;
    const sha256 = DecodedCache.key(imageOf(sample).bytes);
    const entries: SharedEntry[] = [];
    for (const factor of [1, 2, 4, 8]) {
      const key = entryKey(sha256, factor);
      const image = this.cache.peek(key);
      if (image) entries.push([key, image]);
    }
    return { sha256, entries };
  }

  /** The sample's answer members, or the error `augmentSample` threw (its code, status, message and param). */
  run(sample: ShardSample, recipe: RecipeSpec): Promise<OutputMember[]> {
    if (this.closed) return Promise.reject(new Error('the shard workers are closed'));
    if (sample.error) return Promise.reject(sample.error);
    let cache: SampleJob['cache'];
    try {
      cache = this.cached(sample);
    } catch (error) {
      return Promise.reject(error as Error);
    }
    while (this.slots.length < this.size) this.slots.push(this.spawn());
    const slot = this.slots.reduce((best, s) => (s.pending.size < best.pending.size ? s : best));
    const id = this.nextId++;
    return new Promise<OutputMember[]>((resolve, reject) => {
      slot.pending.set(id, { resolve, reject });
      const job: SampleJob = { id, key: sample.key, members: [...sample.members], recipe, ...(cache ? { cache } : {}) };
      slot.worker.ref();
      slot.worker.postMessage(job);
    }).finally(() => {
      if (slot.pending.size === 0) slot.worker.unref();
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.slots.map((slot) => slot.worker.terminate()));
  }
}
