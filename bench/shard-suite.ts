/**
 * The shard suite of `npm run bench` (and of `bench/shard.ts`, its standalone form with the large
 * RSS shards): POST /v1/augment/shard against the same per-sample function in-process, against a
 * PyTorch DataLoader doing the same operations, on 1 and 2 replicas, and the service's RSS while a
 * large shard streams through it. Every comparison is interleaved run by run.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import sharp from 'sharp';
import tar from 'tar-stream';
import { readAugmentConfig } from '../services/augment/config.ts';
import { intakeErrors } from '../services/augment/errors.ts';
import { shardConcurrency } from '../services/augment/shard/routes.ts';
import { augmentSample, type ShardRecipe } from '../services/augment/shard/sample.ts';
import { checkOutput, parseSteps } from '../services/augment/steps.ts';
import { effectiveThreadpool, serviceEnv } from '../services/shared/parallelism.mjs';
import { runPython } from './python-job.ts';
import { startService, type RunningService } from './services.ts';
import { median, round } from './stats.ts';

/** torchvision's usual training recipe, as the service's steps (bench/python/shard_dataloader.py mirrors them). */
export const SHARD_OPS = [
  { op: 'flip', p: 0.5, direction: 'horizontal' },
  { op: 'rotate', angle_range: [-15, 15] },
  { op: 'crop', scale_range: [0.5, 1], ratio_range: [0.75, 1.3333], output_width: 224, output_height: 224 },
  { op: 'cutout', p: 0.5, size_ratio: 0.25 },
];
/**
 * Issue 24's recipe, asked for as tensors (`format=npy`): flip p=0.5, rotate ±15° (same size, black
 * fill), RandomResizedCrop 224 (scale 0.35-1, torchvision's ratio range), one 56×56 cutout.
 * bench/python/shard_dataloader.py's `recipe` variant mirrors it.
 */
export const RECIPE_OPS = [
  { op: 'flip', p: 0.5, direction: 'horizontal' },
  { op: 'rotate', angle_range: [-15, 15] },
  { op: 'crop', scale_range: [0.35, 1], output_width: 224, output_height: 224 },
  { op: 'cutout', holes: 1, size: 56 },
];
/** The cache-warm row's service keeps this many MiB of decoded images (64 bases × 192 KiB fit). */
const RECIPE_CACHE_MB = 256;
const SIDE = 256;
const BASES = 64;
const QUALITY = 90;

export interface ShardSuiteOptions {
  /** Samples per measured shard (in-process does the same count). */
  samples: number;
  runs: number;
  /** Samples in each of the two shards sent at once in the replica rows. */
  replicaSamples: number;
  /** Sizes (MiB) of the shards streamed for the RSS rows; empty for none. */
  rssMiB: number[];
  /** DataLoader variants to run (bench/python/shard_dataloader.py); empty for none. */
  pythonVariants: string[];
  workDir: string;
  log: (line: string) => void;
  /** Also run issue 24's recipe rows (npy out, cache warm, trainer CPU); default true. */
  recipe?: boolean;
}

/** Issue 24's rows: the recipe with `format=npy` through the endpoint, in-process, cache warm, and the DataLoader. */
export interface RecipeResult {
  ops: typeof RECIPE_OPS;
  cache_mb: number;
  rows: { shard_npy: ShardRow; in_process_npy: ShardRow; shard_npy_cache_warm: ShardRow; dataloader?: ShardRow };
  ratios: { shard_vs_in_process: number; shard_vs_dataloader?: number; cache_warm_vs_dataloader?: number };
  /** CPU µs for the trainer to make a uint8 tensor of one answer member (bench/python/trainer_decode.py). */
  trainer_cpu_us?: { npy: number; jpeg: number };
}

/** One row of the table: a median over runs, and every run. */
export interface ShardRow {
  images_per_s: number;
  per_run: number[];
}

