import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import type { FastifyInstance } from 'fastify';
import sharp from 'sharp';
import { buildAugmentApp } from '../../services/augment/app.ts';
import { readAugmentConfig } from '../../services/augment/config.ts';
import { BBOX_FORMATS, fromPixels, toPixels, type PixelBox } from '../../services/augment/targets/formats.ts';
import { coverGrid, visiblePart } from '../../services/augment/targets/transform.ts';
import { form } from '../helpers/form.ts';
import { makeImage, pixels } from '../helpers/images.ts';
import { decodeMask, greyPng, paintBoxes } from './targets-support.ts';
import { checkProperty } from '../helpers/fuzz.ts';

const FILE = 'test/augment/targets.test.ts';

type Fields = Record<string, string | number | boolean | Buffer | Buffer[] | undefined>;

describe('box formats', () => {
  test('each format round-trips through the internal pixel form', async (t) => {
    const size = fc.record({ width: fc.integer({ min: 1, max: 5000 }), height: fc.integer({ min: 1, max: 5000 }) });
    const coord = fc.double({ min: -100, max: 6000, noNaN: true });
    await checkProperty(
      t,
      FILE,
      fc.property(size, coord, coord, coord, coord, fc.constantFrom(...BBOX_FORMATS), (s, a, b, c, d, format) => {
        const box: PixelBox = [Math.min(a, c), Math.min(b, d), Math.max(a, c) + 1, Math.max(b, d) + 1];
        const there = fromPixels(box, format, s);
        const back = toPixels(there, format, s);
        back.forEach((v, i) => assert.ok(Math.abs(v - box[i]!) < 1e-6, `${format}: ${box} -> ${there} -> ${back}`));
      }),
      400,
    );
  });

  test('the same box in the four formats', () => {
    const size = { width: 200, height: 100 };
    const box: PixelBox = [20, 10, 60, 50];
    assert.deepEqual(fromPixels(box, 'pascal_voc', size), [20, 10, 60, 50]);
    assert.deepEqual(fromPixels(box, 'coco', size), [20, 10, 40, 40]);
    assert.deepEqual(fromPixels(box, 'yolo', size), [0.2, 0.3, 0.2, 0.4]);
    assert.deepEqual(fromPixels(box, 'albumentations', size), [0.1, 0.1, 0.3, 0.5]);
  });
});

describe('what holes leave of a box', () => {
  test('area and hull agree with counting unit cells, for integer boxes and holes', async (t) => {
    const rect = fc.tuple(fc.integer({ min: 0, max: 20 }), fc.integer({ min: 0, max: 20 }), fc.integer({ min: 1, max: 12 }), fc.integer({ min: 1, max: 12 })).map(([x, y, w, h]) => [x, y, x + w, y + h] as [number, number, number, number]);
    await checkProperty(
      t,
      FILE,
      fc.property(rect, fc.array(rect, { maxLength: 6 }), (box, holes) => {
        let count = 0;
        const hull = [Infinity, Infinity, -Infinity, -Infinity];
        for (let y = box[1]; y < box[3]; y++) {
          for (let x = box[0]; x < box[2]; x++) {
            if (holes.some(([a, b, c, d]) => x >= a && x < c && y >= b && y < d)) continue;
            count++;
            [hull[0], hull[1], hull[2], hull[3]] = [Math.min(hull[0]!, x), Math.min(hull[1]!, y), Math.max(hull[2]!, x + 1), Math.max(hull[3]!, y + 1)];
          }
        }
        const part = visiblePart(box, coverGrid(holes));
        if (count === 0) return assert.equal(part, undefined);
        assert.equal(part?.area, count);
        assert.deepEqual(part?.hull, hull);
      }),
      300,
    );
  });
});

