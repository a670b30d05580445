import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { buildAugmentApp } from '../../services/augment/app.ts';
import { readAugmentConfig } from '../../services/augment/config.ts';
import { form, type FormPart } from '../helpers/form.ts';
import { makeImage } from '../helpers/images.ts';
import { makeTar, readTar, type TarMember } from '../helpers/tar.ts';

const MOSAIC = [{ op: 'mosaic', output_width: 64, output_height: 64 }, { op: 'flip', p: 0.5 }];
const MIXUP = [{ op: 'mixup', alpha: 32 }, { op: 'rotate', angle_range: [-10, 10] }];

describe('mixup and mosaic in /v1/augment/pipeline and /v1/augment/shard', () => {
  let app: FastifyInstance;
  let images: Buffer[];
  before(async () => {
    app = await buildAugmentApp(readAugmentConfig({ LOG_LEVEL: 'silent', SHARD_CONCURRENCY: '3' }));
    images = await Promise.all([[48, 32], [30, 40], [25, 25], [40, 22], [33, 33]].map(([w, h]) => makeImage(w!, h!, 'png')));
  });
  after(() => app.close());

  const pipeline = (fields: Record<string, FormPart | FormPart[] | undefined>) =>
    app.inject({ method: 'POST', url: '/v1/augment/pipeline', headers: { accept: 'application/json' }, body: form({ format: 'png', ...fields }) });

  test('pipeline steps: mosaic with three mix_image, mixup with one; seeded, replayed by the single routes, targets carried', async () => {
    const mosaic = await pipeline({
      image: images[0], mix_image: images.slice(1, 4), ops: JSON.stringify(MOSAIC), seed: 5,
      bboxes: '[[0,0,48,32]]', mix_bboxes: ['[[0,0,30,40]]', '[]', '[[0,0,40,22]]'],
    });
    assert.equal(mosaic.statusCode, 200, mosaic.body);
    const [variant] = mosaic.json().variants;
    assert.equal(variant.width, 64);
    assert.equal(variant.applied[0].op, 'mosaic');
    assert.equal(variant.applied[0].params.tiles.length, 4);
    // Every image's one box covers its whole image, so it covers its whole cell: boxes 0, 1 and 3 (mix image 2 has none).
    assert.deepEqual(variant.targets.bbox_indices, [0, 1, 2]);
    const again = await pipeline({ image: images[0], mix_image: images.slice(1, 4), ops: JSON.stringify(MOSAIC), seed: 5 });
    assert.equal(again.json().variants[0].image, variant.image);
    // The mosaic step alone, replayed on its own route, gives the pipeline's first step.
    const step = variant.applied[0].params;
    const alone = await pipeline({ image: images[0], mix_image: images.slice(1, 4), ops: JSON.stringify([{ op: 'mosaic', ...step, center: step.center.join(','), tiles: undefined }]) });
    const single = await app.inject({ method: 'POST', url: '/v1/augment/mosaic', headers: { accept: 'application/json' }, body: form({ image: images[0], mix_image: images.slice(1, 4), format: 'png', output_width: 64, output_height: 64, center: step.center.join(',') }) });
    assert.equal(single.statusCode, 200, single.body);
    assert.equal(alone.json().variants[0].image, single.json().image);

    const mixup = await pipeline({ image: images[0], mix_image: images[1], ops: JSON.stringify(MIXUP), seed: 6, count: 2 });
    assert.equal(mixup.statusCode, 200, mixup.body);
    const lambdas = mixup.json().variants.map((v: { applied: Array<{ params: { lambda: number } }> }) => v.applied[0]!.params.lambda);
    assert.notEqual(lambdas[0], lambdas[1]);
    for (const l of lambdas) assert.ok(l > 0.2 && l < 0.8, String(l));
  });

  test('pipeline refusals: mosaic without its three mix_image, mixup without one, mosaic with mixup', async () => {
    const cases: Array<[Record<string, FormPart | FormPart[] | undefined>, string]> = [
      [{ image: images[0], mix_image: images.slice(1, 3), ops: JSON.stringify(MOSAIC) }, 'mix_image'],
      [{ image: images[0], ops: JSON.stringify(MIXUP) }, 'mix_image'],
      [{ image: images[0], mix_image: images.slice(1, 3), ops: JSON.stringify(MIXUP) }, 'mix_image'],
      [{ image: images[0], mix_image: images.slice(1, 4), ops: JSON.stringify([...MOSAIC, ...MIXUP]) }, 'ops[2].op'],
      [{ image: images[0], mix_image: images.slice(1, 4), ops: JSON.stringify(MOSAIC), mix_bboxes: '[]' }, 'mix_bboxes'],
    ];
    for (const [fields, name] of cases) {
      const res = await pipeline(fields);
      assert.equal(res.statusCode, 400, `${fields.ops}: ${res.body}`);
      assert.equal(res.json().param, name, res.body);
    }
  });

  const shardOf = async (order: number[]) => {
    const members: TarMember[] = order.flatMap((k) => [
      { name: `s${k}.png`, data: images[k] },
      { name: `s${k}.json`, data: JSON.stringify({ bboxes: [[1, 1, 20, 20]], bbox_labels: [`b${k}`] }) },
    ]);
    return makeTar(members);
  };
  const shard = async (tarBody: Buffer, ops: unknown, variants = 2) => {
    const q = new URLSearchParams({ ops: JSON.stringify(ops), seed: '3', variants: String(variants) });
    const res = await app.inject({ method: 'POST', url: `/v1/augment/shard?${q}`, headers: { 'content-type': 'application/x-tar' }, body: tarBody });
    assert.equal(res.statusCode, 200, res.body);
    return new Map((await readTar(res.rawPayload)).map((m) => [m.name, m.data]));
  };

  for (const [name, ops, partners] of [['mosaic', MOSAIC, 3], ['mixup', MIXUP, 1]] as const) {
    test(`shard with ${name}: partners drawn from the same shard by the sample's seed; the pipeline route with that seed and those partners gives the same bytes; any order gives the same samples`, async () => {
      const files = await shard(await shardOf([0, 1, 2, 3, 4]), ops);
      const shuffled = await shard(await shardOf([3, 0, 4, 2, 1]), ops);
      let compared = 0;
      for (const [member, data] of files) {
        if (member === '__summary__.json') continue;
        assert.ok(!member.endsWith('.error.json'), data.toString());
        assert.deepEqual(shuffled.get(member), data, member);
        compared++;
      }
      assert.equal(compared, 5 * 2 * 2);
      const seen = new Set<string>();
      for (const k of [0, 1, 2, 3, 4]) {
        for (const v of [0, 1]) {
          const info = JSON.parse(files.get(`s${k}.v${v}.json`)!.toString());
          assert.equal(info.partners.length, partners);
          for (const p of info.partners) {
            assert.notEqual(p, `s${k}`);
            seen.add(p);
          }
          // The sample's own box first, then each partner's, numbered in partner order.
          const indices: number[] = info.targets.bbox_indices;
          assert.ok(indices.length > 0 && indices.every((i, j) => i <= partners && (j === 0 || i > indices[j - 1]!)), JSON.stringify(indices));
          assert.ok(info.targets.bbox_labels.every((l: string, j: number) => l === (info.targets.bbox_indices[j] === 0 ? `b${k}` : `b${info.partners[info.targets.bbox_indices[j] - 1].slice(1)}`)), JSON.stringify(info));
          const mixImages = info.partners.map((p: string) => images[Number(p.slice(1))]!);
          const same = await app.inject({ method: 'POST', url: '/v1/augment/pipeline', body: form({ image: images[k], mix_image: mixImages, ops: JSON.stringify(ops), seed: info.seed, format: 'png' }) });
          assert.equal(same.statusCode, 200, same.body);
          assert.deepEqual(same.rawPayload, files.get(`s${k}.v${v}.png`), `s${k}.v${v}`);
        }
      }
      assert.ok(seen.size >= 3, `partners vary: ${[...seen]}`);
      // One sample at a time instead of three: the same answer, member for member.
      const serial = await buildAugmentApp(readAugmentConfig({ LOG_LEVEL: 'silent', SHARD_CONCURRENCY: '1' }));
      try {
        const q = new URLSearchParams({ ops: JSON.stringify(ops), seed: '3', variants: '2' });
        const res = await serial.inject({ method: 'POST', url: `/v1/augment/shard?${q}`, headers: { 'content-type': 'application/x-tar' }, body: await shardOf([0, 1, 2, 3, 4]) });
        const again = (await readTar(res.rawPayload)).filter((m) => m.name !== '__summary__.json');
        assert.deepEqual(again.map((m) => m.name), [...files.keys()].filter((n) => n !== '__summary__.json'));
        for (const m of again) assert.deepEqual(m.data, files.get(m.name), m.name);
      } finally {
        await serial.close();
      }
    });
  }

  test('shard: a sample alone mixes with itself; mosaic with mixup is refused before any answer', async () => {
    const files = await shard(await shardOf([2]), MIXUP, 1);
    assert.deepEqual(JSON.parse(files.get('s2.v0.json')!.toString()).partners, ['s2']);
    const q = new URLSearchParams({ ops: JSON.stringify([...MOSAIC, ...MIXUP]), seed: '3' });
    const res = await app.inject({ method: 'POST', url: `/v1/augment/shard?${q}`, headers: { 'content-type': 'application/x-tar' }, body: await shardOf([0, 1]) });
    assert.equal(res.statusCode, 400);
    assert.equal(res.json().param, 'ops[2].op');
  });
});