export interface ShardSuiteResult {
  image: string;
  ops: typeof SHARD_OPS;
  samples: number;
  replica_samples: number;
  /** The service's SHARD_CONCURRENCY (auto) and libuv pool, which the in-process row copies. */
  concurrency: number;
  uv_threadpool_size: string | undefined;
  /** The bench process's own pool, where the in-process row runs (libuv reads it once, at start). */
  bench_uv_threadpool_size: number;
  rows: {
    shard: ShardRow;
    in_process: ShardRow;
    two_shards_one_replica: ShardRow;
    two_shards_two_replicas: ShardRow;
    /** DataLoader variant → row (shard_dataloader.py: defaults, same-ops, same-ops-jpeg). */
    dataloader: Record<string, ShardRow>;
  };
  ratios: {
    shard_vs_in_process: number;
    /** Against each DataLoader variant; the target is read against `same-ops` (what a training loop would run instead). */
    shard_vs_dataloader: Record<string, number>;
    two_replicas_vs_one: number;
  };
  rss: { shard_mib: number; samples: number; status: number; seconds: number; rss_before_mib: number; rss_peak_during_mib: number; answer_mib: number }[];
  python_versions: Record<string, unknown>;
  recipe?: RecipeResult;
}

/** Distinct photo-like JPEGs (gradients and a disc shifted per image), reused round-robin under distinct keys. */
export async function baseImages(): Promise<Buffer[]> {
  const images: Buffer[] = [];
  for (let k = 0; k < BASES; k++) {
    const data = Buffer.alloc(SIDE * SIDE * 3);
    for (let y = 0; y < SIDE; y++) {
      for (let x = 0; x < SIDE; x++) {
        const i = (y * SIDE + x) * 3;
        const inside = (x - 40 - k) ** 2 + (y - 100 + k) ** 2 < 900;
        data[i] = inside ? 230 : (x * 255) / SIDE;
        data[i + 1] = inside ? 30 : ((y + 3 * k) * 255) / SIDE % 256;
        data[i + 2] = (x * 7 + y * 13 + k * 31) % 256;
      }
    }
    images.push(await sharp(data, { raw: { width: SIDE, height: SIDE, channels: 3 } }).jpeg({ quality: QUALITY }).toBuffer());
  }
  return images;
}

const keyOf = (prefix: string, i: number) => `${prefix}${String(i).padStart(8, '0')}`;

/** A shard of `count` samples, generated member by member as it is sent. */
export function shardStream(images: Buffer[], count: number, prefix = 's'): Readable {
  const pack = tar.pack();
  void (async () => {
    for (let i = 0; i < count; i++) {
      const data = images[i % images.length]!;
      await new Promise<void>((resolve, reject) => pack.entry({ name: `${keyOf(prefix, i)}.jpg`, size: data.length, mtime: new Date(0) }, data, (e) => (e ? reject(e) : resolve())));
    }
    pack.finalize();
  })();
  return Readable.from(pack);
}

/** POSTs a streamed shard; the answer is counted, never kept (unless `keep`). Query: SHARD_OPS as JPEG q90 unless given. */
export function postShard(
  url: string,
  body: Readable,
  params: Record<string, string> = { ops: JSON.stringify(SHARD_OPS), format: 'jpeg', quality: String(QUALITY) },
  keep = false,
): Promise<{ seconds: number; answerBytes: number; status: number; answer?: Buffer }> {
  const started = performance.now();
  const query = new URLSearchParams({ seed: '1', ...params });
  return new Promise((resolve, reject) => {
    const req = request(new URL(`/v1/augment/shard?${query}`, url), { method: 'POST', headers: { 'content-type': 'application/x-tar' } }, (res) => {
      let answerBytes = 0;
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => {
        answerBytes += chunk.length;
        if (keep) chunks.push(chunk);
      });
      res.on('end', () => resolve({ seconds: (performance.now() - started) / 1000, answerBytes, status: res.statusCode!, ...(keep ? { answer: Buffer.concat(chunks) } : {}) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    body.pipe(req);
  });
}

function rssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Math.round(Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0) / 1024);
}

/** Members, counts and shard size are unlimited: the RSS rows stream more than the defaults allow. */
export const SHARD_SERVICE_ENV = { LOG_LEVEL: 'warn', REQUEST_TIMEOUT_MS: '0', MAX_SHARD_MEMBERS: '10000000', MAX_SHARD_BYTES: String(2 ** 40) };

/** The service's recipe for SHARD_OPS (or `ops` as npy), built as its route builds it (steps, limits, output check). */
export function shardRecipe(ops?: typeof RECIPE_OPS): { recipe: ShardRecipe; concurrency: number } {
  const config = readAugmentConfig({});
  const recipe: ShardRecipe = {
    steps: parseSteps(ops ?? SHARD_OPS, intakeErrors),
    variants: 1,
    seed: 1,
    epoch: 0,
    format: ops ? 'npy' : 'jpeg',
    quality: ops ? undefined : QUALITY,
    limits: { fileBytes: config.maxFileBytes, files: 1, fieldBytes: config.maxFieldBytes, fields: config.maxFields, inputPixels: config.maxInputPixels },
    maxTargets: config.maxTargets,
    fastDecodePixels: config.fastJpegDecodePixels,
    hooks: { beforeApply: (op, size, params) => checkOutput(op, size, params, config.maxOutputPixels) },
  };
  return { recipe, concurrency: shardConcurrency(config) };
}

/** `augmentSample` on `count` samples, `concurrency` at a time, with the service's sharp settings: images/s. */
export async function inProcessRun(images: Buffer[], count: number, recipe: ShardRecipe, concurrency: number): Promise<number> {
  sharp.cache(false);
  sharp.concurrency(1);
  const started = performance.now();
  let next = 0;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < count) {
      const i = next++;
      await augmentSample({ kind: 'sample', key: keyOf('s', i), members: new Map([['jpg', images[i % images.length]!]]) }, recipe);
    }
  }));
  return count / ((performance.now() - started) / 1000);
}