describe('targets over HTTP', () => {
  let app: FastifyInstance;
  let image: Buffer;
  let mask: Buffer;
  const W = 40;
  const H = 30;

  before(async () => {
    app = await buildAugmentApp(readAugmentConfig({ LOG_LEVEL: 'silent', MAX_TARGETS: '5', MAX_INPUT_PIXELS: String(2 * W * H) }));
    image = await makeImage(W, H, 'png');
    mask = await greyPng(paintBoxes(W, H, [{ box: [4, 6, 14, 16], value: 200 }]), W, H);
  });
  after(() => app.close());

  const post = (op: string, fields: Fields, headers: Record<string, string> = {}) =>
    app.inject({ method: 'POST', url: `/v1/augment/${op}`, body: form(fields), headers });

  test('a flip moves boxes in every format, keypoints with their angle, and the mask; JSON whatever the Accept', async () => {
    const cases: Array<[string, string, number[]]> = [
      ['pascal_voc', '[[4,6,14,16]]', [26, 6, 36, 16]],
      ['coco', '[[4,6,10,10]]', [26, 6, 10, 10]],
      ['yolo', '[[0.225,0.3666666666666667,0.25,0.3333333333333333]]', [0.775, 0.366666667, 0.25, 0.333333333]],
      ['albumentations', '[[0.1,0.2,0.35,0.5333333333333333]]', [0.65, 0.2, 0.9, 0.533333333]],
    ];
    for (const [bbox_format, bboxes, expectedBox] of cases) {
      const res = await post('flip', { image, mask, bboxes, bbox_format, bbox_labels: '["cat"]', keypoints: '[[5,7,30,2]]', direction: 'horizontal' }, { accept: 'image/png' });
      assert.equal(res.statusCode, 200, res.body);
      assert.match(res.headers['content-type'] as string, /application\/json/);
      const { targets } = res.json();
      targets.bboxes[0].forEach((v: number, i: number) => assert.ok(Math.abs(v - expectedBox[i]!) < 1e-6, `${bbox_format}: ${targets.bboxes[0]}`));
      assert.deepEqual(targets.bbox_labels, ['cat']);
      assert.deepEqual(targets.bbox_indices, [0]);
      assert.deepEqual(targets.keypoints, [[35, 7, 150, 2]]);
      const out = await decodeMask(targets.masks[0]);
      // The mirrored square: columns 26..35.
      assert.equal(out.data[6 * W + 26], 200);
      assert.equal(out.data[6 * W + 25], 0);
      assert.equal(out.data[15 * W + 35], 200);
      assert.equal(out.data[15 * W + 36], 0);
    }
  });

  test('keypoints turn with rotate and flips, and grow with scale', async () => {
    const keypoints = '[[20,15,10,1.5]]';
    const cases: Array<[string, Fields, number[]]> = [
      // A turn about the centre (20, 15) leaves the centre where it is, to within libvips' rounding
      // of its turned canvas (half a pixel), and adds the angle.
      ['rotate', { angle: 30 }, [20, 15, 40, 1.5]],
      ['rotate', { angle: -20 }, [20, 15, 350, 1.5]],
      ['flip', { direction: 'vertical' }, [20, 15, 350, 1.5]],
      ['flip', { direction: 'both' }, [20, 15, 190, 1.5]],
      ['scale', { factor: 0.5, keep_size: 'false' }, [10, 7.5, 10, 0.75]],
      ['crop', { x: 10, y: 5, width: 20, height: 20, output_width: 40, output_height: 40 }, [20.5, 20.5, 10, 3]],
    ];
    for (const [op, fields, point] of cases) {
      const res = await post(op, { image, keypoints, ...fields });
      assert.equal(res.statusCode, 200, res.body);
      const [got] = res.json().targets.keypoints;
      const tolerance = (i: number) => (op === 'rotate' && i < 2 ? 0.5 : 1e-6);
      got.forEach((v: number, i: number) => assert.ok(Math.abs(v - point[i]!) <= tolerance(i), `${op} ${JSON.stringify(fields)}: ${got} vs ${point}`));
    }
  });

  test('a request with targets gets the same pixels as without', async () => {
    const mixMask = await greyPng(new Uint8Array(W * H), W, H);
    const cases: Array<[string, Fields]> = [
      ['flip', { direction: 'both' }],
      ['rotate', { angle: 23 }],
      ['crop', { width: 30, height: 20, output_width: 50, output_height: 40 }],
      ['scale', { factor: 1.3 }],
      ['cutout', { holes: 2 }],
      ['cutmix', { mix_image: image }],
    ];
    for (const [op, fields] of cases) {
      const plain = await post(op, { image, seed: 4, ...fields });
      const withTargets = await post(op, { image, seed: 4, mask, bboxes: '[[4,6,14,16]]', ...(op === 'cutmix' ? { mix_mask: mixMask } : {}), ...fields });
      assert.equal(withTargets.statusCode, 200, withTargets.body);
      const answer = withTargets.json();
      assert.deepEqual(answer.params, JSON.parse(plain.headers['x-augment-params'] as string).params, op);
      assert.deepEqual(await pixels(Buffer.from(answer.image, 'base64')), await pixels(plain.rawPayload), op);
    }
  });

  test('empty target fields (as Swagger UI sends them) are absent: the answer is the image', async () => {
    const res = await post('flip', { image, bboxes: '', keypoints: '', bbox_labels: '', direction: 'horizontal' });
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(res.headers['content-type'], 'image/png');
    const again = await post('flip', { image, bboxes: '[]', direction: 'horizontal' });
    assert.deepEqual(again.json().targets.bboxes, []);
  });

  test('boxes outside the image are clipped, or dropped when nothing is left; bbox_indices say which stayed', async () => {
    const res = await post('flip', { image, bboxes: '[[-10,-5,5,5],[50,50,60,60],[30,20,45,35]]', bbox_labels: '[1,2,3]', direction: 'none' });
    assert.equal(res.statusCode, 200, res.body);
    const { targets } = res.json();
    assert.deepEqual(targets.bboxes, [[0, 0, 5, 5], [30, 20, 40, 30]]);
    assert.deepEqual(targets.bbox_labels, [1, 3]);
    assert.deepEqual(targets.bbox_indices, [0, 2]);
  });

  test('min_visibility and min_area drop boxes a crop leaves mostly outside; remove_invisible_keypoints', async () => {
    const base = { image, bboxes: '[[0,0,10,10],[20,0,40,10]]', keypoints: '[[1,1],[25,5]]', x: 15, y: 0, width: 25, height: 30 };
    const kept = (await post('crop', base)).json().targets;
    assert.deepEqual(kept.bboxes, [[5, 0, 25, 10]]);
    assert.deepEqual(kept.keypoints, [[10, 5]]);
    const all = (await post('crop', { ...base, x: 5, width: 30, remove_invisible_keypoints: 'false' })).json().targets;
    assert.deepEqual(all.bboxes, [[0, 0, 5, 10], [15, 0, 30, 10]]);
    assert.deepEqual(all.keypoints, [[-4, 1], [20, 5]]);
    const strict = (await post('crop', { ...base, x: 5, width: 30, min_visibility: 0.6 })).json().targets;
    assert.deepEqual(strict.bbox_indices, [1]);
    const big = (await post('crop', { ...base, x: 5, width: 30, min_area: 60 })).json().targets;
    assert.deepEqual(big.bbox_indices, [1]);
  });

  test('rotate: ellipse boxes are tighter than largest_box, and both hold the turned centre', async () => {
    const fields = { image, bboxes: '[[10,5,30,25]]', angle: 45 };
    const largest = (await post('rotate', fields)).json().targets.bboxes[0];
    const ellipse = (await post('rotate', { ...fields, bbox_rotate_method: 'ellipse' })).json().targets.bboxes[0];
    // A 20x20 square turned 45°: the corners' hull is 20·√2 wide, the inscribed circle's 20.
    assert.ok(Math.abs(largest[2] - largest[0] - 20 * Math.SQRT2) < 1e-6, String(largest));
    assert.ok(Math.abs(ellipse[2] - ellipse[0] - 20) < 1e-6, String(ellipse));
    assert.ok(Math.abs((largest[0] + largest[2]) / 2 - (ellipse[0] + ellipse[2]) / 2) < 1e-6);
  });

  test('cutout: boxes shrink to what the holes leave, masks get mask_fill, occluded keypoints only on request', async () => {
    const fields = { image, mask, bboxes: '[[4,6,14,16]]', keypoints: '[[5,7],[12,12]]', boxes: '[[0,0,9,20]]', mask_fill: 9 };
    const res = await post('cutout', fields);
    assert.equal(res.statusCode, 200, res.body);
    const { targets } = res.json();
    assert.deepEqual(targets.bboxes, [[9, 6, 14, 16]]);
    assert.deepEqual(targets.keypoints, [[5, 7], [12, 12]]);
    const out = await decodeMask(targets.masks[0]);
    assert.equal(out.data[7 * W + 5], 9);
    assert.equal(out.data[7 * W + 10], 200);
    const removed = (await post('cutout', { ...fields, remove_occluded_keypoints: 'true' })).json().targets;
    assert.deepEqual(removed.keypoints, [[12, 12]]);
    assert.deepEqual(removed.keypoint_indices, [1]);
    const dropped = (await post('cutout', { ...fields, min_visibility: 0.6 })).json().targets;
    assert.deepEqual(dropped.bboxes, []);
  });

  test('cutmix: mix boxes numbered after the image\'s and cut to the patch; the image\'s lose the patch', async () => {
    const mix = await makeImage(20, 15, 'png');
    const mixMask = await greyPng(paintBoxes(20, 15, [{ box: [0, 0, 10, 10], value: 77 }]), 20, 15);
    const res = await post('cutmix', {
      image, mix_image: mix, mask, mix_mask: mixMask, box: '0,0,10,30',
      bboxes: '[[4,6,14,16]]', bbox_labels: '["cat"]', mix_bboxes: '[[0,0,10,10]]', mix_bbox_labels: '["dog"]',
    });
    assert.equal(res.statusCode, 200, res.body);
    const { targets } = res.json();
    // The mix box is stretched ×2 to [0, 0, 20, 20] (libvips shifts an enlargement by half a
    // pixel, so [0.5, 0.5, 20.5, 20.5]), then cut to the patch.
    assert.deepEqual(targets.bboxes, [[10, 6, 14, 16], [0.5, 0.5, 10, 20.5]]);
    assert.deepEqual(targets.bbox_labels, ['cat', 'dog']);
    assert.deepEqual(targets.bbox_indices, [0, 1]);
    const out = await decodeMask(targets.masks[0]);
    assert.equal(out.data[5 * W + 5], 77);
    assert.equal(out.data[25 * W + 5], 0);
    assert.equal(out.data[10 * W + 12], 200);
  });

  const refusals: Array<[string, string, Fields, number, string, string]> = [
    ['degenerate box', 'flip', { bboxes: '[[1,1,5,5],[4,4,4,9]]' }, 400, 'AUG_INVALID_PARAM', 'bboxes[1]'],
    ['degenerate coco box', 'flip', { bboxes: '[[1,1,0,5]]', bbox_format: 'coco' }, 400, 'AUG_INVALID_PARAM', 'bboxes[0]'],
    ['labels of the wrong length', 'flip', { bboxes: '[[1,1,5,5]]', bbox_labels: '["a","b"]' }, 400, 'AUG_INVALID_PARAM', 'bbox_labels'],
    ['labels without boxes', 'flip', { bbox_labels: '["a"]' }, 400, 'AUG_INVALID_PARAM', 'bbox_labels'],
    ['keypoint labels of the wrong length', 'flip', { keypoints: '[[1,1]]', keypoint_labels: '[]' }, 400, 'AUG_INVALID_PARAM', 'keypoint_labels'],
    ['malformed JSON', 'flip', { bboxes: '[[1,1,5,5]' }, 400, 'AUG_INVALID_PARAM', 'bboxes'],
    ['NaN', 'rotate', { bboxes: '[[1,NaN,5,5]]' }, 400, 'AUG_INVALID_PARAM', 'bboxes'],
    ['a box of three numbers', 'flip', { bboxes: '[[1,1,5]]' }, 400, 'AUG_INVALID_PARAM', 'bboxes[0]'],
    ['a keypoint of three numbers', 'flip', { keypoints: '[[1,1,5]]' }, 400, 'AUG_INVALID_PARAM', 'keypoints[0]'],
    ['an overflowing number', 'flip', { bboxes: '[[1,1,1e309,5]]' }, 400, 'AUG_INVALID_PARAM', 'bboxes[0][2]'],
    ['a coordinate beyond 1e9', 'flip', { keypoints: '[[1,1,0,1e10]]' }, 400, 'AUG_INVALID_PARAM', 'keypoints[0][3]'],
    ['more than MAX_TARGETS', 'flip', { bboxes: '[[1,1,5,5],[1,1,5,5],[1,1,5,5]]', keypoints: '[[1,1],[2,2],[3,3]]' }, 413, 'AUG_PAYLOAD_TOO_LARGE', 'bboxes'],
    ['an unknown bbox_format', 'flip', { bboxes: '[[1,1,5,5]]', bbox_format: 'xywh' }, 400, 'AUG_INVALID_PARAM', 'bbox_format'],
    ['mix boxes outside cutmix', 'pipeline', { ops: '[{"op":"flip"}]', mix_bboxes: '[[1,1,5,5]]' }, 400, 'AUG_INVALID_REQUEST', 'mix_bboxes'],
  ];
  for (const [what, op, fields, status, code, param] of refusals) {
    test(`refused: ${what}`, async () => {
      const res = await post(op, { image, ...fields });
      assert.equal(res.statusCode, status, res.body);
      assert.equal(res.json().code, code);
      assert.equal(res.json().param, param);
    });
  }

  test('masks: RGB, grey + alpha, another size, a corrupt file and too many are refused naming the field', async () => {
    const rgb = await makeImage(W, H, 'png');
    const greyAlpha = await sharp(await greyPng(new Uint8Array(W * H), W, H)).ensureAlpha().png().toBuffer();
    const small = await greyPng(new Uint8Array(10 * 10), 10, 10);
    const cases: Array<[Buffer[], number, string, string]> = [
      [[mask, rgb], 400, 'AUG_INVALID_PARAM', 'mask[1]'],
      [[greyAlpha], 400, 'AUG_INVALID_PARAM', 'mask[0]'],
      [[small], 400, 'AUG_INVALID_PARAM', 'mask[0]'],
      [[Buffer.from('not a png')], 415, 'AUG_UNSUPPORTED_MEDIA', 'mask[0]'],
      [Array(9).fill(mask), 400, 'AUG_INVALID_REQUEST', 'mask'],
      // Masks count as one image against MAX_INPUT_PIXELS (here twice the image's pixels).
      [[mask, mask, mask], 413, 'AUG_PAYLOAD_TOO_LARGE', 'mask[2]'],
    ];
    for (const [masks, status, code, param] of cases) {
      const res = await post('flip', { image, mask: masks });
      assert.equal(res.statusCode, status, res.body);
      assert.equal(res.json().code, code);
      assert.equal(res.json().param, param);
    }
    const noMix = await post('cutmix', { image, mix_image: image, mask });
    assert.equal(noMix.statusCode, 400, noMix.body);
    assert.equal(noMix.json().param, 'mix_mask');
  });

  test('replay: the applied params with the same image and targets give the same pixels and targets', async () => {
    const mixMask = await greyPng(paintBoxes(W, H, [{ box: [0, 0, 20, 20], value: 5 }]), W, H);
    const targets = { mask, bboxes: '[[4,6,14,16],[20,3,38,27]]', keypoints: '[[5,7,10,1],[30,20,0,1]]' };
    const cases: Array<[string, Fields]> = [
      ['flip', { direction: 'random' }],
      ['rotate', { angle_range: '-40,40' }],
      ['crop', { scale_range: '0.3,1', output_width: 32, output_height: 24 }],
      ['scale', { factor_range: '0.5,1.5' }],
      ['cutout', { holes: 3, size_ratio: 0.3 }],
      ['cutmix', { mix_image: image, mix_mask: mixMask, mix_bboxes: '[[0,0,20,20]]' }],
    ];
    for (const [op, fields] of cases) {
      const first = await post(op, { image, seed: 99, ...targets, ...fields });
      assert.equal(first.statusCode, 200, first.body);
      const answer = first.json();
      const params = Object.fromEntries(
        Object.entries(answer.params as Record<string, unknown>).map(([k, v]) => [k, Array.isArray(v) ? JSON.stringify(v) : (v as string)]),
      );
      const extra = op === 'cutmix' ? { mix_image: image, mix_mask: mixMask, mix_bboxes: '[[0,0,20,20]]' } : {};
      const again = (await post(op, { image, ...targets, ...extra, ...params })).json();
      assert.deepEqual(again.targets, answer.targets, op);
      assert.deepEqual(await pixels(Buffer.from(again.image, 'base64')), await pixels(Buffer.from(answer.image, 'base64')), op);
    }
  });

  test('pipeline: each variant carries its own targets, and replaying its applied steps gives them again', async () => {
    const ops = '[{"op":"flip","direction":"random"},{"op":"rotate","angle_range":"-20,20"},{"op":"crop","scale_range":"0.5,1"}]';
    const res = await post('pipeline', { image, mask, ops, count: 3, seed: 5, bboxes: '[[4,6,14,16]]', keypoints: '[[5,7]]' });
    assert.equal(res.statusCode, 200, res.body);
    const { variants } = res.json();
    assert.equal(variants.length, 3);
    assert.notDeepEqual(variants[0].targets, variants[1].targets);
    for (const variant of variants) {
      const replay = JSON.stringify(variant.applied.map((step: { op: string; params: object }) => ({ op: step.op, ...step.params })));
      const again = (await post('pipeline', { image, mask, ops: replay, bboxes: '[[4,6,14,16]]', keypoints: '[[5,7]]' })).json();
      assert.deepEqual(again.variants[0].targets, variant.targets);
      assert.deepEqual(await pixels(Buffer.from(again.variants[0].image, 'base64')), await pixels(Buffer.from(variant.image, 'base64')));
    }
  });
});
