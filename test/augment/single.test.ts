import { test } from 'node:test';
import assert from 'node:assert/strict';
import sharp from 'sharp';
import { intakeErrors } from '../../services/augment/errors.ts';
import { operations } from '../../services/augment/ops/index.ts';
import type { OpName } from '../../services/augment/ops/types.ts';
import { createRng } from '../../services/augment/random.ts';
import { augmentOne, pipelineSource } from '../../services/augment/single.ts';
import {
  decodeImage,
  defaultOutputFormat,
  encodeImage,
  inspectImage,
  transcodable,
  type IntakeLimits,
} from '../../services/shared/intake.ts';
import { makeImage, pixels } from '../helpers/images.ts';

const limits: IntakeLimits = { fileBytes: 1 << 26, files: 2, fieldBytes: 1 << 16, fields: 50, inputPixels: 1 << 26 };

/** The raw path, step by step: decode to pixels, apply, encode. The one-pass path must match it. */
async function viaRaw(op: OpName, bytes: Buffer, params: Record<string, unknown>) {
  const input = await decodeImage(bytes, limits, intakeErrors);
  const resolved = operations[op].sample(createRng(1), { width: input.raw.width, height: input.raw.height }, params, {});
  return encodeImage(await operations[op].apply(input.raw, resolved as never, {}), input.format);
}

async function onePass(op: OpName, bytes: Buffer, params: Record<string, unknown>) {
  const meta = await inspectImage(bytes, limits, intakeErrors);
  const resolve = (size: { width: number; height: number }) => operations[op].sample(createRng(1), size, params, {}) as Record<string, unknown>;
  const out = await augmentOne({ op, bytes, meta, resolve, ctx: {}, format: defaultOutputFormat(meta), quality: undefined, limits });
  const resolved = resolve({ width: meta.autoOrient?.width ?? meta.width, height: meta.autoOrient?.height ?? meta.height });
  return { out, fused: transcodable(meta) && operations[op].transform?.(resolved as never, meta.autoOrient!, pipelineSource(meta)) !== undefined };
}

const profiled = new Set(['JPEG with a Display P3 profile']);

async function inputs(): Promise<[string, Buffer][]> {
  const rgb = await makeImage(97, 61, 'png');
  const list: [string, Buffer][] = [
    ['RGB PNG', rgb],
    ['grey PNG', await makeImage(97, 61, 'png', 1)],
    ['RGB JPEG', await makeImage(97, 61, 'jpeg')],
    ['grey JPEG', await makeImage(97, 61, 'jpeg', 1)],
    ['RGB WebP', await makeImage(97, 61, 'webp')],
    ['JPEG with a Display P3 profile', await sharp(rgb).withIccProfile('p3').jpeg().toBuffer()],
    // Large enough that a JPEG shrink-on-load would kick in for the 0.3 scale.
    ['800×600 JPEG', await sharp(await makeImage(800, 600, 'png')).jpeg({ quality: 90 }).toBuffer()],
  ];
  return list;
}

const CASES: [OpName, Record<string, unknown>][] = [
  ['flip', { direction: 'horizontal' }],
  ['flip', { direction: 'vertical' }],
  ['flip', { direction: 'both' }],
  ['flip', { direction: 'none' }],
  ['crop', { x: 5, y: 7, width: 40, height: 30 }],
  ['crop', { x: 3, y: 2, width: 50, height: 40, output_width: 64, output_height: 48 }],
  ['scale', { factor: 0.3, keep_size: false }],
  ['scale', { factor: 1.3, keep_size: false }],
  ['scale', { factor: 1.7, keep_size: true }],
  ['rotate', { angle: 17, fill: '#3366cc' }],
  ['rotate', { angle: -123.5, fill: '#ff8000', expand: true }],
  ['rotate', { angle: 180 }],
  ['rotate', { angle: 90, expand: true }],
  ['rotate', { angle: 0 }],
];

test('one-pass flip, rotate, crop and scale give the pixels of decode → apply → encode, on every plain input', async () => {
  for (const [name, bytes] of await inputs()) {
    for (const [op, params] of CASES) {
      const label = `${name}, ${op} ${JSON.stringify(params)}`;
      const { out, fused } = await onePass(op, bytes, params);
      // Rotate is one libvips pass only as a pixel permutation (a quarter turn); other angles are
      // the warp over raw pixels, on any upload.
      const warped = op === 'rotate' && (params.angle as number) % 90 !== 0;
      assert.equal(fused, !warped, `${label}: one pass or not`);
      const [got, want] = await Promise.all([pixels(out.bytes), viaRaw(op, bytes, params).then(pixels)]);
      assert.deepEqual([got.width, got.height, got.channels], [want.width, want.height, want.channels], label);
      assert.deepEqual([out.width, out.height], [want.width, want.height], `${label}: reported size`);
      assert.ok(got.data.equals(want.data), `${label}: pixels differ`);
    }
  }
});

