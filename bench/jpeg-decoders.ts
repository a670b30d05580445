// Issue 24: sharp (libvips + libjpeg-turbo) against @napi-rs/image decoding JPEGs to raw RGB, by
// size, the figures behind FAST_JPEG_DECODE_PIXELS (services/augment/source.ts):
//   node --import tsx bench/jpeg-decoders.ts [--out bench/work/jpeg-decoders.json]
// Each size is bench/inputs' 1024×768 photo resized to it and written at q90 (4:2:0). CPU and wall
// time per decode on one thread (sharp with one libvips thread and no cache, as the service runs
// it; both decoders through their async calls), after a warm-up pass, and the mean and largest
// absolute difference per channel value between the two decoders' pixels.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { Transformer } from '@napi-rs/image';
import sharp from 'sharp';
import { AUGMENT_INPUTS, augmentInput } from './inputs.ts';

const { values } = parseArgs({ options: { out: { type: 'string', default: 'bench/work/jpeg-decoders.json' } } });
sharp.concurrency(1);
sharp.cache(false);

const spec = AUGMENT_INPUTS.find((s) => s.format === 'jpeg' && s.width === 1024)!;
const { image: photo } = await augmentInput(spec, resolve('bench/work/inputs'));

async function time(count: number, decode: () => Promise<unknown>): Promise<{ cpu_ms: number; wall_ms: number }> {
  for (let i = 0; i < Math.min(count, 5); i++) await decode();
  const cpu = process.cpuUsage();
  const started = performance.now();
  for (let i = 0; i < count; i++) await decode();
  const used = process.cpuUsage(cpu);
  return { cpu_ms: Math.round(((used.user + used.system) / 1000 / count) * 1000) / 1000, wall_ms: Math.round(((performance.now() - started) / count) * 1000) / 1000 };
}

const rows = [];
for (const width of [128, 256, 512, 1024, 2048, 4096]) {
  const height = Math.round(width * 0.75);
  const bytes = await sharp(photo.bytes).resize(width, height, { fit: 'fill' }).jpeg({ quality: 90 }).toBuffer();
  const count = Math.max(5, Math.round((400 * 256 * 256) / (width * height)));
  const libjpeg = await sharp(bytes).raw().toBuffer();
  const napi = await new Transformer(bytes).rawPixels();
  let sum = 0;
  let max = 0;
  for (let i = 0; i < libjpeg.length; i++) {
    const d = Math.abs(libjpeg[i]! - napi[i]!);
    sum += d;
    max = Math.max(max, d);
  }
  const row = {
    size: `${width}x${height}`,
    sharp: await time(count, () => sharp(bytes).raw().toBuffer()),
    napi_rs_image: await time(count, () => new Transformer(bytes).rawPixels()),
    mean_abs_difference: Math.round((sum / libjpeg.length) * 10000) / 10000,
    max_abs_difference: max,
  };
  console.log(JSON.stringify(row));
  rows.push(row);
}
mkdirSync(dirname(resolve(values.out!)), { recursive: true });
writeFileSync(values.out!, `${JSON.stringify({ rows }, null, 2)}\n`);
