import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import type { FastifyInstance } from 'fastify';
import sharp from 'sharp';
import { buildAugmentApp } from '../../services/augment/app.ts';
import { readAugmentConfig } from '../../services/augment/config.ts';
import { componentSchema } from '../../services/shared/openapi.ts';
import { form } from '../helpers/form.ts';
import { makeImage } from '../helpers/images.ts';
import { checkProperty } from '../helpers/fuzz.ts';

const FILE = 'test/hardening/targets-fuzz.test.ts';

/**
 * Property: whatever targets a request brings (plausible, out of the image, or garbage), the
 * answer is a documented 4xx, or a 200 whose targets are well formed: boxes inside the output and
 * not degenerate (pascal_voc), finite keypoints, indices that point at the request's items, labels
 * carried with them, and one decodable mask per mask sent, of the output's size.
 */
const W = 32;
const H = 24;

const number = fc.oneof(
  { weight: 60, arbitrary: fc.double({ min: -20, max: 60, noNaN: true }).map((v) => Math.round(v * 4) / 4) },
  { weight: 1, arbitrary: fc.constantFrom(0, 1e9, -1e9, 1e308, -1e308, 1e-300, 0.5) },
);
const jsonOrGarbage = <T>(arbitrary: fc.Arbitrary<T>) =>
  fc.oneof(
    { weight: 20, arbitrary: arbitrary.map((v) => JSON.stringify(v)) },
    { weight: 1, arbitrary: fc.constantFrom('NaN', '[[1,2,3,4]', '[[NaN,0,1,1]]', '{}', '[{}]', '[["a","b","c","d"]]', '[[1e999,0,1,1]]', '"x"', '[]', '[[[[]]]]') },
  );
const box = fc.tuple(number, number, number, number).map(([a, b, c, d]) => [Math.min(a, c), Math.min(b, d), Math.max(a, c) + 0.25, Math.max(b, d) + 0.25]);
const targets = fc.record(
  {
    bboxes: jsonOrGarbage(fc.array(box, { maxLength: 5 })),
    keypoints: jsonOrGarbage(fc.array(fc.oneof(fc.tuple(number, number), fc.tuple(number, number, number, fc.double({ min: 0.1, max: 3, noNaN: true }))), { maxLength: 4 })),
    bbox_format: fc.oneof({ weight: 12, arbitrary: fc.constantFrom('pascal_voc', 'coco', 'yolo', 'albumentations') }, { weight: 1, arbitrary: fc.constant('xyxy') }),
    min_visibility: fc.oneof({ weight: 12, arbitrary: fc.constantFrom('0', '0.3', '1') }, { weight: 1, arbitrary: fc.constantFrom('-1', 'x') }),
    min_area: fc.constantFrom('0', '1', '50'),
    remove_invisible_keypoints: fc.constantFrom('true', 'false'),
    remove_occluded_keypoints: fc.constantFrom('true', 'false'),
    bbox_rotate_method: fc.constantFrom('largest_box', 'ellipse'),
    masks: fc.nat(2),
  },
  { requiredKeys: ['bboxes', 'masks'] },
);
const ops: Record<string, fc.Arbitrary<Record<string, string>>> = {
  flip: fc.record({ direction: fc.constantFrom('horizontal', 'vertical', 'both', 'random') }),
  rotate: fc.record({ angle: fc.double({ min: -360, max: 360, noNaN: true }).map(String), expand: fc.constantFrom('true', 'false') }),
  crop: fc.record({ scale_range: fc.constant('0.2,1'), output_width: fc.constantFrom('16', '40'), output_height: fc.constantFrom('16', '40') }),
  scale: fc.record({ factor: fc.double({ min: 0.3, max: 3, noNaN: true }).map(String), keep_size: fc.constantFrom('true', 'false') }),
  cutout: fc.record({ holes: fc.integer({ min: 1, max: 8 }).map(String), size_ratio: fc.constantFrom('0.2', '0.5', '1') }),
  cutmix: fc.record({ alpha: fc.constantFrom('0.5', '1') }),
  pipeline: fc.constant({ ops: '[{"op":"flip","direction":"random"},{"op":"rotate","p":0.5},{"op":"cutout"},{"op":"scale"}]' }),
  affine: fc.record({
    angle: fc.double({ min: -360, max: 360, noNaN: true }).map(String),
    shear: fc.tuple(fc.double({ min: -60, max: 60, noNaN: true }), fc.double({ min: -60, max: 60, noNaN: true })).map(([x, y]) => `${x},${y}`),
    scale: fc.double({ min: 0.1, max: 4, noNaN: true }).map(String),
    interpolation: fc.constantFrom('nearest', 'bilinear'),
  }),
  perspective: fc.record({ distortion_scale: fc.double({ min: 0, max: 1, noNaN: true }).map(String), interpolation: fc.constantFrom('nearest', 'bilinear') }),
  gaussian_blur: fc.record({ kernel_size: fc.constantFrom('3', '7'), sigma_range: fc.constant('0.5,2') }),
  gaussian_noise: fc.record({ sigma: fc.constantFrom('0', '12'), per_channel: fc.constantFrom('true', 'false') }),
  jpeg: fc.record({ quality: fc.constantFrom('5', '60', '100') }),
  erase: fc.record({ scale_range: fc.constantFrom('0.02,0.33', '0.3,0.9'), value: fc.constantFrom('black', 'random') }),
  mixup: fc.record({ alpha: fc.constantFrom('0.2', '32') }),
  mosaic: fc.record({ center_range: fc.constantFrom('0,1', '0.25,0.75'), output_width: fc.constantFrom('16', '40') }),
};