test('rotate is one pass only where it is a pixel permutation, at every angle the same pixels as the raw path', async () => {
  const jpeg = await makeImage(97, 61, 'jpeg');
  for (let angle = -360; angle <= 360; angle += 7.5) {
    for (const expand of [false, true]) {
      const params = { angle, fill: '#808080', expand };
      const { out, fused } = await onePass('rotate', jpeg, params);
      const [got, want] = await Promise.all([pixels(out.bytes), viaRaw('rotate', jpeg, params).then(pixels)]);
      // 97 − 61 is even: a quarter turn without expand lands on pixel centres but needs padding back to size.
      const permutation = angle % 90 === 0 && (expand || angle % 180 === 0);
      assert.equal(fused, permutation, `angle ${angle}, expand ${expand}: one pass exactly for a permutation that needs no padding`);
      assert.deepEqual([got.width, got.height], [want.width, want.height], `angle ${angle}, expand ${expand}: size`);
      assert.ok(got.data.equals(want.data), `angle ${angle}, expand ${expand}: pixels differ`);
    }
  }
});

test('inputs and operations one pass cannot do exactly go through raw pixels, with the same answer as before', async () => {
  const alpha = await makeImage(40, 30, 'png', 4);
  const gif = await makeImage(40, 30, 'gif');
  const sixteenBit = await sharp(await makeImage(40, 30, 'png')).png().toColourspace('rgb16').toBuffer();
  const rotated = await sharp(await makeImage(40, 30, 'png')).jpeg().withMetadata({ orientation: 6 }).toBuffer();
  for (const [name, bytes] of [['RGBA PNG', alpha], ['GIF', gif], ['16-bit PNG', sixteenBit], ['EXIF orientation 6', rotated]] as const) {
    assert.equal(transcodable(await inspectImage(bytes, limits, intakeErrors)), false, name);
    const { out, fused } = await onePass('flip', bytes, { direction: 'horizontal' });
    assert.equal(fused, false, name);
    assert.ok((await pixels(out.bytes)).data.equals((await pixels(await viaRaw('flip', bytes, { direction: 'horizontal' }))).data), name);
  }
  // Padding (a zoom out that keeps the size, a quarter turn of a non-square image that keeps it)
  // and painting (cutout) work on raw pixels.
  const jpeg = await makeImage(40, 30, 'jpeg');
  for (const [op, params] of [
    ['scale', { factor: 0.5, keep_size: true, fill: '#ff0000' }],
    ['rotate', { angle: 90, fill: '#ff0000' }],
    ['rotate', { angle: 80, fill: '#ff0000' }],
    ['cutout', { boxes: [[3, 4, 20, 15]], fill: '#00ff00' }],
  ] as const) {
    const { out, fused } = await onePass(op, jpeg, params);
    assert.equal(fused, false, `${op} ${JSON.stringify(params)}`);
    assert.ok((await pixels(out.bytes)).data.equals((await pixels(await viaRaw(op, jpeg, params))).data), `${op} ${JSON.stringify(params)}`);
  }
});

test('a truncated upload whose header reads fails the one pass with the intake 415, not a 500', async () => {
  const jpeg = await sharp(await makeImage(300, 200, 'png')).jpeg().toBuffer();
  const truncated = jpeg.subarray(0, Math.floor(jpeg.length / 2));
  const meta = await inspectImage(truncated, limits, intakeErrors);
  await assert.rejects(
    augmentOne({ op: 'flip', bytes: truncated, meta, resolve: () => ({ direction: 'horizontal' }), ctx: {}, format: 'jpeg', quality: undefined, limits }),
    { code: 'AUG_UNSUPPORTED_MEDIA', statusCode: 415 },
  );
});

test('cutout and CutMix paint the decoded upload in place with the pixels apply gives, and apply leaves its input untouched', async () => {
  const rgb = await decodeImage(await makeImage(97, 61, 'png'), limits, intakeErrors);
  const grey = await decodeImage(await makeImage(97, 61, 'png', 1), limits, intakeErrors);
  const mix = (await decodeImage(await makeImage(50, 40, 'jpeg'), limits, intakeErrors)).raw;
  const cases: [OpName, Record<string, unknown>][] = [
    ['cutout', { boxes: [[3, 4, 20, 15], [90, 50, 97, 61]], fill: '#00ff80' }],
    ['cutout', { boxes: [[10, 10, 10, 30]] }],
    ['cutmix', { box: [5, 6, 60, 41] }],
    ['cutmix', { box: [0, 0, 0, 0] }],
  ];
  for (const image of [rgb.raw, grey.raw]) {
    for (const [op, params] of cases) {
      const label = `${op} ${JSON.stringify(params)} on ${image.channels} channel(s)`;
      const ctx = { mix };
      const resolved = operations[op].sample(createRng(1), image, params, ctx) as never;
      const before = Buffer.from(image.data);
      const applied = await operations[op].apply(image, resolved, ctx);
      assert.ok(image.data.equals(before), `${label}: apply changed its input`);
      const owned = { ...image, data: Buffer.from(image.data) };
      await operations[op].paint!(owned, resolved, ctx);
      assert.ok(owned.data.equals(applied.data), label);
      // A real change was painted (where the box is not empty), so the comparison can fail.
      const [x1, y1, x2, y2] = (op === 'cutout' ? (params.boxes as number[][])[0] : params.box) as number[];
      if (x1! < x2! && y1! < y2!) assert.ok(!owned.data.equals(before), `${label}: nothing painted`);
    }
  }
});
