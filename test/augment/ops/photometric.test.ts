import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import sharp from 'sharp';
import { buildAugmentApp } from '../../../services/augment/app.ts';
import { readAugmentConfig } from '../../../services/augment/config.ts';
import * as photometric from '../../../services/augment/ops/photometric.ts';
import type { RawImage } from '../../../services/augment/ops/types.ts';
import { form } from '../../helpers/form.ts';
import { assertCloseToTorchvision, decodeRaw, expectedBytes, inputBytes, torchvisionCases, type Difference } from '../../helpers/torchvision.ts';
import { CHANNELS, assertSameImage, makeImage } from './fixtures.ts';

/** Applied params as form fields: lists comma-joined. */
function asFields(params: Record<string, unknown>): Record<string, string | number> {
  return Object.fromEntries(Object.entries(params).map(([k, v]) => [k, Array.isArray(v) ? v.join(',') : (v as string | number)]));
}

describe('colour operations through POST /v1/augment/{op}, against torchvision 0.14 (fixtures: colour)', () => {
  let app: FastifyInstance;
  const measured = new Map<string, Array<Difference & { input: string }>>();
  before(async () => {
    app = await buildAugmentApp(readAugmentConfig({ LOG_LEVEL: 'silent' }));
  });
  after(() => app.close());

  for (const c of torchvisionCases('colour')) {
    test(c.name, async (t) => {
      const res = await app.inject({
        method: 'POST',
        url: `/v1/augment/${c.op}`,
        body: form({ image: inputBytes(c.input), format: 'png', seed: 1, ...asFields(c.params) }),
      });
      assert.equal(res.statusCode, 200, res.body);
      // Replayed params come back as they were sent.
      assert.deepEqual(JSON.parse(String(res.headers['x-augment-params'])).params, c.op === 'grayscale' ? c.params : { ...c.params });
      // Channels as encoded (decodeRaw expands grey to RGB): grey stays grey where torchvision keeps it so.
      const expectedBytesOf = expectedBytes('colour', c.name);
      assert.equal((await sharp(res.rawPayload).metadata()).channels, (await sharp(expectedBytesOf).metadata()).channels, 'channels');
      const actual = await decodeRaw(res.rawPayload);
      const expected = await decodeRaw(expectedBytesOf);
      const d = assertCloseToTorchvision(actual, expected, c.tolerance, c.name);
      t.diagnostic(`mean ${d.mean.toFixed(4)}, max ${d.max}`);
      const list = measured.get(c.op) ?? [];
      list.push({ ...d, input: c.input });
      measured.set(c.op, list);
    });
  }

  test('every colour operation was compared on the photo and on grey; the figures per operation', (t) => {
    const ops = ['brightness', 'contrast', 'saturation', 'hue', 'color_jitter', 'sharpness', 'gamma', 'posterize', 'solarize', 'equalize', 'autocontrast', 'invert', 'grayscale'];
    for (const op of ops) {
      const list = measured.get(op) ?? [];
      assert.ok(list.some((d) => d.input === 'photo') && list.some((d) => d.input === 'grey'), `${op}: photo and grey cases`);
      const mean = list.reduce((sum, d) => sum + d.mean, 0) / list.length;
      t.diagnostic(`${op}: ${list.length} cases, mean |difference| ${mean.toFixed(4)} (worst case ${Math.max(...list.map((d) => d.mean)).toFixed(4)}), max ${Math.max(...list.map((d) => d.max))}`);
    }
  });
});

type Fn = (image: RawImage) => RawImage;
const FUNCTIONS: Array<[string, Fn]> = [
  ['adjustBrightness', (i) => photometric.adjustBrightness(i, 1.4)],
  ['adjustContrast', (i) => photometric.adjustContrast(i, 0.6)],
  ['adjustSaturation', (i) => photometric.adjustSaturation(i, 1.7)],
  ['adjustHue', (i) => photometric.adjustHue(i, 0.3)],
  ['adjustSharpness', (i) => photometric.adjustSharpness(i, 2)],
  ['adjustGamma', (i) => photometric.adjustGamma(i, 0.6, 1.1)],
  ['posterize', (i) => photometric.posterize(i, 3)],
  ['solarize', (i) => photometric.solarize(i, 100)],
  ['autocontrast', (i) => photometric.autocontrast(i)],
  ['equalize', (i) => photometric.equalize(i)],
  ['invert', (i) => photometric.invert(i)],
  ['rgbToGrayscale 1', (i) => photometric.rgbToGrayscale(i, 1)],
  ['rgbToGrayscale 3', (i) => photometric.rgbToGrayscale(i, 3)],
];

