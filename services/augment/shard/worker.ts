import { parentPort } from 'node:worker_threads';
import type { DecodedImage } from '../../shared/intake.ts';
import { checkOutput } from '../steps.ts';
import type { ImageCache } from './cache.ts';
import { augmentSample, type ShardRecipe } from './sample.ts';
import { asBuffer, entryAsBuffer, type CacheReport, type SampleDone, type SampleJob, type SharedEntry } from './workers.ts';

/**
 * One job's view of the event loop's cache: the decodes it was sent, and the ones it makes, copied
 * into shared memory so that the cache can keep them without another copy.
 */
class JobCache implements ImageCache {
  readonly report: CacheReport = { hits: 0, misses: 0, fresh: [] };
  private readonly known: Map<string, DecodedImage>;

  constructor(entries: SharedEntry[]) {
    this.known = new Map(entries.map(entryAsBuffer));
  }

  async get(key: string, decode: () => Promise<DecodedImage>): Promise<DecodedImage> {
    const found = this.known.get(key);
    if (found) {
      this.report.hits++;
      return found;
    }
    this.report.misses++;
    const decoded = await decode();
    const data = Buffer.from(new SharedArrayBuffer(decoded.raw.data.length));
    decoded.raw.data.copy(data);
    const shared = { ...decoded, raw: { ...decoded.raw, data } };
    this.known.set(key, shared);
    this.report.fresh.push([key, shared]);
    return shared;
  }
}

// One shard sample per message (several in flight: sharp's decodes wait on libuv's pool), answered with
// its members. Their buffers are moved, not copied, where a member owns its whole buffer.
parentPort!.on('message', async (job: SampleJob) => {
  const { maxOutputPixels, ...spec } = job.recipe;
  const cache = job.cache ? new JobCache(job.cache.entries) : undefined;
  const recipe: ShardRecipe = {
    ...spec,
    ...(cache ? { cache } : {}),
    hooks: { beforeApply: (op, size, params) => checkOutput(op, size, params, maxOutputPixels) },
  };
  const members = new Map(job.members.map(([ext, data]) => [ext, asBuffer(data)]));
  const report = cache ? { cache: cache.report } : {};
  let done: SampleDone;
  try {
    const out = await augmentSample({ kind: 'sample', key: job.key, members }, recipe);
    done = { id: job.id, members: out.map(({ name, data }) => ({ name, data })), ...report };
  } catch (error) {
    const { message, code, statusCode, param, stack } = error as Error & { code?: string; statusCode?: number; param?: string };
    done = { id: job.id, failure: { message: String(message), ...(code ? { code } : {}), ...(statusCode ? { statusCode } : {}), ...(param ? { param } : {}), ...(stack ? { stack } : {}) }, ...report };
  }
  // Big members (the images) own their buffers and move; small ones sit in Node's pool and are copied.
  const moved = new Set((done.members ?? []).filter(({ data }) => data.byteOffset === 0 && data.byteLength === data.buffer.byteLength && !(data.buffer instanceof SharedArrayBuffer)).map(({ data }) => data.buffer as ArrayBuffer));
  try {
    parentPort!.postMessage(done, [...moved]);
  } catch {
    // A buffer that cannot be detached (one a native module made): copy everything instead.
    parentPort!.postMessage(done);
  }
});
