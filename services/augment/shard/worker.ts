import { parentPort, workerData } from 'node:worker_threads';
import { checkOutput } from '../steps.ts';
import { DecodedCache } from './cache.ts';
import { augmentSample, type ShardRecipe } from './sample.ts';
import type { CacheDelta, SampleDone, SampleJob, WorkerData } from './workers.ts';

// One shard sample per message (several in flight: sharp's decoding waits on libuv's pool), answered
// with its members. Their buffers are moved, not copied, where a member owns its whole buffer.
const { cacheBytes } = workerData as WorkerData;
const delta: CacheDelta = { hits: 0, misses: 0, bytes: 0 };
const cache = cacheBytes > 0 ? new DecodedCache(cacheBytes, { hit: () => delta.hits++, miss: () => delta.misses++, bytes: (value) => (delta.bytes = value) }) : undefined;

/** The cache's lookups since the last answer, for the pool to count on /metrics. */
function withCache(): { cache?: CacheDelta } {
  if (!cache) return {};
  const out = { ...delta };
  delta.hits = 0;
  delta.misses = 0;
  return { cache: out };
}

parentPort!.on('message', async (job: SampleJob) => {
  const { maxOutputPixels, ...spec } = job.recipe;
  const recipe: ShardRecipe = {
    ...spec,
    ...(cache ? { cache } : {}),
    hooks: { beforeApply: (op, size, params) => checkOutput(op, size, params, maxOutputPixels) },
  };
  const members = new Map(job.members.map(([ext, data]) => [ext, Buffer.from(data.buffer, data.byteOffset, data.byteLength)]));
  let done: SampleDone;
  try {
    const out = await augmentSample({ kind: 'sample', key: job.key, members }, recipe);
    done = { id: job.id, members: out.map(({ name, data }) => ({ name, data })), ...withCache() };
  } catch (error) {
    const { message, code, statusCode, param, stack } = error as Error & { code?: string; statusCode?: number; param?: string };
    done = { id: job.id, failure: { message: String(message), ...(code ? { code } : {}), ...(statusCode ? { statusCode } : {}), ...(param ? { param } : {}), ...(stack ? { stack } : {}) }, ...withCache() };
  }
  // Big members (the images) own their buffers and move; small ones sit in Node's pool and are copied.
  const moved = new Set((done.members ?? []).filter(({ data }) => data.byteOffset === 0 && data.byteLength === data.buffer.byteLength).map(({ data }) => data.buffer as ArrayBuffer));
  try {
    parentPort!.postMessage(done, [...moved]);
  } catch {
    // A buffer that cannot be detached (one a native module made): copy everything instead.
    parentPort!.postMessage(done);
  }
});
