// Issue 24, item 3 (decode only what is needed): the shard path's reduced JPEG decode against the
// whole decode, on large photos cropped to a training size:
//   node --import tsx bench/reduced-decode.ts [--samples 24] [--side 2000] [--out bench/work/reduced-decode.json]
// Each sample is a `side`×(¾·side) JPEG (q90, gradients, texture and shapes). The recipe is issue
// 24's (flip, rotate ±15°, RandomResizedCrop 224 with scale 0.35-1, one 56×56 cutout). Each sample
// runs through `runPipeline` twice with the same seed: from a pending image decoded as small as
// its run allows (what the shard route does), and from one that always decodes whole. Figures:
// CPU per sample on one thread (sharp with one libvips thread, as the service runs it; decode
// included), interleaved over three passes, the reductions used, and the mean absolute difference
// per channel value (0-255) between the two answers.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { intakeErrors } from '../services/augment/errors.ts';
import { runPipeline, type PendingImage } from '../services/augment/pipeline.ts';
import { createRng } from '../services/augment/random.ts';
import type { Reduction } from '../services/augment/runs.ts';
import { parseSteps } from '../services/augment/steps.ts';
import { decodeImage, inspectImage } from '../services/shared/intake.ts';
import { RECIPE_OPS } from './shard-suite.ts';

const { values } = parseArgs({ options: { samples: { type: 'string', default: '24' }, side: { type: 'string', default: '2000' }, out: { type: 'string', default: 'bench/work/reduced-decode.json' } } });
const samples = Number(values.samples);
const width = Number(values.side);
const height = Math.round((width * 3) / 4);
sharp.concurrency(1);
sharp.cache(false);

async function photo(seed: number): Promise<Buffer> {
  const data = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3;
      const t = 25 * Math.sin((x + seed * 37) / (7 + seed)) * Math.cos(y / 11);
      const disc = Math.hypot(x - width * (0.3 + 0.02 * seed), y - height / 2) < width / 10;
      data[i] = disc ? 230 : Math.round(70 + (x / width) * 110 + t);
      data[i + 1] = disc ? 40 : Math.round(50 + (y / height) * 130 - t);
      data[i + 2] = disc ? 60 : Math.round(100 + t + ((x * 3 + y * 5) % 17));
    }
  }
  return sharp(data, { raw: { width, height, channels: 3 } }).jpeg({ quality: 90 }).toBuffer();
}

const limits = { fileBytes: 2 ** 30, files: 1, fieldBytes: 2 ** 20, fields: 100, inputPixels: 2 ** 28 };
const steps = parseSteps(RECIPE_OPS, intakeErrors);
const images = await Promise.all(Array.from({ length: samples }, (_, i) => photo(i)));

/** The sample as the shard route sees it: a header read, then pixels on demand (`reduce` false: always whole). */
async function pending(bytes: Buffer, reduce: boolean, used: Reduction[]): Promise<PendingImage> {
  const meta = await inspectImage(bytes, limits, intakeErrors);
  return {
    width: meta.width,
    height: meta.height,
    decode: async (factor) => {
      const f = reduce ? factor : 1;
      used.push(f);
      const size = f === 1 ? undefined : { width: Math.round(meta.width / f), height: Math.round(meta.height / f) };
      return (await decodeImage(bytes, limits, intakeErrors, 'image', meta, size)).raw;
    },
  };
}

const cpu = { reduced: [] as number[], whole: [] as number[] };
const used: Reduction[] = [];
let difference = 0;
for (let pass = 0; pass < 3; pass++) {
  for (const path of ['reduced', 'whole'] as const) {
    const started = process.cpuUsage();
    for (const [i, bytes] of images.entries()) {
      await runPipeline(createRng(100 + i), await pending(bytes, path === 'reduced', pass === 0 && path === 'reduced' ? used : []), steps, {});
    }
    const spent = process.cpuUsage(started);
    cpu[path].push((spent.user + spent.system) / 1000 / images.length);
  }
}
for (const [i, bytes] of images.entries()) {
  const a = await runPipeline(createRng(100 + i), await pending(bytes, true, []), steps, {});
  const b = await runPipeline(createRng(100 + i), await pending(bytes, false, []), steps, {});
  let sum = 0;
  for (let k = 0; k < a.image.data.length; k++) sum += Math.abs(a.image.data[k]! - b.image.data[k]!);
  difference += sum / a.image.data.length / images.length;
}
const median = (list: number[]) => [...list].sort((x, y) => x - y)[Math.floor(list.length / 2)]!;
const result = {
  samples,
  size: `${width}x${height}`,
  ops: RECIPE_OPS,
  cpu_ms_per_sample_one_thread: { reduced: Math.round(median(cpu.reduced) * 100) / 100, whole: Math.round(median(cpu.whole) * 100) / 100, passes: cpu },
  reductions_used: Object.fromEntries([1, 2, 4, 8].map((f) => [f, used.filter((u) => u === f).length])),
  mean_abs_difference_reduced_vs_whole: Math.round(difference * 1000) / 1000,
};
mkdirSync(dirname(resolve(values.out!)), { recursive: true });
writeFileSync(values.out!, `${JSON.stringify(result, null, 2)}\n`);
console.log(JSON.stringify(result, null, 2));
