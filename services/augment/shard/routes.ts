import { STATUS_CODES } from 'node:http';
import { Readable } from 'node:stream';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import tar from 'tar-stream';
import { coerceObject, validateAgainst } from '../../shared/form.ts';
import type { IntakeLimits, OutputFormat } from '../../shared/intake.ts';
import type { NpyLayout } from '../../shared/npy.ts';
import { queryParametersSchema } from '../../shared/openapi.ts';
import type { AugmentConfig } from '../config.ts';
import { InvalidParamError, intakeErrors } from '../errors.ts';
import type { OpName } from '../ops/types.ts';
import { randomSeed } from '../random.ts';
import { checkOutput, parseSteps, probeSteps } from '../steps.ts';
import { DecodedCache, type CacheCounters } from './cache.ts';
import { readShard, type ShardItem } from './read.ts';
import { SampleWorkers } from './workers.ts';
import { augmentSample, partnerPool, partnersNeeded, type OutputMember, type PartnerPool, type ShardRecipe } from './sample.ts';

/**
 * The shard's items, all read before the first is given (`ready` sees them all); a shard error met
 * on the way comes after the items read before it, as when streaming.
 */
async function* wholeShard(items: AsyncGenerator<ShardItem>, ready: (all: ShardItem[]) => void): AsyncGenerator<ShardItem> {
  const all: ShardItem[] = [];
  let failure: unknown;
  let failed = false;
  try {
    for await (const item of items) all.push(item);
  } catch (error) {
    [failure, failed] = [error, true];
  }
  ready(all);
  yield* all;
  if (failed) throw failure;
}

interface ShardQuery {
  ops: Array<Record<string, unknown>>;
  variants?: number;
  seed?: number;
  epoch?: number;
  format?: OutputFormat;
  quality?: number;
  layout?: NpyLayout;
}

/** Every answer member gets the same owner, mode and time, so equal requests give equal bytes. */
function header(name: string, size: number): tar.Headers {
  return { name, size, mode: 0o644, mtime: new Date(0), uid: 0, gid: 0, uname: '', gname: '', type: 'file' };
}

/** A problem object as the error handler would send it, for a member of the answer. */
function problemOf(error: unknown, request: FastifyRequest): Record<string, unknown> {
  const { code, statusCode, message, param } = error as { code?: string; statusCode?: number; message?: string; param?: string };
  const ours = typeof code === 'string' && code.startsWith('AUG_') && typeof statusCode === 'number';
  if (!ours) request.log.error({ err: error }, 'shard sample failed');
  const status = ours ? statusCode : 500;
  const stable = ours ? code : 'AUG_INTERNAL';
  return {
    type: `urn:augserve:problem:${stable.toLowerCase()}`,
    title: STATUS_CODES[status] ?? 'Error',
    status,
    detail: ours ? message : 'internal error',
    code: stable,
    ...(param ? { param } : {}),
  };
}

function json(name: string, value: unknown): OutputMember {
  return { name, data: Buffer.from(JSON.stringify(value)) };
}

/** A slot counter: at most `size` samples between being read and being written. */
function slots(size: number) {
  let free = size;
  const waiting: Array<() => void> = [];
  return {
    acquire: () => (free > 0 ? (free--, Promise.resolve()) : new Promise<void>((resolve) => waiting.push(resolve))),
    release: () => {
      const next = waiting.shift();
      if (next) next();
      else free++;
    },
  };
}

/**
 * Samples of one shard augmented at once: SHARD_CONCURRENCY, `auto` = twice this process's share
 * of the cores. A sample alternates between libvips calls (on the pool) and JavaScript between
 * them (on the event loop, which all samples share); with one sample per core the pool waits
 * while the event loop works, with two it has the next call ready (docs/BENCHMARKS.md, "Shards").
 */
export function shardConcurrency(config: Pick<AugmentConfig, 'shardConcurrency' | 'cores' | 'processes'>): number {
  return config.shardConcurrency === 'auto' ? 2 * Math.max(1, Math.ceil(config.cores / config.processes)) : config.shardConcurrency;
}

