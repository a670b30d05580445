import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { sampleSeed } from '../../../services/augment/shard/seed.ts';
import { form } from '../../helpers/form.ts';
import { makeTar, readTar } from '../../helpers/tar.ts';
import { assertCloseToTorchvision, decodeRaw, expectedBytes, inputBytes } from '../../helpers/torchvision.ts';
import { filtersApp } from './filters-support.ts';

/** gaussian_blur, gaussian_noise, jpeg and erase as pipeline and shard steps. */
describe('the filters in the pipeline and the shard endpoint', () => {
  let app: FastifyInstance;
  before(async () => {
    app = await filtersApp();
  });
  after(() => app.close());

  const pipeline = (fields: Record<string, string | number | Buffer>) => app.inject({ method: 'POST', url: '/v1/augment/pipeline', body: form({ format: 'png', ...fields }) });

  test("a gaussian_blur step gives torchvision's pixels, and the applied steps replay the whole pipeline", async () => {
    const blurOnly = await pipeline({ image: inputBytes('photo'), ops: JSON.stringify([{ op: 'gaussian_blur', kernel_size: 7, sigma: 1.5 }]) });
    assert.equal(blurOnly.statusCode, 200, blurOnly.body);
    assertCloseToTorchvision(await decodeRaw(blurOnly.rawPayload), await decodeRaw(expectedBytes('filters', 'gaussian_blur-photo-k7-s1.5')), 'colour', 'pipeline step');

    const ops = [{ op: 'gaussian_blur' }, { op: 'gaussian_noise', sigma_range: '5,10' }, { op: 'erase', value: 'random' }, { op: 'jpeg', quality_range: '30,60' }];
    const first = await pipeline({ image: inputBytes('portrait'), seed: 5, ops: JSON.stringify(ops) });
    assert.equal(first.statusCode, 200, first.body);
    const { applied } = JSON.parse(first.headers['x-augment-params'] as string);
    assert.deepEqual(applied.map((s: { op: string }) => s.op), ['gaussian_blur', 'gaussian_noise', 'erase', 'jpeg']);
    const replay = await pipeline({ image: inputBytes('portrait'), seed: 77, ops: JSON.stringify(applied.map((s: { op: string; params: object }) => ({ op: s.op, ...s.params }))) });
    assert.equal(replay.statusCode, 200, replay.body);
    assert.deepEqual(replay.rawPayload, first.rawPayload);
  });

  test('bad fields in a step are a 400 naming the field, in the pipeline and, before any byte, in the shard', async () => {
    const cases: Array<[object, string, string]> = [
      [{ op: 'gaussian_blur', kernel_size: 4 }, 'AUG_INVALID_PARAM', 'kernel_size'],
      [{ op: 'gaussian_blur', kernel_size: 101 }, 'AUG_INVALID_PARAM', 'kernel_size'],
      [{ op: 'gaussian_blur', sigma: -1 }, 'AUG_INVALID_PARAM', 'sigma'],
      [{ op: 'jpeg', quality: 0 }, 'AUG_INVALID_PARAM', 'quality'],
      [{ op: 'gaussian_noise', sigma_range: '9,3' }, 'AUG_INVALID_RANGE', 'sigma_range'],
      [{ op: 'erase', ratio_range: '3,1' }, 'AUG_INVALID_RANGE', 'ratio_range'],
    ];
    const tarball = await makeTar([{ name: 'a.png', data: inputBytes('grey') }]);
    for (const [step, code, field] of cases) {
      const res = await pipeline({ image: inputBytes('grey'), ops: JSON.stringify([step]) });
      assert.equal(res.statusCode, 400, `${JSON.stringify(step)}: ${res.body}`);
      assert.equal(res.json().code, code, res.body);
      assert.ok(res.json().detail.includes(field), res.body);
      const shard = await app.inject({
        method: 'POST',
        url: `/v1/augment/shard?${new URLSearchParams({ ops: JSON.stringify([step]), seed: '1' })}`,
        headers: { 'content-type': 'application/x-tar' },
        body: tarball,
      });
      assert.equal(shard.statusCode, 400, `shard ${JSON.stringify(step)}: ${shard.body}`);
      assert.equal(shard.json().code, code, shard.body);
      assert.ok(shard.json().detail.includes(field), shard.body);
    }
  });

  test("a shard runs the filters per sample, each sample's bytes those of the pipeline route at its seed", async () => {
    const ops = [{ op: 'gaussian_noise', sigma: 8 }, { op: 'erase' }, { op: 'jpeg', quality: 40 }];
    const res = await app.inject({
      method: 'POST',
      url: `/v1/augment/shard?${new URLSearchParams({ ops: JSON.stringify(ops), seed: '9', format: 'png' })}`,
      headers: { 'content-type': 'application/x-tar' },
      body: await makeTar([{ name: 'p.png', data: inputBytes('photo') }, { name: 'g.png', data: inputBytes('grey') }]),
    });
    assert.equal(res.statusCode, 200, res.body);
    const files = new Map((await readTar(res.rawPayload)).map((m) => [m.name, m.data]));
    const summary = JSON.parse(files.get('__summary__.json')!.toString());
    assert.equal(summary.errors, 0);
    for (const key of ['p', 'g']) {
      const info = JSON.parse(files.get(`${key}.v0.json`)!.toString());
      assert.equal(info.seed, sampleSeed(9, 0, key, 0));
      assert.deepEqual(info.applied.map((s: { op: string }) => s.op), ['gaussian_noise', 'erase', 'jpeg']);
      const single = await pipeline({ image: inputBytes(key === 'p' ? 'photo' : 'grey'), ops: JSON.stringify(ops), seed: info.seed });
      assert.deepEqual(single.rawPayload, files.get(`${key}.v0.png`));
    }
  });
});
