import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import type { FastifyInstance } from 'fastify';
import { buildAugmentApp } from '../../services/augment/app.ts';
import { readAugmentConfig } from '../../services/augment/config.ts';
import { form } from '../helpers/form.ts';
import { makeImage } from '../helpers/images.ts';
import { decodeMask, dotCentre, greyPng, paintBoxes, regionBox } from './targets-support.ts';
import { checkProperty } from '../helpers/fuzz.ts';

const FILE = 'test/augment/targets-property.test.ts';

/**
 * The issue's property: a mask painted from the input boxes is transformed with them, and the
 * bounding box of each object's mask region equals the returned box within 1 px (lies inside it for
 * a rotation's largest_box); a keypoint drawn as a dot lands within 1 px of the returned keypoint.
 * One mask per object (no occlusion between objects), and one more for the keypoints' dots.
 */
const RUNS = 12; // scaled by FUZZ_RUNS in checkProperty
const IMAGE_VALUE = 255;
const MIX_VALUE = 128;
const DOT_VALUES = [60, 120, 180];
const MIX_DOT_VALUES = [70, 130, 190];

interface Scene {
  width: number;
  height: number;
  boxes: number[][];
  dots: number[][];
}

const scene = (minSide: number) =>
  fc
    .record({ width: fc.integer({ min: minSide, max: 56 }), height: fc.integer({ min: minSide, max: 48 }) })
    .chain(({ width, height }) => {
      const box = fc
        .tuple(fc.integer({ min: 0, max: width - 1 }), fc.integer({ min: 0, max: height - 1 }), fc.integer({ min: 1, max: width }), fc.integer({ min: 1, max: height }))
        .map(([x, y, w, h]) => [x, y, Math.min(width, x + w), Math.min(height, y + h)]);
      const dot = fc.tuple(fc.integer({ min: 0, max: width - 1 }), fc.integer({ min: 0, max: height - 1 }));
      return fc.record({
        width: fc.constant(width),
        height: fc.constant(height),
        boxes: fc.array(box, { minLength: 1, maxLength: 3 }),
        dots: fc.uniqueArray(dot, { minLength: 1, maxLength: 3, selector: ([x, y]) => `${x},${y}` }),
      });
    });

async function sceneMasks(s: Scene, value: number, dotValues: number[]): Promise<Buffer[]> {
  const objects = await Promise.all(s.boxes.map((box) => greyPng(paintBoxes(s.width, s.height, [{ box, value }]), s.width, s.height)));
  const dots = paintBoxes(s.width, s.height, s.dots.map(([x, y], i) => ({ box: [x!, y!, x! + 1, y! + 1], value: dotValues[i]! })));
  return [...objects, await greyPng(dots, s.width, s.height)];
}

/** Pads the shorter list of masks with empty ones, so image and mix bring as many (CutMix needs one mix_mask per mask). */
async function padMasks(masks: Buffer[], count: number, width: number, height: number): Promise<Buffer[]> {
  const keypoints = masks.at(-1)!;
  const empty = await greyPng(new Uint8Array(width * height), width, height);
  return [...masks.slice(0, -1), ...Array(count - masks.length).fill(empty), keypoints];
}

type Check = 'equal' | 'inside';

