// npm run augment-dataset -- <input> <output> --ops ops.json --variants 4 --seed 1 --epoch 0
//   --services http://a:3001,http://b:3001 --shard-size 256 [--concurrency C] [--shard-index i --shard-count n]
//   [--format jpeg|png|webp|avif] [--quality q] [--images DIR (COCO)]
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import cliProgress from 'cli-progress';
import { runJob, type JobOptions, type ProgressEvent } from './job.ts';

function integer(name: string, text: string | undefined, fallback: number, min: number, max: number): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!/^\d+$/.test(text) || value < min || value > max) throw new Error(`expected an integer from ${min} to ${max} for --${name}, got ${text}`);
  return value;
}

function parse(argv: string[]): JobOptions {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      ops: { type: 'string' },
      variants: { type: 'string' },
      seed: { type: 'string' },
      epoch: { type: 'string' },
      services: { type: 'string' },
      'shard-size': { type: 'string' },
      concurrency: { type: 'string' },
      'shard-index': { type: 'string' },
      'shard-count': { type: 'string' },
      format: { type: 'string' },
      quality: { type: 'string' },
      images: { type: 'string' },
    },
  });
  const [input, output] = positionals;
  if (!input || !output || positionals.length > 2) throw new Error('expected <input> <output>');
  if (!values.ops) throw new Error('expected --ops <file.json> (the pipeline steps)');
  if (!values.services) throw new Error('expected --services URL[,URL...]');
  const ops = JSON.parse(readFileSync(values.ops, 'utf8')) as unknown;
  if (!Array.isArray(ops)) throw new Error(`expected a JSON array of steps in ${values.ops}`);
  const shardCount = integer('shard-count', values['shard-count'], 1, 1, 1_000_000);
  return {
    input,
    output,
    ops,
    variants: integer('variants', values.variants, 1, 1, 32),
    seed: integer('seed', values.seed, 0, 0, 4294967295),
    epoch: integer('epoch', values.epoch, 0, 0, 4294967295),
    services: values.services.split(',').map((url) => url.trim()).filter(Boolean),
    shardSize: integer('shard-size', values['shard-size'], 256, 1, 1_000_000),
    concurrency: integer('concurrency', values.concurrency, 2, 1, 256),
    shardIndex: integer('shard-index', values['shard-index'], 0, 0, shardCount - 1),
    shardCount,
    ...(values.format ? { format: values.format } : {}),
    ...(values.quality ? { quality: integer('quality', values.quality, 0, 1, 100) } : {}),
    ...(values.images ? { images: values.images } : {}),
    ...(process.env.AUGMENT_DATASET_EXIT_AFTER_SHARDS ? { exitAfterShards: Number(process.env.AUGMENT_DATASET_EXIT_AFTER_SHARDS) } : {}),
  };
}

/**
 * A bar with samples/s, errors and ETA on a terminal; one plain line per event otherwise. (Input
 * tars are not counted ahead: their bar counts samples against the total seen so far.)
 */
function progress(): { onProgress: (event: ProgressEvent) => void; finish: () => void } {
  const started = Date.now();
  let done = 0;
  let errors = 0;
  const rate = () => (done / Math.max(0.001, (Date.now() - started) / 1000)).toFixed(1);
  if (!process.stderr.isTTY) {
    return {
      onProgress: (event) => {
        if (event.type === 'start') console.error(`augment-dataset: ${event.shards} shards (${event.skipped} already complete), ${event.samples} samples`);
        else if (event.type === 'retry') console.error(`shard ${event.index}: retry ${event.attempt} after ${event.service}: ${event.reason}`);
        else {
          done += event.samples;
          errors += event.errors;
          console.error(`shard ${event.index} done on ${event.service}: ${event.samples} samples, ${event.errors} errors (${rate()} samples/s)`);
        }
      },
      finish: () => undefined,
    };
  }
  const bar = new cliProgress.SingleBar(
    { format: '{bar} {value}/{total} samples | {rate} samples/s | {errors} errors | ETA {eta_formatted}', stream: process.stderr, hideCursor: true },
    cliProgress.Presets.shades_classic,
  );
  let skipped = 0;
  return {
    onProgress: (event) => {
      if (event.type === 'start') {
        skipped = event.skippedSamples;
        bar.start(event.samples, skipped, { rate: '0', errors: 0 });
      } else if (event.type === 'shard') {
        done += event.samples;
        errors += event.errors;
        if (skipped + done > bar.getTotal()) bar.setTotal(skipped + done);
        bar.update(skipped + done, { rate: rate(), errors });
      }
    },
    finish: () => bar.stop(),
  };
}

async function main() {
  let options: JobOptions;
  try {
    options = parse(process.argv.slice(2));
  } catch (error) {
    console.error(`augment-dataset: ${(error as Error).message}`);
    process.exit(2);
  }
  const shown = progress();
  const report = await runJob({ ...options, onProgress: shown.onProgress });
  shown.finish();
  console.error(`augment-dataset: ${report.written} shards written, ${report.skipped} skipped, ${report.failures.length} samples failed, ${report.failedShards.length} shards failed`);
  for (const failure of report.failures) console.error(`  failed: ${failure.shard} ${failure.key}: ${failure.code} ${failure.detail}`);
  for (const shard of report.failedShards) console.error(`  shard not done: ${shard.name}: ${shard.reason}`);
  process.exitCode = report.failures.length > 0 || report.failedShards.length > 0 ? 1 : 0;
}

await main();
