import assert from 'node:assert/strict';
import { test } from 'node:test';
import sharp from 'sharp';
import { buildAugmentApp } from '../../services/augment/app.ts';
import { readAugmentConfig } from '../../services/augment/config.ts';
import { projective, torchvisionAffine } from '../../services/augment/ops/geometry.ts';
import type { RawImage } from '../../services/augment/ops/types.ts';
import { replayPipeline, runPipeline, type AppliedStep, type PendingImage, type PipelineStep } from '../../services/augment/pipeline.ts';
import { createRng } from '../../services/augment/random.ts';
import { reduction, type Reduction } from '../../services/augment/runs.ts';
import { DEFAULT_TARGET_SETTINGS } from '../../services/augment/targets/set.ts';
import { form } from '../helpers/form.ts';
import { makeTar, readTar } from '../helpers/tar.ts';

const W = 1600;
const H = 1200;
/** Where the test photo's white disc sits (its centre, continuous coordinates), and its radius. */
const DOT = { x: 1010.5, y: 430.5, r: 14 };

/** A photo-like JPEG (gradients, a texture) with a white disc on a dark patch at DOT. */
async function photo(): Promise<Buffer> {
  const data = Buffer.alloc(W * H * 3);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const i = (y * W + x) * 3;
      const d = Math.hypot(x + 0.5 - DOT.x, y + 0.5 - DOT.y);
      const patch = Math.abs(x + 0.5 - DOT.x) < 80 && Math.abs(y + 0.5 - DOT.y) < 80;
      const texture = 20 * Math.sin(x / 9) * Math.cos(y / 13);
      data[i] = d <= DOT.r ? 255 : patch ? 10 : Math.round(60 + (x / W) * 120 + texture);
      data[i + 1] = d <= DOT.r ? 255 : patch ? 10 : Math.round(40 + (y / H) * 140 - texture);
      data[i + 2] = d <= DOT.r ? 255 : patch ? 10 : Math.round(90 + texture);
    }
  }
  return sharp(data, { raw: { width: W, height: H, channels: 3 } }).jpeg({ quality: 92 }).toBuffer();
}

async function decoded(bytes: Buffer, size?: { width: number; height: number }): Promise<RawImage> {
  let image = sharp(bytes);
  if (size) image = image.resize(size.width, size.height, { fit: 'fill', kernel: 'linear' });
  const { data, info } = await image.raw().toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height, channels: info.channels as 3 };
}

function meanDifference(a: RawImage, b: RawImage): number {
  assert.deepEqual([a.width, a.height, a.channels], [b.width, b.height, b.channels]);
  let sum = 0;
  for (let i = 0; i < a.data.length; i++) sum += Math.abs(a.data[i]! - b.data[i]!);
  return sum / a.data.length;
}

/** Centre of the pixels brighter than 200 in every channel. */
function brightCentre(image: { data: Uint8Array; width: number; height: number }): { x: number; y: number; count: number } {
  let sx = 0;
  let sy = 0;
  let count = 0;
  for (let y = 0; y < image.height; y++) {
    for (let x = 0; x < image.width; x++) {
      const i = (y * image.width + x) * 3;
      if (image.data[i]! > 200 && image.data[i + 1]! > 200 && image.data[i + 2]! > 200) {
        sx += x + 0.5;
        sy += y + 0.5;
        count++;
      }
    }
  }
  return { x: sx / count, y: sy / count, count };
}

test('reduction: the power of two a run shrinks its source by, in its least shrunk direction', () => {
  const scale = (sx: number, sy: number) => ({ forward: projective([sx, 0, 0, 0, sy, 0]), width: 10, height: 10, interpolation: 'bilinear' as const, fill: '#000000' });
  assert.equal(reduction(scale(1, 1)), 1);
  assert.equal(reduction(scale(0.5, 0.5)), 2, 'exactly 2× is 2');
  assert.equal(reduction(scale(0.51, 0.5)), 1, 'under 2× one way');
  assert.equal(reduction(scale(0.2, 0.3)), 2);
  assert.equal(reduction(scale(0.24, 0.2)), 4);
  assert.equal(reduction(scale(0.1, 0.05)), 8);
  assert.equal(reduction(scale(0.01, 0.01)), 8, 'libjpeg scales by 8 at most');
  const turned = projective(torchvisionAffine({ angle: 33, translate: [0, 0], scale: 0.2, shear: [0, 0], center: [5, 5] }, { width: 10, height: 10 }));
  assert.equal(reduction({ ...scale(1, 1), forward: turned }), 4, 'rotation does not change the shrink');
  assert.equal(reduction({ ...scale(1, 1), forward: [0.1, 0, 0, 0, 0.1, 0, 0.0001, 0, 1] }), 1, 'perspective: whole decode');
});

