/**
 * What targets cost: a 1024×768 JPEG through flip + rotate + crop, with and without 20 boxes and
 * one mask, through the service's route (`app.inject`: multipart parsing, limits, encoding, no
 * socket) and in-process (decode → runPipeline → encode, the route's work without the form).
 * One request at a time; medians of RUNS. A quick, indicative figure for docs/BENCHMARKS.md, not
 * part of `npm run bench`'s tables.
 *
 *   npx tsx bench/targets-cost.ts [runs]
 */
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { buildAugmentApp } from '../services/augment/app.ts';
import { readAugmentConfig } from '../services/augment/config.ts';
import { intakeErrors } from '../services/augment/errors.ts';
import { runPipeline, type PipelineStep } from '../services/augment/pipeline.ts';
import { createRng } from '../services/augment/random.ts';
import { encodeMask } from '../services/augment/targets/answer.ts';
import { DEFAULT_TARGET_SETTINGS } from '../services/augment/targets/set.ts';
import { decodeImage, encodeImage } from '../services/shared/intake.ts';
import { AUGMENT_INPUTS, augmentInput } from './inputs.ts';
import { median } from './stats.ts';

const RUNS = Number(process.argv[2] ?? 40);
const STEPS: PipelineStep[] = [{ op: 'flip' }, { op: 'rotate', angle: 10 }, { op: 'crop', x: 100, y: 80, width: 800, height: 600 }];

const { image } = await augmentInput(AUGMENT_INPUTS.find((s) => s.name === 'photo-1024x768.jpg')!, join(tmpdir(), 'augserve-bench-inputs'));
const [W, H] = [image.width, image.height];
const boxes = Array.from({ length: 20 }, (_, i) => [(i % 5) * 200 + 10, Math.floor(i / 5) * 190 + 10, (i % 5) * 200 + 150, Math.floor(i / 5) * 190 + 160]);
const maskRaw = Buffer.alloc(W * H);
boxes.forEach(([x1, y1, x2, y2], i) => { for (let y = y1!; y < y2!; y++) maskRaw.fill(i + 1, y * W + x1!, y * W + x2!); });
const maskPng = await sharp(maskRaw, { raw: { width: W, height: H, channels: 1 } }).toColourspace('b-w').png().toBuffer();

const app = await buildAugmentApp(readAugmentConfig({ LOG_LEVEL: 'silent' }));
const limits = { fileBytes: 1 << 26, files: 18, fieldBytes: 1 << 16, fields: 64, inputPixels: 40_000_000 };

function form(withTargets: boolean): FormData {
  const body = new FormData();
  body.append('image', new Blob([new Uint8Array(image.bytes)]), 'photo.jpg');
  body.append('ops', JSON.stringify(STEPS));
  body.append('seed', '1');
  if (withTargets) {
    body.append('bboxes', JSON.stringify(boxes));
    body.append('mask', new Blob([new Uint8Array(maskPng)]), 'mask.png');
  }
  return body;
}


const stacks: Array<[string, () => Promise<unknown>]> = [
  ['route (inject), no targets', async () => {
    const res = await app.inject({ method: 'POST', url: '/v1/augment/pipeline', body: form(false), headers: { accept: 'image/jpeg' } });
    if (res.statusCode !== 200) throw new Error(res.body);
  }],
  ['route (inject), 20 boxes + 1 mask', async () => {
    const res = await app.inject({ method: 'POST', url: '/v1/augment/pipeline', body: form(true) });
    if (res.statusCode !== 200) throw new Error(res.body);
  }],
  ['in-process, no targets', async () => {
    const input = await decodeImage(image.bytes, limits, intakeErrors);
    const out = await runPipeline(createRng(1), input.raw, STEPS, {});
    await encodeImage(out.image, 'jpeg');
  }],
  ['in-process, 20 boxes + 1 mask', async () => {
    const input = await decodeImage(image.bytes, limits, intakeErrors);
    const { data, info } = await sharp(maskPng).extractChannel(0).raw().toBuffer({ resolveWithObject: true });
    const set = { boxes: boxes.map((b, index) => ({ box: b as [number, number, number, number], index, label: null })), keypoints: [], masks: [{ data, width: info.width, height: info.height }] };
    const out = await runPipeline(createRng(1), input.raw, STEPS, {}, {}, { set, settings: DEFAULT_TARGET_SETTINGS, format: 'pascal_voc' });
    await encodeImage(out.image, 'jpeg');
    await Promise.all(out.targets!.masks.map(encodeMask));
  }],
];

// Interleaved, one of each stack per round, so the shared machine's noise falls on all of them.
const times = stacks.map((): number[] => []);
for (let round = -5; round < RUNS; round++) {
  for (const [i, [, work]] of stacks.entries()) {
    const start = performance.now();
    await work();
    if (round >= 0) times[i]!.push(performance.now() - start);
  }
}
console.log(`${image.name}, flip + rotate 10° + crop 800×600, ${RUNS} interleaved runs, one request at a time (median ms, requests/s):`);
for (const [i, [name]] of stacks.entries()) {
  const ms = median(times[i]!);
  console.log(`| ${name} | ${ms.toFixed(1)} | ${(1000 / ms).toFixed(1)} |`);
}
await app.close();
