/**
 * Accuracy through the service: sends the Fashion-MNIST test images as PNG files over HTTP to
 * every model and to the default ensemble (soft and hard voting) of a real listening inference
 * service, and compares with the in-process ONNX Runtime figures in
 * models/results/evaluation.json. Preprocessing in the service must not cost accuracy.
 *
 *   npx tsx scripts/service-accuracy.ts [--limit N] [--write]
 *
 * --write stores models/results/service-accuracy.json. Needs dataset-fashion-mnist (Debian).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import sharp from 'sharp';
import { loadTestSet } from '../models/evaluation/fashion-mnist.ts';
import { buildInferenceApp } from '../services/inference/app.ts';
import { readInferenceConfig } from '../services/inference/config.ts';

const BATCH = 64;
const CONCURRENCY = 2;

const args = process.argv.slice(2);
const limitAt = args.indexOf('--limit');
const limit = limitAt >= 0 ? Number(args[limitAt + 1]) : Infinity;

const set = loadTestSet();
const count = Math.min(set.count, limit);
const pixelsPerImage = set.size;
const side = Math.round(Math.sqrt(set.size));

process.stderr.write(`encoding ${count} test images as PNG...\n`);
const pngs: Buffer[] = [];
for (let i = 0; i < count; i++) {
  const raw = Buffer.from(set.images.subarray(i * pixelsPerImage, (i + 1) * pixelsPerImage));
  pngs.push(await sharp(raw, { raw: { width: side, height: side, channels: 1 } }).toColourspace('b-w').png().toBuffer());
}

const app = await buildInferenceApp(readInferenceConfig({ ...process.env, LOG_LEVEL: 'warn' }));
const address = await app.listen({ host: '127.0.0.1', port: 0 });

interface Prediction { index: number }
interface Result { predictions: Prediction[] }

async function classify(path: string, start: number, extra: Record<string, string>): Promise<number[]> {
  const body = new FormData();
  for (const png of pngs.slice(start, start + BATCH)) body.append('image', new Blob([new Uint8Array(png)]), 'image.png');
  for (const [name, value] of Object.entries(extra)) body.append(name, value);
  body.append('top_k', '1');
  const response = await fetch(`${address}${path}`, { method: 'POST', body });
  if (!response.ok) throw new Error(`${path}: ${response.status} ${await response.text()}`);
  const json = (await response.json()) as { results: Result[] };
  return json.results.map((result) => result.predictions[0]!.index);
}

async function accuracy(path: string, extra: Record<string, string> = {}): Promise<{ top1: number; seconds: number }> {
  const started = performance.now();
  const starts = Array.from({ length: Math.ceil(count / BATCH) }, (_, i) => i * BATCH);
  let correct = 0;
  let next = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < starts.length) {
        const start = starts[next++]!;
        const predicted = await classify(path, start, extra);
        predicted.forEach((label, offset) => {
          if (label === set.labels[start + offset]) correct++;
        });
      }
    }),
  );
  return { top1: correct / count, seconds: (performance.now() - started) / 1000 };
}

const reference = JSON.parse(readFileSync(new URL('../models/results/evaluation.json', import.meta.url), 'utf8')) as {
  models: Record<string, { top1: number }>;
  ensembles: Record<string, { soft: number; hard: number }>;
};

const rows: Array<{ target: string; service: number; onnxruntime: number | undefined; seconds: number }> = [];
try {
  const listing = (await (await fetch(`${address}/v1/models`)).json()) as { models: Array<{ name: string; ready: boolean }> };
  for (const model of listing.models.filter((m) => m.ready)) {
    const result = await accuracy(`/v1/models/${model.name}/classify`);
    rows.push({ target: model.name, service: result.top1, onnxruntime: reference.models[model.name]?.top1, seconds: result.seconds });
  }
  for (const voting of ['soft', 'hard'] as const) {
    const result = await accuracy('/v1/ensembles/default/classify', { voting });
    rows.push({ target: `default (${voting})`, service: result.top1, onnxruntime: reference.ensembles.default?.[voting], seconds: result.seconds });
  }
} finally {
  await app.close();
}

console.log(`Fashion-MNIST test images: ${count}, sent as PNG over HTTP, ${BATCH} per request\n`);
console.log('| model | through the service | ONNX Runtime in-process | difference (pp) | seconds |');
console.log('|---|---|---|---|---|');
for (const row of rows) {
  const diff = row.onnxruntime === undefined ? 'n/a' : ((row.service - row.onnxruntime) * 100).toFixed(2);
  const reference = row.onnxruntime === undefined ? 'n/a' : `${(row.onnxruntime * 100).toFixed(2)} %`;
  console.log(`| ${row.target} | ${(row.service * 100).toFixed(2)} % | ${reference} | ${diff} | ${row.seconds.toFixed(1)} |`);
}
if (args.includes('--write')) {
  writeFileSync(
    new URL('../models/results/service-accuracy.json', import.meta.url),
    `${JSON.stringify({ images: count, batch: BATCH, format: 'png', rows }, null, 1)}\n`,
  );
}
const worst = Math.max(...rows.filter((r) => r.onnxruntime !== undefined && count === set.count).map((r) => Math.abs(r.service - r.onnxruntime!)), 0);
if (worst > 0.0005) {
  console.error(`accuracy through the service differs by ${(worst * 100).toFixed(2)} pp (allowed 0.05)`);
  process.exitCode = 1;
}
