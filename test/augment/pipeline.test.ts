import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { OpName } from '../../services/augment/ops/types.ts';
import { type PipelineStep, replayPipeline, runPipeline } from '../../services/augment/pipeline.ts';
import { createRng } from '../../services/augment/random.ts';
import { assertSameImage, makeImage } from './ops/fixtures.ts';

const steps: PipelineStep[] = [
  { op: 'crop', width: 40, height: 30 },
  { op: 'flip', direction: 'random' },
  { op: 'rotate', angle_range: [-20, 20], fill: 'gray' },
  { op: 'scale', factor_range: [0.7, 1.3] },
  { op: 'cutout', holes: 2 },
  { op: 'cutmix', label: 0, mix_label: 1, num_classes: 3 },
];

test('pipeline runs every step in order, each on the previous result', async () => {
  const image = await makeImage(57, 43, 3);
  const ctx = { mix: await makeImage(20, 20, 4, 9) };
  const { image: out, applied } = await runPipeline(createRng(11), image, steps, ctx);
  assert.deepEqual(applied.map((s) => s.op), steps.map((s) => s.op));
  assert.deepEqual([out.width, out.height, out.channels], [40, 30, 3]);
  // cutmix sampled its box on the cropped image.
  const [, , x2, y2] = applied[5]!.params.box as number[];
  assert.ok(x2! <= 40 && y2! <= 30);
});

test('pipeline: same seed, same applied parameters and bytes; replay gives the same pixels', async () => {
  const image = await makeImage(57, 43, 4);
  const ctx = { mix: await makeImage(20, 20, 3, 9) };
  for (const seed of [0, 1, 2024]) {
    const first = await runPipeline(createRng(seed), image, steps, ctx);
    const second = await runPipeline(createRng(seed), image, steps, ctx);
    assert.deepEqual(second.applied, first.applied);
    assertSameImage(second.image, first.image);
    const sentBack = JSON.parse(JSON.stringify(first.applied)) as typeof first.applied;
    const replay = await replayPipeline(image, sentBack, ctx);
    assert.deepEqual(replay.applied, first.applied);
    assertSameImage(replay.image, first.image);
  }
});

test('pipeline skips steps by p, one draw each, and leaves them out of applied', async () => {
  const image = await makeImage(16, 12, 1);
  const never = await runPipeline(createRng(1), image, [{ op: 'flip', p: 0 }, { op: 'cutout', p: 0 }], {});
  assert.deepEqual(never.applied, []);
  assertSameImage(never.image, image);
  let ran = 0;
  const n = 1000;
  for (let seed = 0; seed < n; seed++) {
    const { applied } = await runPipeline(createRng(seed), image, [{ op: 'flip', p: 0.3, direction: 'none' }], {});
    ran += applied.length;
  }
  assert.ok(Math.abs(ran / n - 0.3) < 0.05, String(ran));
});

test('pipeline hooks see each step before it runs and wrap its work (a fused run once)', async () => {
  const image = await makeImage(16, 12, 3);
  const seen: string[] = [];
  await runPipeline(createRng(0), image, [{ op: 'scale', factor: 2, keep_size: false }, { op: 'flip' }], {}, {
    beforeApply: (op, size, params) => seen.push(`${op} ${size.width}x${size.height} ${JSON.stringify(params)}`),
    timed: async (op, work) => {
      seen.push(`timed ${op}`);
      return work();
    },
  });
  assert.deepEqual(seen, [
    'scale 16x12 {"factor":2,"keep_size":false,"fill":"#000000"}',
    'flip 32x24 {"direction":"horizontal"}',
    // Both are resamplings: one warp for the run, timed under its last step.
    'timed flip',
  ]);
  await assert.rejects(
    runPipeline(createRng(0), image, [{ op: 'flip' }], {}, { beforeApply: () => { throw new Error('too big'); } }),
    /too big/,
  );
});

test('pipeline rejects unknown ops, bad p, and replays that would need randomness', async () => {
  const image = await makeImage(16, 12, 3);
  await assert.rejects(runPipeline(createRng(0), image, [{ op: 'blur' as OpName }], {}), { code: 'AUG_INVALID_PARAM' });
  await assert.rejects(runPipeline(createRng(0), image, [{ op: 'flip', p: 1.5 }], {}), { code: 'AUG_INVALID_PARAM' });
  await assert.rejects(replayPipeline(image, [{ op: 'flip', params: { direction: 'random' } }], {}), { code: 'AUG_INVALID_PARAM' });
  await assert.rejects(replayPipeline(image, [{ op: 'rotate', params: { fill: 'red' } }], {}), { code: 'AUG_INVALID_PARAM' });
  await assert.rejects(runPipeline(createRng(0), image, [{ op: 'crop', width: 99, height: 5 }], {}), { code: 'AUG_IMPOSSIBLE_PARAM' });
  await assert.rejects(runPipeline(createRng(0), image, [{ op: 'rotate', angle_range: [5, 1] }], {}), { code: 'AUG_INVALID_RANGE' });
});