test('a pending image is decoded as small as its first run allows; pixels near the whole decode, targets the same', async () => {
  const bytes = await photo();
  const full = await decoded(bytes);
  const asked: Reduction[] = [];
  const pending: PendingImage = {
    width: W,
    height: H,
    decode: async (factor) => (asked.push(factor), factor === 1 ? full : decoded(bytes, { width: Math.round(W / factor), height: Math.round(H / factor) })),
  };
  // A 1200×900 crop to 240×180 (5× smaller) and a turn: one run, decoded at 1/4.
  const steps: PipelineStep[] = [
    { op: 'crop', x: 300, y: 100, width: 1200, height: 900, output_width: 240, output_height: 180 },
    { op: 'rotate', angle: 12, expand: false },
    { op: 'cutout', boxes: [[0, 0, 10, 10]] },
  ];
  const targets = { set: { boxes: [], masks: [], keypoints: [{ x: DOT.x, y: DOT.y, index: 0 }] }, settings: DEFAULT_TARGET_SETTINGS, format: 'pascal_voc' as const };
  const small = await runPipeline(createRng(3), pending, steps, {}, {}, targets);
  const whole = await runPipeline(createRng(3), full, steps, {}, {}, targets);
  assert.deepEqual(asked, [4]);
  assert.deepEqual(small.applied, whole.applied);
  assert.deepEqual(small.targets, whole.targets, 'targets follow the full-size map either way');
  const difference = meanDifference(small.image, whole.image);
  console.log(`reduced (1/4) against whole decode, same warp: mean |difference| ${difference.toFixed(3)}`);
  assert.ok(difference > 0, 'the reduced decode was used');
  assert.ok(difference < 4, `mean difference ${difference}`);
  const dot = brightCentre(small.image);
  const [point] = small.targets!.keypoints;
  assert.ok(Math.hypot(dot.x - point!.x, dot.y - point!.y) < 0.75, `disc at ${dot.x},${dot.y}; keypoint at ${point!.x},${point!.y}`);

  // A run that shrinks less than 2× decodes whole, and a lone step keeps its own apply then.
  asked.length = 0;
  await runPipeline(createRng(3), pending, [{ op: 'crop', x: 0, y: 0, width: 1000, height: 800, output_width: 600, output_height: 480 }, { op: 'flip', direction: 'horizontal' }], {});
  await runPipeline(createRng(3), pending, [{ op: 'cutout', boxes: [[0, 0, 10, 10]] }], {});
  assert.deepEqual(asked, [1, 1]);
});

test('shard route: a large JPEG cropped small is decoded smaller; the disc stays under its keypoint, cache and workers give the same bytes', async () => {
  const bytes = await photo();
  const full = await decoded(bytes);
  const body = await makeTar([
    { name: 'p.jpg', data: bytes },
    { name: 'p.json', data: JSON.stringify({ keypoints: [[DOT.x, DOT.y]] }) },
  ]);
  const ops = JSON.stringify([
    { op: 'flip', p: 0.5 },
    { op: 'rotate', angle_range: [-15, 15] },
    { op: 'crop', scale_range: [0.7, 1], output_width: 200, output_height: 160 },
  ]);
  const url = `/v1/augment/shard?${new URLSearchParams({ ops, seed: '21', variants: '6', format: 'npy' })}`;
  const answers: Buffer[] = [];
  for (const env of [{ SHARD_WORKERS: '0' }, { SHARD_WORKERS: '2', SHARD_CACHE_MB: '64' }, { SHARD_WORKERS: '0', SHARD_CACHE_MB: '64' }]) {
    const app = await buildAugmentApp(readAugmentConfig({ LOG_LEVEL: 'silent', ...env }));
    try {
      for (let epoch = 0; epoch < 2; epoch++) {
        const res = await app.inject({ method: 'POST', url, headers: { 'content-type': 'application/x-tar' }, body });
        assert.equal(res.statusCode, 200);
        const tarBytes = res.rawPayload;
        answers.push(tarBytes.subarray(0, tarBytes.indexOf('__summary__.json')));
      }
      if (answers.length === 2) {
        // The pipeline route decodes the same way: a variant's seed there gives the same tensor.
        const members = new Map((await readTar(Buffer.concat([answers[0]!, Buffer.alloc(1024)]))).map((m) => [m.name, m.data]));
        const { seed } = JSON.parse(members.get('p.v3.json')!.toString()) as { seed: number };
        const single = await app.inject({ method: 'POST', url: '/v1/augment/pipeline', body: form({ image: bytes, ops, seed, format: 'npy' }) });
        assert.equal(single.statusCode, 200);
        assert.ok(single.rawPayload.equals(members.get('p.v3.npy')!), 'the pipeline route gives the shard variant');
      }
    } finally {
      await app.close();
    }
  }
  answers.forEach((answer, i) => assert.ok(answer.equals(answers[0]!), `answer ${i} differs`));

  const members = new Map((await readTar(Buffer.concat([answers[0]!, Buffer.alloc(1024)]))).map((m) => [m.name, m.data]));
  let seen = 0;
  for (let v = 0; v < 6; v++) {
    const info = JSON.parse(members.get(`p.v${v}.json`)!.toString()) as { applied: AppliedStep[]; targets: { keypoints: Array<[number, number]> } };
    const npy = members.get(`p.v${v}.npy`)!;
    const image = { data: npy.subarray(10 + npy.readUInt16LE(8)), width: 200, height: 160, channels: 3 as const };
    // The same steps from the whole decode: the reduced decode was used, and stays close to it.
    const whole = await replayPipeline(full, info.applied, {});
    const difference = meanDifference(image, whole.image);
    assert.ok(difference > 0 && difference < 4, `variant ${v}: mean difference from the whole decode ${difference}`);
    const [xy] = info.targets.keypoints;
    const dot = brightCentre(image);
    // A keypoint near the border has part of its disc cut off, which moves the centre seen.
    const point = xy && { x: xy[0], y: xy[1] };
    if (!point || point.x < 4 || point.y < 4 || point.x > 196 || point.y > 156) continue;
    seen++;
    console.log(`variant ${v}: keypoint ${point.x.toFixed(2)},${point.y.toFixed(2)}, disc centre ${dot.x.toFixed(2)},${dot.y.toFixed(2)} (${dot.count} px); mean |difference| from the whole decode ${difference.toFixed(3)}`);
    assert.ok(Math.hypot(dot.x - point.x, dot.y - point.y) < 0.75, `variant ${v}`);
  }
  assert.ok(seen >= 3, `the disc was inside ${seen} of 6 variants`);
});