describe('targets agree with masks moved the same way', () => {
  let app: FastifyInstance;
  before(async () => {
    app = await buildAugmentApp(readAugmentConfig({ LOG_LEVEL: 'silent' }));
  });
  after(() => app.close());

  async function checkAnswer(answer: any, objects: number, mixObjects: number, check: Check, dotCount: number, mixDotCount: number, strictDrops = true) {
    const { targets, width, height } = answer;
    const masks = await Promise.all(targets.masks.map(decodeMask));
    const maskCount = masks.length - 1;
    const dotMask = masks[maskCount]!;
    const returned = new Map<number, number[]>();
    targets.bbox_indices.forEach((index: number, i: number) => returned.set(index, targets.bboxes[i]));
    const objectsOf = [
      ...Array.from({ length: objects }, (_, i) => ({ index: i, mask: i, value: IMAGE_VALUE })),
      ...Array.from({ length: mixObjects }, (_, j) => ({ index: objects + j, mask: j, value: MIX_VALUE })),
    ];
    for (const { index, mask, value } of objectsOf) {
      const region = regionBox(masks[mask]!, (v) => v === value);
      const box = returned.get(index);
      if (!region) {
        // Nothing of the object shows: it may still be listed only as a sliver no pixel centre falls in.
        if (box) assert.ok(box[2]! - box[0]! <= 1 + 1e-9 || box[3]! - box[1]! <= 1 + 1e-9, `box ${index} ${box} has no mask pixels`);
        continue;
      }
      assert.ok(box, `object ${index} shows in its mask at ${region} but no box came back`);
      if (check === 'equal') {
        region.forEach((v, i) => assert.ok(Math.abs(v - box[i]!) <= 1 + 1e-9, `object ${index}: mask region ${region} vs box ${box}`));
      } else {
        assert.ok(region[0]! >= box[0]! - 1 && region[1]! >= box[1]! - 1 && region[2]! <= box[2]! + 1 && region[3]! <= box[3]! + 1, `object ${index}: mask region ${region} not inside box ${box}`);
      }
    }
    const points = new Map<number, number[]>();
    targets.keypoint_indices.forEach((index: number, i: number) => points.set(index, targets.keypoints[i]));
    const dots = [
      ...DOT_VALUES.slice(0, dotCount).map((value, index) => ({ index, value })),
      ...MIX_DOT_VALUES.slice(0, mixDotCount).map((value, j) => ({ index: dotCount + j, value })),
    ];
    let seen = 0;
    for (const { index, value } of dots) {
      const centre = dotCentre(dotMask, value);
      if (!centre) continue;
      const point = points.get(index);
      const wellInside = centre[0] >= 1 && centre[1] >= 1 && centre[0] <= width - 1 && centre[1] <= height - 1;
      if (!point) {
        // (Under CutMix an enlarged mix dot may show partly inside the patch while its centre is outside.)
        if (strictDrops) assert.ok(!wellInside, `keypoint ${index}: its dot shows at ${centre} but it was dropped`);
        continue;
      }
      seen++;
      assert.ok(Math.hypot(centre[0] - point[0]!, centre[1] - point[1]!) <= 1 + 1e-9, `keypoint ${index}: dot at ${centre}, returned ${point}`);
    }
    return seen;
  }

  const params: Record<string, (s: Scene) => fc.Arbitrary<Record<string, string | number>>> = {
    flip: () => fc.record({ direction: fc.constantFrom('horizontal', 'vertical', 'both', 'none') }),
    rotate: () => fc.record({ angle: fc.double({ min: -180, max: 180, noNaN: true }), expand: fc.constantFrom('true', 'false') }),
    crop: (s) =>
      fc
        .tuple(fc.integer({ min: Math.ceil(s.width / 2), max: s.width }), fc.integer({ min: Math.ceil(s.height / 2), max: s.height }), fc.nat(), fc.nat(), fc.option(fc.tuple(fc.integer({ min: 8, max: 80 }), fc.integer({ min: 8, max: 80 }))))
        .map(([width, height, x, y, output]) => ({
          width, height, x: x % (s.width - width + 1), y: y % (s.height - height + 1),
          ...(output ? { output_width: output[0], output_height: output[1] } : {}),
        })),
    scale: () => fc.record({ factor: fc.double({ min: 0.4, max: 2.5, noNaN: true }), keep_size: fc.constantFrom('true', 'false') }),
    cutout: () => fc.record({ holes: fc.integer({ min: 1, max: 4 }), size_ratio: fc.double({ min: 0.1, max: 0.6, noNaN: true }), seed: fc.nat() }),
  };

  for (const op of ['flip', 'rotate', 'crop', 'scale', 'cutout'] as const) {
    test(`${op}: mask regions match the returned boxes, dots the returned keypoints`, async (t) => {
      let dotsSeen = 0;
      await checkProperty(
        t,
        FILE,
        fc.asyncProperty(scene(8).chain((s) => fc.tuple(fc.constant(s), params[op]!(s))), async ([s, fields]) => {
          const image = await makeImage(s.width, s.height, 'png');
          const res = await app.inject({
            method: 'POST',
            url: `/v1/augment/${op}`,
            body: form({ image, mask: await sceneMasks(s, IMAGE_VALUE, DOT_VALUES), bboxes: JSON.stringify(s.boxes), keypoints: JSON.stringify(s.dots.map(([x, y]) => [x! + 0.5, y! + 0.5])), min_area: 0, ...fields }),
          });
          assert.equal(res.statusCode, 200, res.body);
              dotsSeen += await checkAnswer(res.json(), s.boxes.length, 0, op === 'rotate' ? 'inside' : 'equal', s.dots.length, 0);
        }),
        RUNS,
      );
      assert.ok(dotsSeen > 0, 'no keypoint dot was ever checked');
    });
  }

  test('cutmix: image and mix objects match their boxes, mix ones numbered after the image\'s', async (t) => {
    await checkProperty(
      t,
      FILE,
      fc.asyncProperty(scene(16), scene(28), fc.nat(), async (s, m, seed) => {
        const count = Math.max(s.boxes.length, m.boxes.length) + 1;
        const res = await app.inject({
          method: 'POST',
          url: '/v1/augment/cutmix',
          body: form({
            image: await makeImage(s.width, s.height, 'png'),
            mix_image: await makeImage(m.width, m.height, 'png'),
            mask: await padMasks(await sceneMasks(s, IMAGE_VALUE, DOT_VALUES), count, s.width, s.height),
            mix_mask: await padMasks(await sceneMasks(m, MIX_VALUE, MIX_DOT_VALUES), count, m.width, m.height),
            bboxes: JSON.stringify(s.boxes),
            mix_bboxes: JSON.stringify(m.boxes),
            keypoints: JSON.stringify(s.dots.map(([x, y]) => [x! + 0.5, y! + 0.5])),
            mix_keypoints: JSON.stringify(m.dots.map(([x, y]) => [x! + 0.5, y! + 0.5])),
            min_area: 0,
            seed,
          }),
        });
        assert.equal(res.statusCode, 200, res.body);
        await checkAnswer(res.json(), s.boxes.length, m.boxes.length, 'equal', s.dots.length, m.dots.length, false);
      }),
      RUNS,
    );
  });

  test('cutmix with instance masks: every label id visible in the output mask is in bbox_labels', async (t) => {
    await checkProperty(
      t,
      FILE,
      fc.asyncProperty(scene(8), scene(8), fc.nat(), async (s, m, seed) => {
        // One instance mask each: object i painted with its id, the mix's ids after 100.
        const ids = s.boxes.map((_, i) => i + 1);
        const mixIds = m.boxes.map((_, j) => 101 + j);
        const mask = await greyPng(paintBoxes(s.width, s.height, s.boxes.map((box, i) => ({ box, value: ids[i]! }))), s.width, s.height);
        const mixMask = await greyPng(paintBoxes(m.width, m.height, m.boxes.map((box, j) => ({ box, value: mixIds[j]! }))), m.width, m.height);
        const res = await app.inject({
          method: 'POST',
          url: '/v1/augment/cutmix',
          body: form({
            image: await makeImage(s.width, s.height, 'png'),
            mix_image: await makeImage(m.width, m.height, 'png'),
            mask, mix_mask: mixMask,
            bboxes: JSON.stringify(s.boxes), bbox_labels: JSON.stringify(ids),
            mix_bboxes: JSON.stringify(m.boxes), mix_bbox_labels: JSON.stringify(mixIds),
            min_area: 0, seed,
          }),
        });
        assert.equal(res.statusCode, 200, res.body);
        const { targets } = res.json();
        const out = await decodeMask(targets.masks[0]);
        const visible = new Set([...out.data].filter((v) => v !== 0));
        for (const id of visible) assert.ok(targets.bbox_labels.includes(id), `id ${id} shows in the mask but not in bbox_labels ${targets.bbox_labels}`);
      }),
      RUNS * 2,
    );
  });

  // Consecutive geometric steps are one resampling (issue 24), and their targets follow the composed
  // map, not each step's clipping in turn: a brightness of 1 between them (no change to pixels or
  // targets) keeps every step its own, so that the answer must equal the steps sent one by one.
  test('pipeline: the targets after several unfused steps equal those of the same steps sent one by one', async (t) => {
    await checkProperty(
      t,
      FILE,
      fc.asyncProperty(scene(16), fc.nat(), async (s, seed) => {
        const image = await makeImage(s.width, s.height, 'png');
        const masks = await sceneMasks(s, IMAGE_VALUE, DOT_VALUES);
        const labels = s.boxes.map((_, i) => `box${i}`);
        const ops = [
          { op: 'flip', direction: 'random' },
          { op: 'brightness', factor: 1 },
          { op: 'rotate', angle_range: [-30, 30], p: 0.7 },
          { op: 'brightness', factor: 1 },
          { op: 'scale', factor_range: [0.7, 1.4] },
          { op: 'cutout', holes: 2, size_ratio: 0.3 },
          { op: 'crop', scale_range: [0.5, 1] },
        ];
        const keypoints = JSON.stringify(s.dots.map(([x, y]) => [x! + 0.5, y! + 0.5, 30, 1]));
        const res = await app.inject({
          method: 'POST',
          url: '/v1/augment/pipeline',
          body: form({ image, mask: masks, ops: JSON.stringify(ops), seed, bboxes: JSON.stringify(s.boxes), bbox_labels: JSON.stringify(labels), keypoints, format: 'png' }),
        });
        assert.equal(res.statusCode, 200, res.body);
        const [variant] = res.json().variants;
        let step = { image, masks, bboxes: JSON.stringify(s.boxes), labels: JSON.stringify(labels), keypoints, targets: undefined as any };
        for (const { op, params } of variant.applied) {
          const fields = Object.fromEntries(Object.entries(params).map(([k, v]) => [k, Array.isArray(v) ? JSON.stringify(v) : (v as string)]));
          const one = await app.inject({
            method: 'POST',
            url: `/v1/augment/${op}`,
            body: form({ image: step.image, mask: step.masks, bboxes: step.bboxes, bbox_labels: step.labels, keypoints: step.keypoints, format: 'png', ...fields }),
          });
          assert.equal(one.statusCode, 200, one.body);
          const { targets, image: out } = one.json();
          step = {
            image: Buffer.from(out, 'base64'),
            masks: targets.masks.map((b64: string) => Buffer.from(b64, 'base64')),
            bboxes: JSON.stringify(targets.bboxes),
            labels: JSON.stringify(targets.bbox_labels),
            keypoints: JSON.stringify(targets.keypoints),
            targets,
          };
        }
        if (!step.targets) return;
        const final = variant.targets;
        assert.deepEqual(final.bbox_labels, step.targets.bbox_labels);
        final.bboxes.forEach((box: number[], i: number) => box.forEach((v, k) => assert.ok(Math.abs(v - step.targets.bboxes[i][k]) < 1e-6, `${box} vs ${step.targets.bboxes[i]}`)));
        assert.equal(final.keypoints.length, step.targets.keypoints.length);
        final.keypoints.forEach((p: number[], i: number) => p.forEach((v, k) => assert.ok(Math.abs(v - step.targets.keypoints[i][k]) < 1e-6, `${p} vs ${step.targets.keypoints[i]}`)));
        for (const [i, b64] of final.masks.entries()) {
          assert.deepEqual((await decodeMask(b64)).data, (await decodeMask(step.targets.masks[i])).data, `mask ${i}`);
        }
      }),
      8,
    );
  });

  test('pipeline: a fused run of flip, rotate, scale and crop moves masks, boxes and keypoints by one map', async (t) => {
    await checkProperty(
      t,
      FILE,
      fc.asyncProperty(scene(16), fc.nat(), async (s, seed) => {
        const image = await makeImage(s.width, s.height, 'png');
        const masks = await sceneMasks(s, IMAGE_VALUE, DOT_VALUES);
        const ops = [
          { op: 'flip', direction: 'random' },
          { op: 'rotate', angle_range: [-30, 30] },
          { op: 'scale', factor_range: [0.7, 1.4] },
          { op: 'crop', scale_range: [0.5, 1] },
        ];
        const keypoints = JSON.stringify(s.dots.map(([x, y]) => [x! + 0.5, y! + 0.5]));
        const res = await app.inject({
          method: 'POST',
          url: '/v1/augment/pipeline',
          body: form({ image, mask: masks, ops: JSON.stringify(ops), seed, bboxes: JSON.stringify(s.boxes), keypoints, format: 'png' }),
        });
        assert.equal(res.statusCode, 200, res.body);
        const [variant] = res.json().variants;
        assert.deepEqual(variant.applied.map((a: { op: string }) => a.op), ['flip', 'rotate', 'scale', 'crop']);
        await checkAnswer(variant, s.boxes.length, 0, 'inside', s.dots.length, 0, false);
      }),
      8,
    );
  });
});
