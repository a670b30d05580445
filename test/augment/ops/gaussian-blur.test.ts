import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { defaultKernelSize, gaussianBlur, gaussianKernel1d } from '../../../services/augment/ops/gaussian-blur.ts';
import { createRng } from '../../../services/augment/random.ts';
import { assertCloseToTorchvision, decodeRaw, expectedBytes, inputBytes, torchvisionCases } from '../../helpers/torchvision.ts';
import { asFields, assertRefused, augmentPng, filtersApp } from './filters-support.ts';

describe('gaussian_blur', () => {
  let app: FastifyInstance;
  before(async () => {
    app = await filtersApp();
  });
  after(() => app.close());

  for (const c of torchvisionCases('filters').filter((c) => c.op === 'gaussian_blur')) {
    test(`${c.name}: torchvision's F.gaussian_blur through the HTTP route`, async (t) => {
      const { raw, params } = await augmentPng(app, 'gaussian_blur', inputBytes(c.input), asFields(c.params));
      assert.deepEqual(params, c.params);
      const d = assertCloseToTorchvision(raw, await decodeRaw(expectedBytes('filters', c.name)), c.tolerance, c.name);
      t.diagnostic(`mean |difference| ${d.mean.toFixed(4)}, max ${d.max}`);
    });
  }

  test("the kernel is torchvision's _get_gaussian_kernel1d (sums to 1, symmetric, peak at the centre)", () => {
    const k = gaussianKernel1d(5, 1);
    // torch.exp(-0.5 * (linspace(-2, 2, 5) / 1) ** 2) normalised, from torchvision 0.14.
    const torch = [0.05448868, 0.24420135, 0.40261996, 0.24420135, 0.05448868];
    k.forEach((v, i) => assert.ok(Math.abs(v - torch[i]!) < 1e-7, `${i}: ${v}`));
  });

  test('sigma is drawn from sigma_range (default 0.1–2.0), kernel_size defaults to 2·ceil(3σ)+1 within 3–99; seeds and replay', async () => {
    const size = { width: 10, height: 10 };
    const sigmas = Array.from({ length: 200 }, (_, seed) => gaussianBlur.sample(createRng(seed), size, {}, {}));
    for (const { sigma, kernel_size } of sigmas) {
      assert.ok(sigma >= 0.1 && sigma < 2.0, String(sigma));
      assert.equal(kernel_size, defaultKernelSize(sigma));
    }
    assert.ok(Math.min(...sigmas.map((s) => s.sigma)) < 0.3 && Math.max(...sigmas.map((s) => s.sigma)) > 1.8);
    assert.deepEqual([defaultKernelSize(0.1), defaultKernelSize(1), defaultKernelSize(40)], [3, 7, 99]);
    assert.deepEqual(gaussianBlur.sample(createRng(3), size, { kernel_size: 9, sigma_range: [1, 1] }, {}), { kernel_size: 9, sigma: 1 });

    const image = inputBytes('photo');
    const first = await augmentPng(app, 'gaussian_blur', image, { seed: 11 });
    const again = await augmentPng(app, 'gaussian_blur', image, { seed: 11 });
    assert.deepEqual(again.bytes, first.bytes);
    const replay = await augmentPng(app, 'gaussian_blur', image, { seed: 99, ...asFields(first.params) });
    assert.deepEqual(replay.bytes, first.bytes);
    const other = await augmentPng(app, 'gaussian_blur', image, { seed: 12 });
    assert.notDeepEqual(other.params, first.params);
  });

  test('bad input is a 400 naming the field', async () => {
    const image = inputBytes('grey');
    await assertRefused(app, 'gaussian_blur', image, { kernel_size: 4 }, 'AUG_INVALID_PARAM', 'kernel_size');
    await assertRefused(app, 'gaussian_blur', image, { kernel_size: 1 }, 'AUG_INVALID_PARAM', 'kernel_size');
    await assertRefused(app, 'gaussian_blur', image, { kernel_size: 101 }, 'AUG_INVALID_PARAM', 'kernel_size');
    await assertRefused(app, 'gaussian_blur', image, { sigma: -1 }, 'AUG_INVALID_PARAM', 'sigma');
    await assertRefused(app, 'gaussian_blur', image, { sigma: 0 }, 'AUG_INVALID_PARAM', 'sigma');
    await assertRefused(app, 'gaussian_blur', image, { sigma_range: '2,1' }, 'AUG_INVALID_RANGE', 'sigma_range');
    await assertRefused(app, 'gaussian_blur', image, { sigma_range: '-1,1' }, 'AUG_INVALID_PARAM', 'sigma_range[0]');
  });
});
