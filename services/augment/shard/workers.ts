import type { Worker } from 'node:worker_threads';
import { startWorker } from '../../shared/start-worker.ts';
import { DecodedCache, type CacheCounters } from './cache.ts';
import type { ShardSample } from './read.ts';
import { imageOf, type OutputMember, type ShardRecipe } from './sample.ts';

/** What a worker needs of a recipe: everything but its hooks and cache, which the worker makes itself. */
export type RecipeSpec = Omit<ShardRecipe, 'hooks' | 'cache'> & { maxOutputPixels: number };

export interface SampleJob {
  id: number;
  key: string;
  members: Array<[string, Uint8Array]>;
  recipe: RecipeSpec;
}

/** The fields of a service error that `.error.json` is made from (an Error does not cross threads whole). */
export interface SampleFailure {
  message: string;
  code?: string;
  statusCode?: number;
  param?: string;
  stack?: string;
}

export type SampleDone =
  | { id: number; members: Array<{ name: string; data: Uint8Array }>; cache?: CacheDelta; failure?: undefined }
  | { id: number; failure: SampleFailure; cache?: CacheDelta; members?: undefined };

/** A worker's cache lookups since its last answer, and the bytes it holds now. */
export interface CacheDelta {
  hits: number;
  misses: number;
  bytes: number;
}

export interface WorkerData {
  /** This worker's share of SHARD_CACHE_MB, in bytes; 0 = no cache. */
  cacheBytes: number;
}

interface Slot {
  worker: Worker;
  pending: Map<number, { resolve: (members: OutputMember[]) => void; reject: (error: Error) => void }>;
  cacheBytes: number;
}

const WORKER_URL = new URL(import.meta.url.endsWith('.ts') ? './worker.ts' : './worker.js', import.meta.url);

/**
 * `augmentSample` on worker threads (SHARD_WORKERS): decode, pipeline and encoder of a whole sample
 * run off the event loop, which is left to read and write the tars. Same bytes as in the caller's
 * thread. Without a cache a sample goes to the worker with the fewest in flight; with one
 * (SHARD_CACHE_MB, split evenly between the workers) it goes to the worker its image's sha256
 * names, so that every epoch finds it in the same worker's cache. A worker that dies fails its
 * samples and is replaced.
 */
export class SampleWorkers {
  private readonly slots: Slot[] = [];
  private nextId = 1;
  private closed = false;
  private readonly cacheShare: number;

  /** The workers start with the first sample: an app that never receives a shard starts none. */
  constructor(
    readonly size: number,
    cacheBytes: number,
    private readonly counters?: CacheCounters,
  ) {
    this.cacheShare = Math.floor(cacheBytes / size);
  }

  private spawn(): Slot {
    const slot: Slot = { worker: startWorker(WORKER_URL, { cacheBytes: this.cacheShare } satisfies WorkerData), pending: new Map(), cacheBytes: 0 };
    slot.worker.unref();
    slot.worker.on('message', (done: SampleDone) => {
      const job = slot.pending.get(done.id);
      if (!job) return;
      slot.pending.delete(done.id);
      if (done.cache) this.count(slot, done.cache);
      if (done.failure) job.reject(Object.assign(new Error(done.failure.message), done.failure));
      else job.resolve(done.members.map(({ name, data }) => ({ name, data: Buffer.from(data.buffer, data.byteOffset, data.byteLength) })));
    });
    const fail = (error: Error) => {
      for (const job of slot.pending.values()) job.reject(error);
      slot.pending.clear();
      slot.cacheBytes = 0;
      const i = this.slots.indexOf(slot);
      if (i >= 0 && !this.closed) this.slots[i] = this.spawn();
    };
    slot.worker.on('error', fail);
    slot.worker.on('exit', (code) => {
      if (!this.closed) fail(new Error(`shard worker exited with ${code}`));
    });
    return slot;
  }

  private count(slot: Slot, delta: CacheDelta): void {
    if (!this.counters) return;
    for (let i = 0; i < delta.hits; i++) this.counters.hit();
    for (let i = 0; i < delta.misses; i++) this.counters.miss();
    slot.cacheBytes = delta.bytes;
    this.counters.bytes(this.slots.reduce((sum, s) => sum + s.cacheBytes, 0));
  }

  private pick(sample: ShardSample): Slot {
    while (this.slots.length < this.size) this.slots.push(this.spawn());
    if (this.cacheShare > 0) {
      const key = DecodedCache.key(imageOf(sample).bytes);
      return this.slots[Number.parseInt(key.slice(0, 8), 16) % this.size]!;
    }
    return this.slots.reduce((best, s) => (s.pending.size < best.pending.size ? s : best));
  }

  /** The sample's answer members, or the error `augmentSample` threw (its code, status, message and param). */
  run(sample: ShardSample, recipe: RecipeSpec): Promise<OutputMember[]> {
    if (this.closed) return Promise.reject(new Error('the shard workers are closed'));
    if (sample.error) return Promise.reject(sample.error);
    let slot: Slot;
    try {
      slot = this.pick(sample);
    } catch (error) {
      return Promise.reject(error as Error);
    }
    const id = this.nextId++;
    return new Promise<OutputMember[]>((resolve, reject) => {
      slot.pending.set(id, { resolve, reject });
      const job: SampleJob = { id, key: sample.key, members: [...sample.members], recipe };
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
