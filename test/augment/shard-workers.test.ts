import assert from 'node:assert/strict';
import { test } from 'node:test';
import { readAugmentConfig } from '../../services/augment/config.ts';
import { intakeErrors } from '../../services/augment/errors.ts';
import { augmentSample, type ShardRecipe } from '../../services/augment/shard/sample.ts';
import { DecodedCache } from '../../services/augment/shard/cache.ts';
import { SampleWorkers, type RecipeSpec } from '../../services/augment/shard/workers.ts';
import { checkOutput, parseSteps } from '../../services/augment/steps.ts';
import { makeImage } from '../helpers/images.ts';

const config = readAugmentConfig({ LOG_LEVEL: 'silent' });
const spec: RecipeSpec = {
  steps: parseSteps([{ op: 'flip', p: 0.5 }, { op: 'rotate', angle_range: [-15, 15] }, { op: 'crop', scale_range: [0.35, 1], output_width: 24, output_height: 20 }, { op: 'cutout', holes: 1, size: 6 }], intakeErrors),
  variants: 2,
  seed: 11,
  epoch: 0,
  format: 'npy',
  limits: { fileBytes: config.maxFileBytes, files: 1, fieldBytes: config.maxFieldBytes, fields: config.maxFields, inputPixels: config.maxInputPixels },
  maxTargets: config.maxTargets,
  fastDecodePixels: config.fastJpegDecodePixels,
  maxOutputPixels: config.maxOutputPixels,
};
const { maxOutputPixels, ...rest } = spec;
const here: ShardRecipe = { ...rest, hooks: { beforeApply: (op, size, params) => checkOutput(op, size, params, maxOutputPixels) } };

test('SampleWorkers: the same members as augmentSample on this thread; errors keep their code, status and param', async () => {
  const workers = new SampleWorkers(2);
  try {
    const samples = await Promise.all(
      [['jpg', makeImage(48, 40, 'jpeg')], ['png', makeImage(30, 50, 'png', 1)], ['png', makeImage(40, 40, 'png', 4)]].map(async ([ext, image], i) => ({
        kind: 'sample' as const,
        key: `s${i}`,
        members: new Map([[ext as string, await (image as Promise<Buffer>)], ['cls', Buffer.from(String(i))]]),
      })),
    );
    const [there, mine] = [await Promise.all(samples.map((s) => workers.run(s, spec))), await Promise.all(samples.map((s) => augmentSample(s, here)))];
    assert.equal(there.length, 3);
    there.forEach((members, i) => {
      assert.deepEqual(members.map((m) => m.name), mine[i]!.map((m) => m.name));
      members.forEach((m, j) => assert.ok(m.data.equals(mine[i]![j]!.data), `${m.name}`));
    });
    assert.ok(there[0]!.some((m) => m.name === 's0.v1.npy' && m.data.length > 24 * 20 * 3));

    const broken = { kind: 'sample' as const, key: 'bad', members: new Map([['jpg', Buffer.from('not a jpeg at all')]]) };
    const failure = await workers.run(broken, spec).then(() => undefined, (error: unknown) => error as { code?: string; statusCode?: number; param?: string });
    assert.equal(failure?.code, 'AUG_UNSUPPORTED_MEDIA');
    assert.equal(failure?.statusCode, 415);
    assert.equal(failure?.param, 'bad.jpg');
  } finally {
    await workers.close();
  }
  await assert.rejects(workers.run({ kind: 'sample', key: 'late', members: new Map() }, spec), /closed/);
});

test('SampleWorkers with a cache: one cache for all workers, decodes kept from the first pass, hits on the second, the same bytes', async () => {
  const counts = { hit: 0, miss: 0, bytes: 0 };
  const counters = { hit: () => counts.hit++, miss: () => counts.miss++, bytes: (value: number) => (counts.bytes = value) };
  const cache = new DecodedCache(16 * 1024 * 1024, counters);
  const workers = new SampleWorkers(2, cache, counters);
  try {
    const images = [await makeImage(48, 40, 'jpeg'), await makeImage(30, 50, 'png', 1), await makeImage(64, 64, 'webp')];
    const samples = images.map((image, i) => ({ kind: 'sample' as const, key: `s${i}`, members: new Map([[['jpg', 'png', 'webp'][i]!, image]]) }));
    const first = await Promise.all(samples.map((s) => workers.run(s, spec)));
    assert.deepEqual(counts, { hit: 0, miss: 3, bytes: 48 * 40 * 3 + 30 * 50 + 64 * 64 * 3 });
    // Twice as many samples as workers, so each image meets the other worker too.
    const again = await Promise.all([...samples, ...samples].map((s) => workers.run(s, spec)));
    assert.equal(counts.hit, 6);
    assert.equal(counts.miss, 3);
    again.forEach((members, i) => members.forEach((m, j) => assert.ok(m.data.equals(first[i % 3]![j]!.data), `${m.name}`)));
  } finally {
    await workers.close();
  }
});

test('SampleWorkers: a worker that dies fails its samples with an error, and the next sample gets a new worker', async () => {
  const workers = new SampleWorkers(1);
  try {
    const sample = { kind: 'sample' as const, key: 'a', members: new Map([['jpg', await makeImage(48, 40, 'jpeg')]]) };
    const expected = await workers.run(sample, spec);
    // A member that is not bytes throws in the worker before its sample's try: the worker dies
    // with the job unanswered (no sample from a tar can do this; it stands for a bug or a crash).
    const poisoned = { kind: 'sample' as const, key: 'b', members: new Map([['jpg', 42 as unknown as Buffer]]) };
    const failure = await workers.run(poisoned, spec).then(() => undefined, (error: Error) => error);
    console.log(`the dead worker's sample: ${failure?.message}`);
    assert.ok(failure instanceof Error);
    const again = await workers.run(sample, spec);
    assert.deepEqual(again.map((m) => m.name), expected.map((m) => m.name));
    again.forEach((m, i) => assert.ok(m.data.equals(expected[i]!.data)));
  } finally {
    await workers.close();
  }
});
