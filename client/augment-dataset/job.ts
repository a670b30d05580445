import { createHash } from 'node:crypto';
import { createReadStream, existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import tar from 'tar-stream';
import { planDataset, type PlannedShard } from './inputs.ts';

export interface JobOptions {
  input: string;
  output: string;
  /** The pipeline's steps, as `/v1/augment/shard` takes them. */
  ops: unknown[];
  variants: number;
  seed: number;
  epoch: number;
  services: string[];
  shardSize: number;
  /** Shards in flight at once (over all services). */
  concurrency: number;
  shardIndex: number;
  shardCount: number;
  format?: string;
  quality?: number;
  /** COCO: the image folder (default: beside instances.json). */
  images?: string;
  /** Attempts per shard before the job gives up on it. */
  attempts?: number;
  /** First backoff in ms, doubled on each retry of a shard. */
  backoffMs?: number;
  onProgress?: (event: ProgressEvent) => void;
  /** Test hook: stop (as a kill would) after this many shards are complete. */
  exitAfterShards?: number;
}

export type ProgressEvent =
  | { type: 'start'; shards: number; skipped: number; samples: number; skippedSamples: number }
  | { type: 'shard'; index: number; samples: number; errors: number; service: string }
  | { type: 'retry'; index: number; service: string; reason: string; attempt: number };

export interface SampleFailure {
  shard: string;
  key: string;
  code: string;
  detail: string;
}

/** The sidecar written beside each complete shard, and its entry in the manifest. */
export interface ShardRecord {
  name: string;
  samples: number;
  errors: SampleFailure[];
  sha256: string;
  params: string;
}

export interface JobReport {
  written: number;
  skipped: number;
  failures: SampleFailure[];
  /** Shards that could not be done (every attempt failed, or the service refused the shard). */
  failedShards: Array<{ name: string; reason: string }>;
}

/** Dropped connections, 5xx and 429 are the replica's trouble: another may do the shard. */
class RetryableError extends Error {}

export const shardName = (index: number) => `shard-${String(index).padStart(6, '0')}`;

function sha256(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

function paramsKey(options: JobOptions): string {
  return JSON.stringify({ ops: options.ops, variants: options.variants, seed: options.seed, epoch: options.epoch, format: options.format ?? null, quality: options.quality ?? null });
}

/** A complete shard: its tar and sidecar are there, made with these parameters, and the tar's hash matches. */
function completeRecord(output: string, name: string, params: string): ShardRecord | undefined {
  const sidecar = join(output, `${name}.json`);
  const file = join(output, `${name}.tar`);
  if (!existsSync(sidecar) || !existsSync(file)) return undefined;
  try {
    const record = JSON.parse(readFileSync(sidecar, 'utf8')) as ShardRecord;
    return record.params === params && record.sha256 === sha256(file) ? record : undefined;
  } catch {
    return undefined;
  }
}

/** The request body of one shard: its tar streamed from the files, a member at a time. */
function requestBody(shard: PlannedShard): Readable {
  if ('tar' in shard) return createReadStream(shard.tar);
  const pack = tar.pack();
  void (async () => {
    try {
      for (const sample of shard.samples) {
        for (const member of sample.members) {
          const data = member.data ?? readFileSync(member.path!);
          await new Promise<void>((resolve, reject) =>
            pack.entry({ name: `${sample.key}.${member.ext}`, size: data.length, mtime: new Date(0), mode: 0o644 }, data, (error) => (error ? reject(error) : resolve())),
          );
        }
      }
      pack.finalize();
    } catch (error) {
      pack.destroy(error as Error);
    }
  })();
  return Readable.from(pack);
}

function post(url: URL, body: Readable): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    const req = send(url, { method: 'POST', headers: { 'content-type': 'application/x-tar' } });
    req.on('response', resolve);
    req.on('error', (error) => reject(new RetryableError(`connection: ${error.message}`)));
    body.on('error', (error) => req.destroy(error));
    body.pipe(req);
  });
}

async function readText(res: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of res) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8').slice(0, 500);
}

