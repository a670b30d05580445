// Issue 24's quality figures for the fused path, on its recipe (bench/shard-suite.ts RECIPE_OPS)
// and the suite's 256×256 JPEGs:
//   node --import tsx bench/fusion-quality.ts [--samples 64] [--out bench/work/fusion-quality.json]
// For each sample the pipeline draws its parameters once, then the same resolved steps run three
// ways: fused (one warp per run of resamplings, as the service does), step by step through the
// same warp (each step's own resampling, one at a time: the fusion's only change is fewer
// interpolations), and the previous path (each step's own `apply`: libvips flip/rotate/Lanczos).
// Mean absolute difference per channel value (0-255), over all pixels. torchvision + PIL then runs
// the same resolved parameters (bench/python/fusion_quality.py) and is compared with the fused one.
// Until the geometric catalogue gives rotate its own `resampling`, this script lends it one
// (torchvision's rotate: about (W/2, H/2), bilinear, same size) so that the recipe's run is
// flip → rotate → crop as it will be; the script says which it used.
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { operations, type RawImage } from '../services/augment/ops/index.ts';
import { projective, torchvisionAffine } from '../services/augment/ops/geometry.ts';
import type { RotateResolved } from '../services/augment/ops/rotate.ts';
import { warp } from '../services/augment/ops/warp.ts';
import { colourPixel, parseColour } from '../services/augment/colour.ts';
import { replayPipeline, runPipeline } from '../services/augment/pipeline.ts';
import { createRng } from '../services/augment/random.ts';
import { parseSteps } from '../services/augment/steps.ts';
import { intakeErrors } from '../services/augment/errors.ts';
import { npyImage } from '../services/shared/npy.ts';
import { runPython } from './python-job.ts';
import { RECIPE_OPS, baseImages } from './shard-suite.ts';

const { values } = parseArgs({ options: { samples: { type: 'string', default: '64' }, out: { type: 'string', default: 'bench/work/fusion-quality.json' } } });
const samples = Number(values.samples);
const rotateHadResampling = operations.rotate.resampling !== undefined;
operations.rotate.resampling ??= ({ angle, fill }: RotateResolved, size) => ({
  forward: projective(torchvisionAffine({ angle, translate: [0, 0], scale: 1, shear: [0, 0], center: [size.width / 2, size.height / 2] }, size)),
  ...size,
  interpolation: 'bilinear',
  fill,
});

const mean = (a: RawImage, b: RawImage) => {
  let sum = 0;
  for (let i = 0; i < a.data.length; i++) sum += Math.abs(a.data[i]! - b.data[i]!);
  return sum / a.data.length;
};

async function stepByStepWarp(image: RawImage, applied: Array<{ op: string; params: Record<string, unknown> }>): Promise<RawImage> {
  let current = image;
  for (const { op, params } of applied) {
    const operation = operations[op as 'flip'];
    const res = operation.resampling?.(params as never, { width: current.width, height: current.height });
    current = res
      ? warp(current, res.forward, res.width, res.height, { interpolation: res.interpolation, fill: colourPixel(parseColour(res.fill, 'fill'), current.channels) })
      : await operation.apply(current, params as never, {});
  }
  return current;
}

async function previousPath(image: RawImage, applied: Array<{ op: string; params: Record<string, unknown> }>): Promise<RawImage> {
  let current = image;
  for (const { op, params } of applied) current = await operations[op as 'flip'].apply(current, params as never, {});
  return current;
}

const dir = resolve('bench/work/fusion-quality');
rmSync(dir, { recursive: true, force: true });
mkdirSync(dir, { recursive: true });
const images = await baseImages();
const steps = parseSteps(RECIPE_OPS, intakeErrors);
const diffs = { fused_vs_step_by_step_warp: [] as number[], fused_vs_previous_path: [] as number[] };
const jobs = [];
for (let i = 0; i < samples; i++) {
  const { data, info } = await sharp(images[i % images.length]!).raw().toBuffer({ resolveWithObject: true });
  const source: RawImage = { data, width: info.width, height: info.height, channels: 3 };
  const fused = await runPipeline(createRng(1000 + i), source, steps, {});
  const again = await replayPipeline(source, fused.applied, {});
  if (!again.image.data.equals(fused.image.data)) throw new Error(`sample ${i}: replay differs`);
  diffs.fused_vs_step_by_step_warp.push(mean(fused.image, await stepByStepWarp(source, fused.applied)));
  diffs.fused_vs_previous_path.push(mean(fused.image, await previousPath(source, fused.applied)));
  writeFileSync(join(dir, `${i}.src.npy`), npyImage(source));
  writeFileSync(join(dir, `${i}.fused.npy`), npyImage(fused.image));
  jobs.push({ src: join(dir, `${i}.src.npy`), fused: join(dir, `${i}.fused.npy`), applied: fused.applied });
}
// CPU per sample, one at a time on this thread (decode excluded): the fused pipeline against the
// previous path (each step's own apply), interleaved pass by pass.
const sources: RawImage[] = [];
for (let i = 0; i < Math.min(samples, images.length); i++) {
  const { data, info } = await sharp(images[i]!).raw().toBuffer({ resolveWithObject: true });
  sources.push({ data, width: info.width, height: info.height, channels: 3 });
}
sharp.concurrency(1);
const timing = { fused_ms: [] as number[], previous_ms: [] as number[] };
for (let pass = 0; pass < 3; pass++) {
  for (const [name, path] of [['fused_ms', 'fused'], ['previous_ms', 'previous']] as const) {
    const started = process.cpuUsage();
    for (const [i, source] of sources.entries()) {
      const drawn = await runPipeline(createRng(2000 + i), source, steps, {});
      if (path === 'previous') await previousPath(source, drawn.applied);
    }
    const used = process.cpuUsage(started);
    timing[name].push((used.user + used.system) / 1000 / sources.length);
  }
}
// The previous path's figure above includes one fused run (to draw the parameters): subtract it.
const median = (list: number[]) => [...list].sort((a, b) => a - b)[Math.floor(list.length / 2)]!;
const cpu = { fused_ms_per_sample: Math.round(median(timing.fused_ms) * 100) / 100, previous_ms_per_sample: Math.round((median(timing.previous_ms) - median(timing.fused_ms)) * 100) / 100 };
const avg = (list: number[]) => Math.round((list.reduce((s, v) => s + v, 0) / list.length) * 1000) / 1000;
const torchvision = (await runPython(join(import.meta.dirname, 'python', 'fusion_quality.py'), { samples: jobs }, (l) => process.stderr.write(`${l}\n`))) as Record<string, number>;
const result = {
  samples,
  ops: RECIPE_OPS,
  rotate_resampling: rotateHadResampling ? "rotate's own" : "lent by this script (torchvision's rotate about (W/2, H/2))",
  cpu_per_sample_one_thread: cpu,
  mean_abs_difference: {
    fused_vs_step_by_step_warp: avg(diffs.fused_vs_step_by_step_warp),
    fused_vs_previous_path: avg(diffs.fused_vs_previous_path),
    ...torchvision,
  },
};
mkdirSync(resolve(values.out!, '..'), { recursive: true });
writeFileSync(values.out!, `${JSON.stringify(result, null, 2)}\n`);
console.log(JSON.stringify(result, null, 2));