/** Peak RSS of the service while a shard of about `mib` MiB streams through it. */
async function rssRun(service: RunningService, images: Buffer[], mib: number) {
  const meanBytes = images.reduce((s, b) => s + b.length, 0) / images.length;
  const count = Math.ceil((mib * 2 ** 20) / (meanBytes + 512));
  const pid = service.child.pid!;
  const before = rssMiB(pid);
  let peak = before;
  const timer = setInterval(() => (peak = Math.max(peak, rssMiB(pid))), 200);
  const run = await postShard(service.url, shardStream(images, count)).finally(() => clearInterval(timer));
  return { shard_mib: mib, samples: count, status: run.status, seconds: Math.round(run.seconds), rss_before_mib: before, rss_peak_during_mib: peak, answer_mib: Math.round(run.answerBytes / 2 ** 20) };
}

/** RSS rows alone, on a fresh replica (`bench/shard.ts --rss-only`). */
export async function measureShardRss(mibs: number[], log: (line: string) => void): Promise<ShardSuiteResult['rss']> {
  const images = await baseImages();
  const service = await startService({ name: 'augment', env: SHARD_SERVICE_ENV });
  const rss: ShardSuiteResult['rss'] = [];
  try {
    await postShard(service.url, shardStream(images, 50));
    for (const mib of mibs) {
      rss.push(await rssRun(service, images, mib));
      log(`shard RSS: ${JSON.stringify(rss.at(-1))}`);
    }
  } finally {
    await service.stop();
  }
  return rss;
}

const row = (perRun: number[]): ShardRow => ({ images_per_s: round(median(perRun), 1), per_run: perRun.map((v) => round(v, 1)) });

