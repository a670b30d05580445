/**
 * Cutout's ways from upload to answer, timed interleaved in process, one image at a time, on the
 * bench's inputs and cutout parameters (bench/inputs.ts, bench/augment-cases.ts): the service's
 * path (decode to raw → paint in JavaScript → encode) against one sharp pipeline (decode →
 * composite of a solid rectangle → encode) in several spellings, with each output's decoded pixels
 * compared with the service's.
 *
 *   node --import tsx bench/cutout-experiments.ts [rounds=25] [input=1]   # input 0: 512×512 PNG, 1: 1024×768 JPEG
 *
 * sharp.concurrency(1), as the service runs. Prints median wall and CPU ms (every thread) per image.
 */
import { performance } from 'node:perf_hooks';
import { loadavg } from 'node:os';
import sharp, { type Sharp } from 'sharp';
import { augmentCases, SEED } from './augment-cases.ts';
import { AUGMENT_INPUTS, augmentInput } from './inputs.ts';
import { median, pixelDifference, round, timeInterleaved } from './stats.ts';
import { intakeErrors } from '../services/augment/errors.ts';
import { createRng } from '../services/augment/random.ts';
import { operations } from '../services/augment/ops/index.ts';
import { augmentOne } from '../services/augment/single.ts';
import { decodeImage, defaultOutputFormat, encodeImage, inspectImage, type IntakeLimits, type OutputFormat } from '../services/shared/intake.ts';
import type { ImageSize } from '../services/augment/ops/types.ts';

const rounds = Number(process.argv[2] ?? 25);
const { image } = await augmentInput(AUGMENT_INPUTS[Number(process.argv[3] ?? 1)]!, 'bench/work/inputs');
const limits: IntakeLimits = { fileBytes: 1 << 30, files: 2, fieldBytes: 1 << 16, fields: 64, inputPixels: 40_000_000 };
const c = augmentCases(image.width, image.height).find((x) => x.op === 'cutout')!;
const meta = await inspectImage(image.bytes, limits, intakeErrors);
const format: OutputFormat = defaultOutputFormat(meta);
const resolve = (size: ImageSize) => operations.cutout.sample(createRng(SEED), size, c.params, {}) as Record<string, unknown>;
const { width, height } = image;
const [[x1, y1, x2, y2]] = c.params.boxes as [[number, number, number, number]];
const hole = { left: x1, top: y1, width: x2 - x1, height: y2 - y1 };
const black = { r: 0, g: 0, b: 0 };
const encode = (s: Sharp) => (format === 'jpeg' ? s.jpeg({ optimiseCoding: false }) : s.png()).toBuffer();
const solid = Buffer.alloc(hole.width * hole.height * 3);

type Variant = { name: string; run: () => Promise<Buffer> };
const variants: Variant[] = [
  { name: 'decode → encode, no operation (one pipeline)', run: () => encode(sharp(image.bytes)) },
  {
    name: 'service: augmentOne (decode → paint in JS → encode)',
    run: async () => (await augmentOne({ op: 'cutout', bytes: image.bytes, meta, resolve, ctx: {}, format, quality: undefined, limits })).bytes,
  },
  {
    name: 'decode → apply (copy, then paint) → encode: the service before `paint`',
    run: async () => {
      const input = (await decodeImage(image.bytes, limits, intakeErrors, 'image', meta)).raw;
      return encodeImage(await operations.cutout.apply(input, resolve({ width, height }) as never, {}), format);
    },
  },
  {
    name: 'decode → paint in place (no copy) → encode',
    run: async () => {
      const input = (await decodeImage(image.bytes, limits, intakeErrors, 'image', meta)).raw;
      const row = Buffer.alloc(hole.width * 3);
      for (let y = y1; y < y2; y++) row.copy(input.data, (y * width + x1) * 3);
      return encodeImage(input, format);
    },
  },
  {
    name: 'one pipeline: composite { create } (blend over)',
    run: () => encode(sharp(image.bytes).composite([{ input: { create: { width: hole.width, height: hole.height, channels: 3, background: black } }, left: x1, top: y1 }])),
  },
  {
    name: 'one pipeline: composite { raw } (blend source)',
    run: () => encode(sharp(image.bytes).composite([{ input: solid, raw: { width: hole.width, height: hole.height, channels: 3 }, left: x1, top: y1, blend: 'source' }])),
  },
  {
    name: 'one pipeline: composite { raw }, premultiplied',
    run: () => encode(sharp(image.bytes).composite([{ input: solid, raw: { width: hole.width, height: hole.height, channels: 3 }, left: x1, top: y1, premultiplied: true }])),
  },
];

async function compare(a: Buffer, b: Buffer): Promise<string> {
  const [pa, pb] = await Promise.all([sharp(a).raw().toBuffer(), sharp(b).raw().toBuffer()]);
  return pixelDifference(pa, pb);
}

sharp.concurrency(1);
console.log(`load average at start: ${loadavg().map((l) => l.toFixed(2)).join(', ')}; ${rounds} rounds; ${image.name}, cutout box ${JSON.stringify(c.params.boxes)}`);
const reference = await variants[1]!.run();
const { wall, cpu } = await timeInterleaved(variants.map((v) => v.run), rounds);
console.log('| variant | wall ms (median) | CPU ms (median) | pixels against the service |');
console.log('| --- | --- | --- | --- |');
for (const [i, v] of variants.entries()) {
  const against = i === 0 ? '–' : await compare(await v.run(), reference);
  console.log(`| ${v.name} | ${round(median(wall[i]!), 2)} | ${round(median(cpu[i]!), 2)} | ${against} |`);
}
console.log(`load average at end: ${loadavg().map((l) => l.toFixed(2)).join(', ')}`);