describe('fuzzing targets (fast-check)', () => {
  let app: FastifyInstance;
  let image: Buffer;
  let mask: Buffer;
  let documented: Set<string>;

  before(async () => {
    app = await buildAugmentApp(readAugmentConfig({ LOG_LEVEL: 'silent', MAX_TARGETS: '8' }));
    image = await makeImage(W, H, 'png');
    mask = await sharp(Buffer.alloc(W * H, 3), { raw: { width: W, height: H, channels: 1 } }).toColourspace('b-w').png().toBuffer();
    documented = new Set(componentSchema('Problem').properties!.code!.enum as string[]);
  });
  after(() => app.close());

  test('every operation answers well-formed targets or a documented 4xx', async (t) => {
    const counts: Record<string, number> = {};
    await checkProperty(
      t,
      FILE,
      fc.asyncProperty(fc.constantFrom(...Object.keys(ops)).chain((op) => fc.tuple(fc.constant(op), ops[op]!, targets, fc.nat())), async ([op, fields, given, seed]) => {
        const { masks, ...text } = given;
        const res = await app.inject({
          method: 'POST',
          url: `/v1/augment/${op}`,
          body: form({ image, seed, ...fields, ...text, ...(op === 'cutmix' || op === 'mixup' ? { mix_image: image, mix_mask: Array(masks).fill(mask) } : {}), ...(op === 'mosaic' ? { mix_image: [image, image, image] } : {}), mask: Array(op === 'mosaic' ? Math.min(masks, 1) : masks).fill(mask) }),
        });
        const key = res.statusCode === 200 ? '200' : `${res.statusCode} ${res.json().code}`;
        counts[key] = (counts[key] ?? 0) + 1;
        assert.ok(res.statusCode < 500, `${res.statusCode}: ${res.body.slice(0, 300)}`);
        if (res.statusCode !== 200) {
          assert.ok(documented.has(res.json().code), res.body);
          return;
        }
        const body = res.json();
        const answers = op === 'pipeline' ? body.variants : [body];
        const sentBoxes = JSON.parse(text.bboxes) as unknown[];
        for (const answer of answers) {
          const out = answer.targets;
          assert.ok(out, 'a request with targets answers targets');
          assert.equal(out.bboxes.length, out.bbox_indices.length);
          assert.equal(out.bboxes.length, out.bbox_labels.length);
          for (const [i, b] of out.bboxes.entries()) {
            assert.ok(b.every(Number.isFinite), String(b));
            assert.ok(out.bbox_indices[i] >= 0 && out.bbox_indices[i] < sentBoxes.length, `index ${out.bbox_indices[i]}`);
            if ((given.bbox_format ?? 'pascal_voc') === 'pascal_voc') {
              assert.ok(b[0] >= 0 && b[1] >= 0 && b[2] <= answer.width + 1e-9 && b[3] <= answer.height + 1e-9 && b[2] > b[0] && b[3] > b[1], `box ${b} in ${answer.width}x${answer.height}`);
            }
          }
          for (const k of out.keypoints) assert.ok(k.every(Number.isFinite), String(k));
          // MixUp answers the mix image's masks after the image's; Mosaic takes one mask (a label map).
          assert.equal(out.masks.length, op === 'mixup' ? 2 * masks : op === 'mosaic' ? Math.min(masks, 1) : masks);
          for (const m of out.masks) {
            const meta = await sharp(Buffer.from(m, 'base64')).metadata();
            assert.deepEqual([meta.width, meta.height, meta.channels], [answer.width, answer.height, 1]);
          }
        }
      }),
      150,
    );
    t.diagnostic(`answers: ${JSON.stringify(counts)}`);
    assert.ok((counts['200'] ?? 0) > 20, `too few requests got through: ${JSON.stringify(counts)}`);
  });
});
