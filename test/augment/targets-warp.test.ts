import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import sharp from 'sharp';
import { buildAugmentApp } from '../../services/augment/app.ts';
import { readAugmentConfig } from '../../services/augment/config.ts';
import { form } from '../helpers/form.ts';
import { makeImage } from '../helpers/images.ts';
import { decodeMask, dotCentre, greyPng, paintBoxes, regionBox } from './targets-support.ts';

const W = 96;
const H = 72;
const BOXES = [
  [10, 8, 40, 30],
  [50, 20, 90, 65],
  [4, 40, 30, 70],
];
const DOTS = [
  [20, 15],
  [70, 40],
  [15, 60],
];
const DOT_VALUES = [60, 120, 180];

/** Fixed and sampled params of the warped operations; angles and shears moderate, so no moved corner is a wedge too thin for a pixel centre. */
const CASES: Array<[string, Record<string, string | number>]> = [
  ['affine', { angle: 20, translate: '5,-3', scale: 0.9, shear: '10,5' }],
  ['affine', { angle: -30, scale: 0.85, center: '40,30', interpolation: 'nearest' }],
  ['affine', { angle_range: '-25,25', translate_range: '0.1,0.1', scale_range: '0.8,1.2', shear_range: '-10,10,-5,5', seed: 11 }],
  ['perspective', { startpoints: '[[0,0],[95,0],[95,71],[0,71]]', endpoints: '[[11,6],[83,2],[90,60],[5,69]]' }],
  ['perspective', { distortion_scale: 0.6, seed: 3 }],
  ['perspective', { distortion_scale: 0.8, seed: 5, interpolation: 'nearest' }],
  ['rotate', { angle: 30 }],
  ['rotate', { angle: -47, expand: 'true' }],
];

describe('targets through affine, perspective and rotate: masks moved with the pixels agree with the returned boxes and keypoints', () => {
  let app: FastifyInstance;
  let masks: Buffer[];
  let image: Buffer;
  before(async () => {
    app = await buildAugmentApp(readAugmentConfig({ LOG_LEVEL: 'silent' }));
    image = await makeImage(W, H, 'png');
    masks = await Promise.all(BOXES.map((box) => greyPng(paintBoxes(W, H, [{ box, value: 255 }]), W, H)));
    masks.push(await greyPng(paintBoxes(W, H, DOTS.map(([x, y], i) => ({ box: [x!, y!, x! + 1, y! + 1], value: DOT_VALUES[i]! }))), W, H));
  });
  after(() => app.close());

  for (const [op, params] of CASES) {
    test(`${op} ${JSON.stringify(params)}`, async () => {
      const res = await app.inject({
        method: 'POST',
        url: `/v1/augment/${op}`,
        body: form({ image, mask: masks, bboxes: JSON.stringify(BOXES), keypoints: JSON.stringify(DOTS.map(([x, y]) => [x! + 0.5, y! + 0.5])), min_area: 0, ...params }),
      });
      assert.equal(res.statusCode, 200, res.body);
      const { targets, params: applied } = res.json();
      const moved = await Promise.all(targets.masks.map(decodeMask));
      const boxes = new Map<number, number[]>(targets.bbox_indices.map((index: number, i: number) => [index, targets.bboxes[i]]));
      let compared = 0;
      BOXES.forEach((_, index) => {
        const region = regionBox(moved[index]!, (v) => v === 255);
        const box = boxes.get(index);
        if (!region) return assert.ok(!box || box[2]! - box[0]! <= 1 || box[3]! - box[1]! <= 1, `box ${index} ${box} shows no mask pixel (${JSON.stringify(applied)})`);
        assert.ok(box, `object ${index} shows at ${region} but no box came back`);
        region.forEach((v, i) => assert.ok(Math.abs(v - box[i]!) <= 2, `object ${index}: mask region ${region} vs box ${box} (${JSON.stringify(applied)})`));
        compared++;
      });
      assert.ok(compared >= 2, `only ${compared} boxes compared`);
      const points = new Map<number, number[]>(targets.keypoint_indices.map((index: number, i: number) => [index, targets.keypoints[i]]));
      let dots = 0;
      DOT_VALUES.forEach((value, index) => {
        const centre = dotCentre(moved[BOXES.length]!, value);
        const point = points.get(index);
        if (!centre || !point) return;
        assert.ok(Math.hypot(centre[0] - point[0]!, centre[1] - point[1]!) <= 1, `keypoint ${index}: dot at ${centre}, returned ${point}`);
        dots++;
      });
      assert.ok(dots >= 1, 'no keypoint dot was checked');
    });
  }

  test("issue 21's dot: a 5×5 white dot centred at (100.5, 80.5) of a black 512×512 image, turned 30°, lands where torchvision's F.rotate puts it, and so does its keypoint", async () => {
    const side = 512;
    const raw = Buffer.alloc(side * side);
    for (let y = 78; y < 83; y++) raw.fill(255, y * side + 98, y * side + 103);
    const png = await sharp(raw, { raw: { width: side, height: side, channels: 1 } }).toColourspace('b-w').png().toBuffer();
    const res = await app.inject({ method: 'POST', url: '/v1/augment/rotate', body: form({ image: png, angle: 30, format: 'png', keypoints: '[[100.5,80.5]]' }) });
    assert.equal(res.statusCode, 200, res.body);
    const answer = res.json();
    const { data, info } = await sharp(Buffer.from(answer.image, 'base64')).extractChannel(0).raw().toBuffer({ resolveWithObject: true });
    assert.deepEqual([info.width, info.height], [side, side]);
    let [sx, sy, sum] = [0, 0, 0];
    for (let y = 0; y < side; y++) {
      for (let x = 0; x < side; x++) {
        const v = data[y * side + x]!;
        sx += v * (x + 0.5);
        sy += v * (y + 0.5);
        sum += v;
      }
    }
    // torchvision 0.14: F.rotate(dot, 30, interpolation=BILINEAR) has its intensity centroid at (33.5853, 181.7558).
    const centroid = [sx / sum, sy / sum];
    assert.ok(Math.abs(centroid[0]! - 33.5853) < 0.01 && Math.abs(centroid[1]! - 181.7558) < 0.01, `centroid ${centroid}`);
    const [kx, ky] = answer.targets.keypoints[0];
    assert.ok(Math.abs(kx - 33.5853) < 0.01 && Math.abs(ky - 181.7558) < 0.01, `keypoint ${[kx, ky]}`);
  });

  test("expand gives torchvision's canvas: 700×700 for 512×512 at 30°", async () => {
    const png = await sharp({ create: { width: 512, height: 512, channels: 3, background: '#000' } }).png().toBuffer();
    const res = await app.inject({ method: 'POST', url: '/v1/augment/rotate', body: form({ image: png, angle: 30, expand: 'true', format: 'png' }), headers: { accept: 'application/json' } });
    assert.equal(res.statusCode, 200, res.body);
    assert.deepEqual([res.json().width, res.json().height], [700, 700]);
  });
});