/** The decoded-image cache's hits, misses and bytes on /metrics, when the app has metrics. */
function cacheCounters(app: FastifyInstance): CacheCounters | undefined {
  if (!app.hasDecorator('metrics')) return undefined;
  const lookups = app.metrics.counter('augment_shard_cache_lookups_total', 'Decoded-image cache lookups of shard samples (SHARD_CACHE_MB), by result.', ['result']);
  const bytes = app.metrics.gauge('augment_shard_cache_bytes', 'Bytes of decoded pixels held by the shard cache.', []);
  return { hit: () => lookups.inc({ result: 'hit' }), miss: () => lookups.inc({ result: 'miss' }), bytes: (value) => bytes.set(value) };
}

/**
 * `POST /v1/augment/shard`: reads a WebDataset tar, schedules its samples, writes the answer tar.
 * The per-sample work is `augmentSample` (the pipeline route's decode, `runPipeline` and encoder).
 */
export default async function shardRoutes(app: FastifyInstance, options: { config: AugmentConfig }) {
  const { config } = options;
  const limits: IntakeLimits = {
    fileBytes: config.maxFileBytes,
    files: 1,
    fieldBytes: config.maxFieldBytes,
    fields: config.maxFields,
    inputPixels: config.maxInputPixels,
  };
  const concurrency = shardConcurrency(config);
  const contract = queryParametersSchema('augmentShard');
  // The steps' own fields are checked per operation by parseSteps, after `ops` is parsed as a list.
  const querySchema = { ...contract, properties: { ...contract.properties, ops: { ...contract.properties!.ops!, items: { type: 'object' } } } };
  const operationTimer = app.hasDecorator('metrics')
    ? app.metrics.histogram('augment_shard_sample_duration_seconds', 'Time to augment one shard sample (all its variants, decoding and encoding included).', [])
    : undefined;

  const workerCount = config.shardWorkers === 'auto' ? Math.max(1, Math.ceil(config.cores / config.processes)) : config.shardWorkers;
  const counters = cacheCounters(app);
  const cacheBytes = config.shardCacheMb * 1024 * 1024;
  const cache = cacheBytes > 0 ? new DecodedCache(cacheBytes, counters) : undefined;
  const workers = workerCount > 0 ? new SampleWorkers(workerCount, cache, counters) : undefined;
  if (workers) app.addHook('onClose', () => workers.close());

  // The body stays a stream: this plugin's scope only, so other routes keep their own parsers.
  app.addContentTypeParser('application/x-tar', (_request, payload, done) => done(null, payload));

  app.post('/v1/augment/shard', async (request, reply) => {
    const query = coerceObject({ ...(request.query as Record<string, unknown>) }, querySchema, intakeErrors);
    validateAgainst(query, querySchema, intakeErrors);
    const { ops, variants = 1, seed = randomSeed(), epoch = 0, format, quality, layout } = query as unknown as ShardQuery;
    const steps = parseSteps(ops, intakeErrors);
    probeSteps(steps);
    const mosaicAt = steps.findIndex((step) => step.op === 'mosaic');
    const singleAt = steps.findIndex((step) => step.op === 'cutmix' || step.op === 'mixup');
    if (mosaicAt >= 0 && singleAt >= 0) {
      throw Object.assign(new InvalidParamError(`expected mosaic or cutmix/mixup steps in one pipeline, not both, got ops[${mosaicAt}] and ops[${singleAt}]`), { param: `ops[${singleAt}].op` });
    }
    const { mix, mixes } = partnersNeeded(steps);
    const mixing = steps.findIndex((step) => step.op === 'cutmix');
    if (mixing >= 0) throw Object.assign(new InvalidParamError(`expected no cutmix step in a shard (a sample has no second image), got ops[${mixing}]`), { param: `ops[${mixing}].op` });
    const length = Number(request.headers['content-length']);
    if (length > config.maxShardBytes) throw new intakeErrors.PayloadTooLarge(`the shard is ${length} bytes; the limit is ${config.maxShardBytes}`);
    const body = request.body as Readable;

    const recipe: ShardRecipe = {
      steps,
      variants,
      seed,
      epoch,
      format,
      quality,
      layout,
      limits,
      maxTargets: config.maxTargets,
      fastDecodePixels: config.fastJpegDecodePixels,
      cache,
      hooks: { beforeApply: (op: OpName, size, params) => checkOutput(op, size, params, config.maxOutputPixels) },
    };
    const { hooks: _hooks, cache: _cache, ...spec } = recipe;
    const workerRecipe = { ...spec, maxOutputPixels: config.maxOutputPixels };
    const started = Date.now();
    const shardItems = readShard(body, { shardBytes: config.maxShardBytes, members: config.maxShardMembers, fileBytes: config.maxFileBytes, fieldBytes: config.maxFieldBytes }, intakeErrors);
    // Mixing steps draw partners from the whole shard: it is read (up to MAX_SHARD_BYTES) before the first sample.
    let pool: PartnerPool | undefined;
    const items = mix || mixes > 0 ? wholeShard(shardItems, (all) => (pool = partnerPool(all))) : shardItems;

    // The first item is read before answering: a body that is no tar at all is still a clean 4xx.
    const first = await items.next();

    const pack = tar.pack();
    const gate = slots(concurrency);
    const queue: Array<Promise<OutputMember[]>> = [];
    let wake: (() => void) | undefined;
    let readError: unknown;
    let reading = true;
    let stopped = false;
    let samples = 0;
    let errors = 0;

    const process = async (item: ShardItem): Promise<OutputMember[]> => {
      if (item.kind === 'invalid') {
        errors++;
        return [json(`__member_${item.position}__.error.json`, problemOf(item.error, request))];
      }
      samples++;
      const end = operationTimer?.startTimer();
      try {
        // Mixing steps draw partners from the whole shard, which stays on the event loop.
        return await (workers && !pool ? workers.run(item, workerRecipe) : augmentSample(item, recipe, pool));
      } catch (error) {
        errors++;
        return [json(`${item.key}.error.json`, problemOf(error, request))];
      } finally {
        end?.();
      }
    };

    const read = async () => {
      try {
        let next = first;
        while (!next.done && !stopped) {
          await gate.acquire();
          if (stopped) break;
          queue.push(process(next.value));
          wake?.();
          next = await items.next();
        }
      } catch (error) {
        readError = error;
      } finally {
        reading = false;
        wake?.();
        if (stopped) await items.return(undefined);
      }
    };

    const write = (member: OutputMember) =>
      new Promise<void>((resolve, reject) => pack.entry(header(member.name, member.data.length), member.data, (error) => (error ? reject(error) : resolve())));

    const writeAll = async () => {
      try {
        for (;;) {
          if (queue.length === 0) {
            if (!reading) break;
            await new Promise<void>((resolve) => (wake = resolve));
            wake = undefined;
            continue;
          }
          const members = await queue.shift()!;
          for (const member of members) await write(member);
          gate.release();
        }
        if (readError !== undefined) {
          await write(json('__error__.json', problemOf(readError, request)));
        } else {
          await write(json('__summary__.json', { samples, variants, errors, seconds: (Date.now() - started) / 1000, seed, epoch }));
        }
        pack.finalize();
      } catch {
        // The answer stream went away (client gone): stop reading too.
        stop();
      }
    };

    const stop = () => {
      if (stopped) return;
      stopped = true;
      gate.release();
      pack.destroy();
      body.destroy();
    };
    reply.raw.on('close', () => {
      if (!reply.raw.writableFinished) stop();
    });

    void read();
    void writeAll();
    return reply.type('application/x-tar').send(Readable.from(pack));
  });
}