/**
 * Sends one shard to one service and writes the answer's samples to `temp` (a tar with fixed
 * headers: equal answers give equal files). Errors and the summary stay out of the shard; the
 * failed samples are returned. Anything short of a whole answer ending in `__summary__.json`
 * throws, and the caller discards `temp`.
 */
async function augmentShard(service: string, shard: PlannedShard, options: JobOptions, temp: string, name: string) {
  const query = new URLSearchParams({ ops: JSON.stringify(options.ops), variants: String(options.variants), seed: String(options.seed), epoch: String(options.epoch) });
  if (options.format) query.set('format', options.format);
  if (options.quality !== undefined) query.set('quality', String(options.quality));
  const res = await post(new URL(`/v1/augment/shard?${query}`, service), requestBody(shard));
  if (res.statusCode !== 200) {
    const text = await readText(res).catch(() => '');
    const error = res.statusCode! >= 500 || res.statusCode === 429 || res.statusCode === 408 ? RetryableError : Error;
    throw new error(`HTTP ${res.statusCode}: ${text}`);
  }
  const failures: SampleFailure[] = [];
  const keys = new Set<string>();
  let summary: { samples: number } | undefined;
  let broken: string | undefined;
  const extract = tar.extract();
  const pack = tar.pack();
  const file = await open(temp, 'w');
  const written = pipeline(Readable.from(pack), file.createWriteStream());
  const reading = (async () => {
    for await (const entry of extract) {
      const chunks: Buffer[] = [];
      for await (const chunk of entry) chunks.push(chunk as Buffer);
      const data = Buffer.concat(chunks);
      const member = entry.header.name;
      if (member === '__summary__.json') summary = JSON.parse(data.toString('utf8'));
      else if (member === '__error__.json') broken = data.toString('utf8');
      else if (member.endsWith('.error.json')) {
        const problem = JSON.parse(data.toString('utf8')) as { code: string; detail: string };
        failures.push({ shard: name, key: member.slice(0, -'.error.json'.length), code: problem.code, detail: problem.detail });
      } else {
        keys.add(member.slice(0, member.indexOf('.', member.lastIndexOf('/') + 1)));
        await new Promise<void>((resolve, reject) =>
          pack.entry({ name: member, size: data.length, mtime: new Date(0), mode: 0o644, uid: 0, gid: 0, uname: '', gname: '' }, data, (error) => (error ? reject(error) : resolve())),
        );
      }
    }
  })();
  try {
    await Promise.all([pipeline(res, extract as unknown as NodeJS.WritableStream), reading]);
  } catch (error) {
    pack.destroy();
    await written.catch(() => undefined);
    throw new RetryableError(`answer cut off: ${(error as Error).message}`);
  }
  pack.finalize();
  await written;
  if (broken !== undefined) throw new Error(`the service could not read the shard: ${broken}`);
  if (!summary) throw new RetryableError('answer ended without __summary__.json');
  return { samples: summary.samples, failures };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Augments a dataset into `output/shard-NNNNNN.tar` through the shard endpoint of one or more
 * replicas. Each shard is written to a temporary name and renamed when whole, with a sidecar
 * `shard-NNNNNN.json` (samples, failures, sha256); a later run skips shards whose sidecar and hash
 * match. A dropped connection, 5xx or 429 retries the shard on the next replica with backoff.
 * `manifest.json` is rebuilt from every sidecar present at the end of each run.
 */
export async function runJob(options: JobOptions): Promise<JobReport> {
  const plan = planDataset(options.input, options.shardSize, options.images);
  mkdirSync(options.output, { recursive: true });
  const params = paramsKey(options);
  const mine = plan.shards.filter((shard) => shard.index % options.shardCount === options.shardIndex);
  // A killed run leaves its in-flight shards as temporary files: this slice's are removed (another
  // slice's pod may still be writing its own).
  for (const file of readdirSync(options.output)) {
    const match = /^\.shard-(\d{6})\.(?:tar|json)\.partial-\d+$/.exec(file);
    if (match && Number(match[1]) % options.shardCount === options.shardIndex) rmSync(join(options.output, file), { force: true });
  }
  const report: JobReport = { written: 0, skipped: 0, failures: [], failedShards: [] };
  const todo = mine.filter((shard) => {
    const done = completeRecord(options.output, shardName(shard.index), params);
    // A skipped shard's failed samples still count: the run's exit status speaks for the whole output.
    if (done) report.failures.push(...done.errors);
    return !done;
  });
  report.skipped = mine.length - todo.length;
  const count = (shards: PlannedShard[]) => shards.reduce((sum, shard) => sum + ('samples' in shard ? shard.samples.length : 0), 0);
  options.onProgress?.({ type: 'start', shards: mine.length, skipped: report.skipped, samples: count(mine), skippedSamples: count(mine) - count(todo) });
  const attempts = options.attempts ?? Math.max(5, 2 * options.services.length);
  const backoff = options.backoffMs ?? 200;
  let completed = 0;
  let next = 0;

  const doShard = async (shard: PlannedShard) => {
    const name = shardName(shard.index);
    const temp = join(options.output, `.${name}.tar.partial-${process.pid}`);
    let lastReason = '';
    for (let attempt = 0; attempt < attempts; attempt++) {
      const service = options.services[(shard.index + attempt) % options.services.length]!;
      try {
        const { samples, failures } = await augmentShard(service, shard, options, temp, name);
        const record: ShardRecord = { name, samples, errors: failures, sha256: sha256(temp), params };
        renameSync(temp, join(options.output, `${name}.tar`));
        writeFileSync(join(options.output, `.${name}.json.partial-${process.pid}`), JSON.stringify(record));
        renameSync(join(options.output, `.${name}.json.partial-${process.pid}`), join(options.output, `${name}.json`));
        report.written++;
        report.failures.push(...failures);
        options.onProgress?.({ type: 'shard', index: shard.index, samples, errors: failures.length, service });
        completed++;
        if (options.exitAfterShards !== undefined && completed >= options.exitAfterShards) process.exit(75);
        return;
      } catch (error) {
        rmSync(temp, { force: true });
        lastReason = (error as Error).message;
        if (!(error instanceof RetryableError)) break;
        options.onProgress?.({ type: 'retry', index: shard.index, service, reason: lastReason, attempt: attempt + 1 });
        await sleep(Math.min(backoff * 2 ** attempt, 10_000));
      }
    }
    report.failedShards.push({ name, reason: lastReason });
  };

  await Promise.all(
    Array.from({ length: Math.max(1, Math.min(options.concurrency, todo.length)) }, async () => {
      while (next < todo.length) await doShard(todo[next++]!);
    }),
  );
  writeManifest(options, plan.kind, plan.classes, plan.shards.length, params);
  report.failures.sort((a, b) => (a.shard + a.key < b.shard + b.key ? -1 : 1));
  return report;
}

/** The manifest, from every complete shard's sidecar (pods of an Indexed Job each add theirs). */
function writeManifest(options: JobOptions, kind: string, classes: string[], shardTotal: number, params: string) {
  const shards: ShardRecord[] = [];
  for (const file of readdirSync(options.output).filter((name) => /^shard-\d{6}\.json$/.test(name)).sort()) {
    const record = completeRecord(options.output, file.slice(0, -'.json'.length), params);
    if (record) shards.push(record);
  }
  const manifest = {
    input: { path: options.input, kind },
    params: { ops: options.ops, variants: options.variants, seed: options.seed, epoch: options.epoch, format: options.format ?? null, quality: options.quality ?? null, shard_size: options.shardSize },
    classes,
    shards_planned: shardTotal,
    shards_complete: shards.length,
    samples: shards.reduce((sum, s) => sum + s.samples, 0),
    errors: shards.reduce((sum, s) => sum + s.errors.length, 0),
    shards: shards.map(({ name, samples, errors, sha256 }) => ({ name: `${name}.tar`, samples, errors, sha256 })),
  };
  const temp = join(options.output, `.manifest.json.partial-${process.pid}`);
  writeFileSync(temp, `${JSON.stringify(manifest, null, 2)}\n`);
  renameSync(temp, join(options.output, 'manifest.json'));
}
