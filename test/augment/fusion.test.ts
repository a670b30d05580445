import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import sharp from 'sharp';
import { buildAugmentApp } from '../../services/augment/app.ts';
import { readAugmentConfig } from '../../services/augment/config.ts';
import { operations, type RawImage } from '../../services/augment/ops/index.ts';
import { replayPipeline, runPipeline, type PipelineStep } from '../../services/augment/pipeline.ts';
import { createRng } from '../../services/augment/random.ts';
import { fuseRun } from '../../services/augment/runs.ts';
import { sampleSeed } from '../../services/augment/shard/seed.ts';
import { DEFAULT_TARGET_SETTINGS } from '../../services/augment/targets/set.ts';
import type { TargetRequest } from '../../services/augment/targets/request.ts';
import { makeImage as makePng } from '../helpers/images.ts';
import { makeTar, readTar } from '../helpers/tar.ts';

async function raw(width: number, height: number): Promise<RawImage> {
  const { data, info } = await sharp(await makePng(width, height, 'png')).raw().toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height, channels: info.channels as 3 };
}

/** The same resolved steps one at a time, each its own `apply` (the pre-fusion path). */
async function stepByStep(image: RawImage, applied: Array<{ op: string; params: Record<string, unknown> }>): Promise<RawImage> {
  let current = image;
  for (const { op, params } of applied) current = await operations[op as 'flip'].apply(current, params as never, {});
  return current;
}

function meanDifference(a: RawImage, b: RawImage): number {
  assert.deepEqual([a.width, a.height, a.channels], [b.width, b.height, b.channels]);
  let sum = 0;
  for (let i = 0; i < a.data.length; i++) sum += Math.abs(a.data[i]! - b.data[i]!);
  return sum / a.data.length;
}

test('a run of flips and plain crops is one nearest warp, equal to the steps one by one', async () => {
  const image = await raw(40, 30);
  const steps: PipelineStep[] = [{ op: 'flip', direction: 'both' }, { op: 'crop', width: 25, height: 20, x: 3, y: 7 }, { op: 'flip', direction: 'horizontal' }];
  const seen: string[] = [];
  const fused = await runPipeline(createRng(1), image, steps, {}, { timed: async (op, work) => (seen.push(op), work()) });
  assert.deepEqual(seen, ['flip'], 'one warp for the whole run');
  assert.deepEqual(fused.applied.map((s) => s.op), ['flip', 'crop', 'flip']);
  const reference = await stepByStep(image, fused.applied);
  assert.deepEqual([fused.image.width, fused.image.height], [25, 20]);
  assert.ok(fused.image.data.equals(reference.data));
});

test('a resizing run is bilinear, close to the Lanczos steps; replay gives the same bytes', async () => {
  const image = await raw(64, 48);
  const steps: PipelineStep[] = [{ op: 'flip', direction: 'random' }, { op: 'scale', factor_range: [0.9, 1.1] }, { op: 'crop', scale_range: [0.5, 1], output_width: 32, output_height: 32 }];
  for (const seed of [1, 2, 3]) {
    const fused = await runPipeline(createRng(seed), image, steps, {});
    assert.equal(fused.applied.length, 3);
    const again = await replayPipeline(image, fused.applied, {});
    assert.ok(again.image.data.equals(fused.image.data), `seed ${seed}: replay`);
    const reference = await stepByStep(image, fused.applied);
    const diff = meanDifference(fused.image, reference);
    // Smooth gradients and hard-edged squares: a single bilinear resample stays near two Lanczos ones.
    assert.ok(diff < 6, `seed ${seed}: mean difference ${diff}`);
    assert.ok(!fused.image.data.equals(reference.data), `seed ${seed}: the fused path is its own resample`);
  }
});