export async function runShardSuite(options: ShardSuiteOptions): Promise<ShardSuiteResult> {
  const { samples, runs, log } = options;
  const images = await baseImages();
  const meanBytes = images.reduce((s, b) => s + b.length, 0) / images.length;
  const { recipe, concurrency } = shardRecipe();
  const perRun = { shard: [] as number[], inProcess: [] as number[], one: [] as number[], two: [] as number[] };
  const loaderRuns: Record<string, number[]> = {};
  let pythonVersions: Record<string, unknown> = {};
  const imageDir = join(options.workDir, 'shard-images');
  if (options.pythonVariants.length > 0) {
    rmSync(imageDir, { recursive: true, force: true });
    mkdirSync(imageDir, { recursive: true });
    images.forEach((image, i) => writeFileSync(join(imageDir, `${String(i).padStart(3, '0')}.jpg`), image));
  }
  // One DataLoader run of each variant, in its own Python process, between the service's runs.
  const loaderRun = async () => {
    const variants = withRecipe && !options.pythonVariants.includes('recipe') ? [...options.pythonVariants, 'recipe'] : options.pythonVariants;
    const job = { dir: imageDir, samples, runs: 1, workers: 2, batch_size: 32, variants };
    const py = (await runPython(join(import.meta.dirname, 'python', 'shard_dataloader.py'), job, log)) as { versions: Record<string, unknown>; results: Record<string, number[]> };
    pythonVersions = py.versions;
    for (const [variant, list] of Object.entries(py.results)) (loaderRuns[variant] ??= []).push(...list);
  };
  const rss: ShardSuiteResult['rss'] = [];
  const services: RunningService[] = [];
  const withRecipe = options.recipe !== false;
  const recipeSteps = shardRecipe(RECIPE_OPS).recipe;
  const recipeQuery = (epoch: number) => ({ ops: JSON.stringify(RECIPE_OPS), format: 'npy', layout: 'chw', epoch: String(epoch) });
  const perRecipe = { shard: [] as number[], inProcess: [] as number[], warm: [] as number[] };
  let trainer: RecipeResult['trainer_cpu_us'];
  try {
    services.push(await startService({ name: 'augment', env: SHARD_SERVICE_ENV }), await startService({ name: 'augment', env: SHARD_SERVICE_ENV }));
    const [one, other] = services as [RunningService, RunningService];
    // The cache-warm row's replica: the recipe's epoch 0 fills its cache once, each run is a later epoch.
    const cached = withRecipe ? await startService({ name: 'augment', env: { ...SHARD_SERVICE_ENV, SHARD_CACHE_MB: String(RECIPE_CACHE_MB) } }) : undefined;
    if (cached) {
      services.push(cached);
      // As many samples as a run: its workers' JIT is warm too (each worker thread compiles on its own).
      await postShard(cached.url, shardStream(images, Math.max(images.length, samples), 'q'), recipeQuery(0));
      await postShard(one.url, shardStream(images, samples, 'q'), recipeQuery(0));
      await inProcessRun(images, samples, recipeSteps, concurrency);
    }
    // Warm-up: the services' first shard, and this process's first samples.
    await Promise.all(services.map((s) => postShard(s.url, shardStream(images, Math.min(50, samples)))));
    await inProcessRun(images, Math.min(50, samples), recipe, concurrency);
    const pair = async (urls: string[]) => {
      const started = performance.now();
      await Promise.all([0, 1].map((i) => postShard(urls[i % urls.length]!, shardStream(images, options.replicaSamples, `r${i}-`))));
      return (2 * options.replicaSamples) / ((performance.now() - started) / 1000);
    };
    for (let r = 0; r < runs; r++) {
      const answer = await postShard(one.url, shardStream(images, samples));
      if (answer.status !== 200) throw new Error(`shard answered ${answer.status}`);
      perRun.shard.push(samples / answer.seconds);
      perRun.inProcess.push(await inProcessRun(images, samples, recipe, concurrency));
      if (options.pythonVariants.length > 0) await loaderRun();
      if (cached) {
        const answer = await postShard(one.url, shardStream(images, samples, 'q'), recipeQuery(r + 1));
        if (answer.status !== 200) throw new Error(`recipe shard answered ${answer.status}`);
        perRecipe.shard.push(samples / answer.seconds);
        perRecipe.inProcess.push(await inProcessRun(images, samples, { ...recipeSteps, epoch: r + 1 }, concurrency));
        perRecipe.warm.push(samples / (await postShard(cached.url, shardStream(images, samples, 'q'), recipeQuery(r + 1))).seconds);
        log(`recipe run ${r + 1}/${runs}: shard npy ${perRecipe.shard.at(-1)!.toFixed(0)}, in-process npy ${perRecipe.inProcess.at(-1)!.toFixed(0)}, shard npy cache warm ${perRecipe.warm.at(-1)!.toFixed(0)} images/s`);
      }
      perRun.one.push(await pair([one.url]));
      perRun.two.push(await pair([one.url, other.url]));
      const loaders = Object.entries(loaderRuns).map(([v, list]) => `, DataLoader ${v} ${list.at(-1)!.toFixed(0)}`).join('');
      log(`shard run ${r + 1}/${runs}: shard ${perRun.shard.at(-1)!.toFixed(0)}, in-process ${perRun.inProcess.at(-1)!.toFixed(0)}${loaders}, two shards on 1 replica ${perRun.one.at(-1)!.toFixed(0)}, on 2 replicas ${perRun.two.at(-1)!.toFixed(0)} images/s`);
    }
    if (withRecipe) trainer = await trainerCpu(one.url, images, Math.min(64, samples), join(options.workDir, 'trainer-members'), log);
    await other.stop();
    for (const mib of options.rssMiB) {
      rss.push(await rssRun(one, images, mib));
      log(`shard RSS: ${JSON.stringify(rss.at(-1))}`);
    }
  } finally {
    await Promise.all(services.map((s) => s.stop()));
  }

  const recipeLoader = loaderRuns.recipe;
  delete loaderRuns.recipe;
  const dataloader = Object.fromEntries(Object.entries(loaderRuns).map(([variant, list]) => [variant, row(list)]));
  let recipeResult: RecipeResult | undefined;
  if (withRecipe) {
    const rows: RecipeResult['rows'] = { shard_npy: row(perRecipe.shard), in_process_npy: row(perRecipe.inProcess), shard_npy_cache_warm: row(perRecipe.warm), ...(recipeLoader ? { dataloader: row(recipeLoader) } : {}) };
    recipeResult = {
      ops: RECIPE_OPS,
      cache_mb: RECIPE_CACHE_MB,
      rows,
      ratios: {
        shard_vs_in_process: round(rows.shard_npy.images_per_s / rows.in_process_npy.images_per_s),
        ...(rows.dataloader
          ? { shard_vs_dataloader: round(rows.shard_npy.images_per_s / rows.dataloader.images_per_s), cache_warm_vs_dataloader: round(rows.shard_npy_cache_warm.images_per_s / rows.dataloader.images_per_s) }
          : {}),
      },
      ...(trainer ? { trainer_cpu_us: trainer } : {}),
    };
  }
  const rows = { shard: row(perRun.shard), in_process: row(perRun.inProcess), two_shards_one_replica: row(perRun.one), two_shards_two_replicas: row(perRun.two), dataloader };
  return {
    image: `${SIDE}×${SIDE} JPEG q${QUALITY}, ${BASES} distinct images (${Math.round(meanBytes / 1024)} KiB mean) under distinct keys`,
    ops: SHARD_OPS,
    samples,
    replica_samples: options.replicaSamples,
    concurrency,
    uv_threadpool_size: serviceEnv('augment').UV_THREADPOOL_SIZE,
    bench_uv_threadpool_size: effectiveThreadpool(),
    rows,
    ratios: {
      shard_vs_in_process: round(rows.shard.images_per_s / rows.in_process.images_per_s),
      shard_vs_dataloader: Object.fromEntries(Object.entries(dataloader).map(([v, r]) => [v, round(rows.shard.images_per_s / r.images_per_s)])),
      two_replicas_vs_one: round(rows.two_shards_two_replicas.images_per_s / rows.two_shards_one_replica.images_per_s),
    },
    rss,
    python_versions: pythonVersions,
    ...(recipeResult ? { recipe: recipeResult } : {}),
  };
}