/** The colour channels alone (alpha dropped). */
function withoutAlpha(image: RawImage): RawImage {
  const colours = image.channels < 3 ? 1 : 3;
  if (colours === image.channels) return image;
  const data = Buffer.alloc(image.width * image.height * colours);
  for (let p = 0; p < image.width * image.height; p++) image.data.copy(data, p * colours, p * image.channels, p * image.channels + colours);
  return { data, width: image.width, height: image.height, channels: colours as 1 | 3 };
}
function alphaOf(image: RawImage): Buffer {
  const out = Buffer.alloc(image.width * image.height);
  for (let p = 0; p < out.length; p++) out[p] = image.data[p * image.channels + image.channels - 1]!;
  return out;
}

describe('ops/photometric: pure, alpha kept, grey semantics', () => {
  for (const [name, fn] of FUNCTIONS) {
    test(`${name}: leaves its input untouched; on grey+alpha and RGBA changes the colour channels as without alpha, keeps alpha`, async () => {
      for (const channels of CHANNELS) {
        const image = await makeImage(23, 17, channels, 5);
        const before = Buffer.from(image.data);
        const out = fn(image);
        assert.ok(image.data.equals(before), `${channels} channels: input changed`);
        assert.notEqual(out.data, image.data);
        if (channels === 2 || channels === 4) {
          assert.ok(alphaOf(out).equals(alphaOf(image)), `${channels} channels: alpha`);
          assertSameImage(withoutAlpha(out), fn(withoutAlpha(image)), `${channels} channels: colour channels`);
        }
      }
    });
  }

  test('saturation and hue leave grey unchanged; grey through contrast, equalize and the rest stays one channel', async () => {
    const grey = await makeImage(19, 11, 1, 3);
    assertSameImage(photometric.adjustSaturation(grey, 3), grey);
    assertSameImage(photometric.adjustHue(grey, -0.4), grey);
    for (const [name, fn] of FUNCTIONS.filter(([n]) => n !== 'rgbToGrayscale 3')) assert.equal(fn(grey).channels, 1, name);
    const three = photometric.rgbToGrayscale(grey, 3);
    assert.equal(three.channels, 3);
    for (let p = 0; p < 19 * 11; p++) assert.deepEqual([...three.data.subarray(p * 3, p * 3 + 3)], [grey.data[p], grey.data[p], grey.data[p]]);
  });

  test('identities: brightness, contrast, saturation and sharpness at 1, posterize 8 bits, gamma 1 and gain 1, solarize above 255', async () => {
    const image = await makeImage(21, 13, 3, 9);
    for (const out of [
      photometric.adjustBrightness(image, 1),
      photometric.adjustContrast(image, 1),
      photometric.adjustSaturation(image, 1),
      photometric.adjustSharpness(image, 1),
      photometric.posterize(image, 8),
      photometric.adjustGamma(image, 1, 1),
      photometric.solarize(image, 256),
    ]) assertSameImage(out, image);
  });

  test('sharpness keeps the one-pixel border at factor 0 and leaves images of side 2 or less unchanged', async () => {
    const image = await makeImage(9, 7, 3, 2);
    const smooth = photometric.adjustSharpness(image, 0);
    for (let x = 0; x < 9; x++) for (const y of [0, 6]) for (let c = 0; c < 3; c++) assert.equal(smooth.data[(y * 9 + x) * 3 + c], image.data[(y * 9 + x) * 3 + c]);
    assert.ok(!smooth.data.equals(image.data));
    const thin = await makeImage(9, 2, 3, 2);
    assertSameImage(photometric.adjustSharpness(thin, 0), thin);
  });
});
