import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import type { FastifyInstance } from 'fastify';
import { buildAugmentApp } from '../../services/augment/app.ts';
import { readAugmentConfig } from '../../services/augment/config.ts';
import { form } from '../helpers/form.ts';
import { decodeMask, greyPng, paintBoxes, regionBox } from './targets-support.ts';
import { checkProperty } from '../helpers/fuzz.ts';

const FILE = 'test/augment/targets-geometry.test.ts';

/**
 * Masks follow the image: a grey image holding a white rectangle and a mask holding the same
 * rectangle go through the same operation; where the image is bright (after libvips' Lanczos or
 * bilinear resampling) and where the mask is set must agree within 1 px. This is what pins each
 * operation's stated geometry (services/augment/ops/*.geometry) to the pixels libvips makes,
 * e.g. rotate's canvas placement and the half-pixel shift of an enlargement.
 */
describe('masks land where the image\'s pixels land', () => {
  let app: FastifyInstance;
  before(async () => {
    app = await buildAugmentApp(readAugmentConfig({ LOG_LEVEL: 'silent' }));
  });
  after(() => app.close());

  const cases: Record<string, fc.Arbitrary<Record<string, string | number>>> = {
    flip: fc.record({ direction: fc.constantFrom('horizontal', 'vertical', 'both') }),
    rotate: fc.record({ angle: fc.double({ min: -180, max: 180, noNaN: true }), expand: fc.constantFrom('true', 'false') }),
    crop: fc.record({ x: fc.integer({ min: 0, max: 10 }), y: fc.integer({ min: 0, max: 10 }), width: fc.integer({ min: 30, max: 40 }), height: fc.integer({ min: 24, max: 30 }), output_width: fc.integer({ min: 12, max: 90 }), output_height: fc.integer({ min: 12, max: 90 }) }),
    scale: fc.record({ factor: fc.double({ min: 0.5, max: 3, noNaN: true }), keep_size: fc.constantFrom('true', 'false') }),
  };
  for (const [op, params] of Object.entries(cases)) {
    test(op, async (t) => {
      const [W, H] = [50, 40];
      await checkProperty(
        t,
        FILE,
        fc.asyncProperty(params, fc.integer({ min: 12, max: 20 }), fc.integer({ min: 10, max: 16 }), fc.integer({ min: 6, max: 14 }), fc.integer({ min: 6, max: 12 }), async (fields, x, y, w, h) => {
          const painted = paintBoxes(W, H, [{ box: [x, y, x + w, y + h], value: 255 }]);
          const res = await app.inject({
            method: 'POST',
            url: `/v1/augment/${op}`,
            body: form({ image: await greyPng(painted, W, H), mask: await greyPng(painted, W, H), bboxes: JSON.stringify([[x, y, x + w, y + h]]), ...fields }),
          });
          assert.equal(res.statusCode, 200, res.body);
          const answer = res.json();
          const image = await decodeMask(answer.image);
          const mask = await decodeMask(answer.targets.masks[0]);
          assert.deepEqual([mask.width, mask.height], [image.width, image.height]);
          const bright = regionBox(image, (v) => v >= 128);
          const set = regionBox(mask, (v) => v === 255);
          assert.equal(bright === undefined, set === undefined, `image region ${bright}, mask region ${set}`);
          if (bright && set) bright.forEach((v, i) => assert.ok(Math.abs(v - set[i]!) <= 1, `image region ${bright}, mask region ${set}`));
        }),
        15,
      );
    });
  }
});