/** The members of a tar answer whose names end with `suffix`. */
async function membersOf(answer: Buffer, suffix: string): Promise<Buffer[]> {
  const out: Buffer[] = [];
  const extract = tar.extract();
  const done = (async () => {
    for await (const entry of extract) {
      const chunks: Buffer[] = [];
      for await (const chunk of entry) chunks.push(chunk as Buffer);
      if (entry.header.name.endsWith(suffix)) out.push(Buffer.concat(chunks));
    }
  })();
  extract.end(answer);
  await done;
  return out;
}

/** The trainer's CPU per sample to make a tensor of the recipe's answer: `.npy` against JPEG q90 (bench/python/trainer_decode.py). */
async function trainerCpu(url: string, images: Buffer[], count: number, dir: string, log: (line: string) => void): Promise<{ npy: number; jpeg: number }> {
  const ops = JSON.stringify(RECIPE_OPS);
  const npy = await postShard(url, shardStream(images, count, 't'), { ops, format: 'npy', layout: 'chw' }, true);
  const jpeg = await postShard(url, shardStream(images, count, 't'), { ops, format: 'jpeg', quality: String(QUALITY) }, true);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const write = async (answer: Buffer, ext: string) =>
    (await membersOf(answer, `.${ext}`)).map((data, i) => {
      const path = join(dir, `${i}.${ext}`);
      writeFileSync(path, data);
      return path;
    });
  const job = { npy: await write(npy.answer!, 'npy'), jpeg: await write(jpeg.answer!, 'jpg'), repeat: 5 };
  const result = (await runPython(join(import.meta.dirname, 'python', 'trainer_decode.py'), job, log)) as { npy_us: number; jpeg_us: number };
  log(`trainer CPU per sample: npy ${result.npy_us.toFixed(0)} µs, JPEG ${result.jpeg_us.toFixed(0)} µs`);
  return { npy: round(result.npy_us, 1), jpeg: round(result.jpeg_us, 1) };
}
