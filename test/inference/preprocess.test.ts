import { test } from 'node:test';
import assert from 'node:assert/strict';
import sharp from 'sharp';
import { flipHorizontal, preprocess, resizedDims, type PreprocessSpec } from '../../services/inference/preprocess.ts';

const gray28: PreprocessSpec = { channels: 1, resize: 28, crop: 28, mean: [0.286], std: [0.353], layout: 'NCHW' };
const rgb = (layout: 'NCHW' | 'NHWC', size = 8): PreprocessSpec => ({
  channels: 3, resize: size, crop: size, mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225], layout,
});

function noise(length: number, seed = 1): Buffer {
  let s = seed;
  return Buffer.from(Array.from({ length }, () => ((s = (s * 1103515245 + 12345) & 0x7fffffff) >> 16) & 0xff));
}

/** Lossless image of raw pixels; one channel is written as a real greyscale PNG. */
const png = (pixels: Buffer, width: number, height: number, channels: 1 | 3 | 4) => {
  const image = sharp(pixels, { raw: { width, height, channels } });
  return (channels === 1 ? image.toColourspace('b-w') : image).png().toBuffer();
};

const near = (a: number, b: number, eps = 1e-5) => assert.ok(Math.abs(a - b) <= eps, `${a} != ${b}`);

test('a 28x28 grey PNG gives exactly (p/255 - mean) / std, pixel for pixel', async () => {
  const pixels = noise(28 * 28);
  const image = await png(pixels, 28, 28, 1);
  assert.equal((await sharp(image).metadata()).channels, 1);
  const x = await preprocess(image, gray28);
  assert.equal(x.length, 784);
  pixels.forEach((p, i) => near(x[i]!, (p / 255 - 0.286) / 0.353));
});

test('EXIF orientation is applied before resizing and cropping', async () => {
  // Stored 40x20, left half white; orientation 6 (rotate 90° clockwise) shows it 20x40, white on top.
  const stored = Buffer.alloc(40 * 20);
  for (let y = 0; y < 20; y++) for (let x = 0; x < 20; x++) stored[y * 40 + x] = 255;
  const jpeg = await sharp(stored, { raw: { width: 40, height: 20, channels: 1 } }).jpeg({ quality: 95 }).withMetadata({ orientation: 6 }).toBuffer();
  assert.equal((await sharp(jpeg).metadata()).orientation, 6);
  const spec: PreprocessSpec = { channels: 1, resize: 20, crop: 20, mean: [0], std: [1], layout: 'NCHW' };
  const x = await preprocess(jpeg, spec);
  const rowMean = (y: number) => x.slice(y * 20, (y + 1) * 20).reduce((a, b) => a + b, 0) / 20;
  assert.ok(rowMean(2) > 0.9, `top row is white: ${rowMean(2)}`);
  assert.ok(rowMean(17) < 0.1, `bottom row is black: ${rowMean(17)}`);
});

test('RGB layouts: NCHW is planar, NHWC interleaved, same values', async () => {
  const pixels = noise(8 * 8 * 3, 7);
  const image = await png(pixels, 8, 8, 3);
  const nchw = await preprocess(image, rgb('NCHW'));
  const nhwc = await preprocess(image, rgb('NHWC'));
  const { mean, std } = rgb('NCHW');
  for (let y = 0; y < 8; y++) {
    for (let x = 0; x < 8; x++) {
      for (let c = 0; c < 3; c++) {
        const expected = (pixels[(y * 8 + x) * 3 + c]! / 255 - mean[c]!) / std[c]!;
        near(nchw[(c * 8 + y) * 8 + x]!, expected);
        near(nhwc[(y * 8 + x) * 3 + c]!, expected);
      }
    }
  }
});