test('a step without resampling ends a run; a run of one step is that step\'s own apply', async () => {
  const image = await raw(40, 30);
  const steps: PipelineStep[] = [{ op: 'scale', factor: 1.5 }, { op: 'cutout', holes: 1, size: 6 }, { op: 'flip' }, { op: 'rotate', angle: 10 }];
  const seen: string[] = [];
  const out = await runPipeline(createRng(4), image, steps, {}, { timed: async (op, work) => (seen.push(op), work()) });
  // Once rotate is a resampling (the geometric catalogue), flip and rotate are one run.
  assert.deepEqual(seen, operations.rotate.resampling ? ['scale', 'cutout', 'rotate'] : ['scale', 'cutout', 'flip', 'rotate']);
  if (!operations.rotate.resampling) {
    const reference = await stepByStep(image, out.applied);
    assert.ok(out.image.data.equals(reference.data));
  }
});

test('the fill is the last exposing step\'s; targets follow the composed map', async () => {
  const image = await raw(40, 40);
  // A zoom out padded in red, then a crop of the top-left corner: the pad shows, in red.
  const steps: PipelineStep[] = [{ op: 'scale', factor: 0.5, fill: '#ff0000' }, { op: 'crop', x: 0, y: 0, width: 10, height: 10, output_width: 20, output_height: 20 }];
  const out = await runPipeline(createRng(0), image, steps, {});
  assert.deepEqual([...out.image.data.subarray(0, 3)], [255, 0, 0]);
  const [scaleStep, cropStep] = out.applied;
  const run = fuseRun([
    { resampling: operations.scale.resampling!(scaleStep!.params, { width: 40, height: 40 }), size: { width: 40, height: 40 } },
    { resampling: operations.crop.resampling!(cropStep!.params, { width: 40, height: 40 }), size: { width: 40, height: 40 } },
  ]);
  assert.equal(run.fill, '#ff0000');
  assert.equal(run.interpolation, 'bilinear');
  // The input's centre lands at 20 after the zoom out (half size, padded by 10), at 40 after the 2× crop: outside the 20×20 output; (12, 12) at 16, then 32.
  const targets: TargetRequest = {
    set: { boxes: [], masks: [], keypoints: [{ x: 20, y: 20, index: 0 }, { x: 12, y: 12, index: 1 }] },
    settings: { ...DEFAULT_TARGET_SETTINGS, removeInvisibleKeypoints: false },
    format: 'pascal_voc',
  };
  const moved = await runPipeline(createRng(0), image, steps, {}, {}, targets);
  assert.deepEqual(moved.targets!.keypoints.map(({ x, y }) => [x, y]), [[40, 40], [32, 32]]);
});

test('shard seeds are version 2, and the fused answer bytes are pinned', async () => {
  assert.equal(sampleSeed(1, 0, 'train/0001', 0), 2457187188);
  const app = await buildAugmentApp(readAugmentConfig({ LOG_LEVEL: 'silent' }));
  try {
    const body = await makeTar([{ name: 'k0.png', data: await makePng(64, 48, 'png') }, { name: 'k1.png', data: await makePng(48, 64, 'png') }]);
    const ops = JSON.stringify([{ op: 'flip', p: 0.5 }, { op: 'scale', factor_range: [0.8, 1.2] }, { op: 'crop', scale_range: [0.35, 1], output_width: 32, output_height: 32 }, { op: 'cutout', holes: 1, size: 8 }]);
    const res = await app.inject({ method: 'POST', url: `/v1/augment/shard?${new URLSearchParams({ ops, seed: '11', variants: '2', format: 'npy' })}`, headers: { 'content-type': 'application/x-tar' }, body });
    assert.equal(res.statusCode, 200);
    const members = (await readTar(res.rawPayload)).filter((m) => m.name.endsWith('.npy'));
    assert.equal(members.length, 4);
    const digest = createHash('sha256');
    for (const m of members) digest.update(m.name).update(m.data);
    assert.equal(digest.digest('hex'), 'c76fcdfada65d9d91ce91504a0ee9b6d60241383d02ae9fe1c78cbdafc6ef73a');
  } finally {
    await app.close();
  }
});