test('a pure red image normalises per channel (ImageNet mean/std)', async () => {
  const red = await sharp({ create: { width: 8, height: 8, channels: 3, background: { r: 255, g: 0, b: 0 } } }).png().toBuffer();
  const x = await preprocess(red, rgb('NCHW'));
  near(x[0]!, (1 - 0.485) / 0.229);
  near(x[64]!, (0 - 0.456) / 0.224);
  near(x[128 + 63]!, (0 - 0.406) / 0.225);
});

test('channel conversion: alpha flattens onto black, grey input feeds an RGB model, RGB grey feeds a grey model', async () => {
  const transparentWhite = await sharp({ create: { width: 8, height: 8, channels: 4, background: { r: 255, g: 255, b: 255, alpha: 0 } } }).png().toBuffer();
  const x = await preprocess(transparentWhite, rgb('NHWC'));
  near(x[0]!, -0.485 / 0.229);
  near(x[2]!, -0.406 / 0.225);

  const grey = await png(Buffer.alloc(64, 51), 8, 8, 1);
  const y = await preprocess(grey, rgb('NCHW'));
  near(y[0]!, (0.2 - 0.485) / 0.229);
  near(y[64]!, (0.2 - 0.456) / 0.224);

  const rgbGrey = await sharp({ create: { width: 28, height: 28, channels: 3, background: { r: 128, g: 128, b: 128 } } }).png().toBuffer();
  const z = await preprocess(rgbGrey, gray28);
  near(z[100]!, (128 / 255 - 0.286) / 0.353, 1e-2);
});

test('resize makes the shorter side `resize` (torchvision rule), then centre-crops', async () => {
  assert.deepEqual(resizedDims(40, 30, 28), { width: 37, height: 28 });
  assert.deepEqual(resizedDims(300, 500, 256), { width: 256, height: 426 });
  assert.deepEqual(resizedDims(224, 224, 256), { width: 256, height: 256 });
  // A left-to-right ramp: after resizing and cropping the centre it still rises left to right.
  const w = 60;
  const h = 40;
  const ramp = Buffer.from(Array.from({ length: w * h }, (_, i) => Math.round(((i % w) / (w - 1)) * 255)));
  const spec: PreprocessSpec = { channels: 1, resize: 20, crop: 16, mean: [0], std: [1], layout: 'NCHW' };
  const x = await preprocess(await png(ramp, w, h, 1), spec);
  assert.equal(x.length, 16 * 16);
  // The 30x20 resize keeps columns 7..22 of 30: values near 7.5/30 .. 22.5/30.
  assert.ok(x[0]! > 0.2 && x[0]! < 0.3, `left ${x[0]}`);
  assert.ok(x[15]! > 0.7 && x[15]! < 0.8, `right ${x[15]}`);
  for (let i = 1; i < 16; i++) assert.ok(x[i]! >= x[i - 1]!);
});

test('flipHorizontal mirrors both layouts and equals preprocessing the mirrored image', async () => {
  const pixels = noise(8 * 8 * 3, 3);
  for (const layout of ['NCHW', 'NHWC'] as const) {
    const spec = rgb(layout);
    const x = await preprocess(await png(pixels, 8, 8, 3), spec);
    const mirrored = await preprocess(await sharp(pixels, { raw: { width: 8, height: 8, channels: 3 } }).flop().png().toBuffer(), spec);
    assert.deepEqual(flipHorizontal(x, spec), mirrored);
    assert.deepEqual(flipHorizontal(flipHorizontal(x, spec), spec), x);
  }
});

test('undecodable bytes are INF_UNSUPPORTED_MEDIA; too many pixels INF_PAYLOAD_TOO_LARGE', async () => {
  await assert.rejects(preprocess(Buffer.from('not an image'), gray28), { code: 'INF_UNSUPPORTED_MEDIA', statusCode: 415 });
  const big = await sharp({ create: { width: 200, height: 200, channels: 3, background: '#808080' } }).png().toBuffer();
  await assert.rejects(preprocess(big, gray28, { maxPixels: 100 * 100 }), { code: 'INF_PAYLOAD_TOO_LARGE', statusCode: 413 });
});
