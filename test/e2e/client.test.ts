import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import sharp from 'sharp';
import { AugserveError, createAugserveClient, imageType, type AugserveClient } from '../../client/index.ts';
import { makeImage, pixels } from '../helpers/images.ts';
import { inferenceMissing, startAugment, startInference, type Running } from './servers.ts';

test('imageType tells each input format from its first bytes, and nothing from other bytes', async () => {
  for (const format of ['jpeg', 'png', 'webp', 'gif', 'tiff', 'avif'] as const) {
    assert.equal(await imageType(await makeImage(8, 8, format)), `image/${format}`);
  }
  assert.equal(await imageType(new TextEncoder().encode('<svg xmlns="http://www.w3.org/2000/svg"/>')), undefined);
  assert.equal(await imageType(new Blob([new Uint8Array([1, 2, 3])], { type: 'image/webp' })), 'image/webp');
});

describe('typed client against a listening augment service', () => {
  let server: Running;
  let client: AugserveClient;
  let photo: Buffer;

  before(async () => {
    server = await startAugment();
    client = createAugserveClient({ baseUrl: server.url });
    photo = await makeImage(61, 40, 'png');
  });
  after(() => server.app.close());

  test('flip: the columns come back mirrored, and the applied params are parsed', async () => {
    const { bytes, contentType, applied } = await client.augment('flip', photo, { direction: 'horizontal', seed: 5 });
    assert.equal(contentType, 'image/png');
    assert.deepEqual(applied, { op: 'flip', seed: 5, params: { direction: 'horizontal' } });
    const [input, output] = [await pixels(photo), await pixels(Buffer.from(bytes))];
    assert.deepEqual([output.width, output.height], [input.width, input.height]);
    const { width, channels } = input;
    for (let y = 0; y < input.height; y++) {
      for (let x = 0; x < width; x++) {
        const a = (y * width + x) * channels;
        const b = (y * width + (width - 1 - x)) * channels;
        assert.ok(input.data.subarray(a, a + channels).equals(output.data.subarray(b, b + channels)), `pixel (${x},${y}) is not mirrored`);
      }
    }
  });

  test('flip with targets: COCO boxes, numeric labels and a mask come back moved, with the image', async () => {
    const mask = await sharp(Buffer.alloc(61 * 40, 0).fill(9, 0, 10), { raw: { width: 61, height: 40, channels: 1 } }).toColourspace('b-w').png().toBuffer();
    const { bytes, applied, targets } = await client.augment('flip', photo, {
      direction: 'horizontal', seed: 5, bbox_format: 'coco', bboxes: [[1, 2, 10, 20]], bbox_labels: [7], keypoints: [[1, 1]], masks: [mask],
    });
    assert.deepEqual(applied, { op: 'flip', seed: 5, params: { direction: 'horizontal' } });
    assert.deepEqual((await pixels(Buffer.from(bytes))).width, 61);
    assert.deepEqual(targets?.bboxes, [[50, 2, 10, 20]]);
    assert.deepEqual(targets?.bbox_labels, [7]);
    assert.deepEqual(targets?.keypoints, [[60, 1]]);
    const moved = await sharp(Buffer.from(targets!.masks[0]!, 'base64')).extractChannel(0).raw().toBuffer();
    assert.deepEqual([...moved.subarray(0, 61)], [...Array(51).fill(0), ...Array(10).fill(9)]);
  });

  test('pipeline with targets: each variant carries its boxes, moved by its own steps', async () => {
    const { variants } = await client.pipeline(photo, [{ op: 'flip', direction: 'random' }, { op: 'crop', width: 30, height: 20 }], { count: 3, seed: 2, bboxes: [[0, 0, 61, 40]], bbox_labels: ['all'] });
    assert.equal(variants.length, 3);
    for (const variant of variants) {
      // The whole-image box becomes the whole crop, whatever the flip and the crop's place.
      assert.deepEqual(variant.targets?.bboxes, [[0, 0, 30, 20]]);
      assert.deepEqual(variant.targets?.bbox_labels, ['all']);
    }
  });

  test('rotate: replaying the applied params through the client gives the same pixels', async () => {
    const first = await client.augment('rotate', photo, { angle_range: [-40, 40], fill: '#336699' });
    const replay = await client.augment('rotate', photo, first.applied.params);
    assert.equal(typeof first.applied.params.angle, 'number');
    assert.ok((await pixels(Buffer.from(first.bytes))).data.equals((await pixels(Buffer.from(replay.bytes))).data));
  });

  test('cutmix with a Blob mix image, answered as JSON', async () => {
    const other = new Blob([new Uint8Array(await makeImage(30, 50, 'png', 4))], { type: 'image/png' });
    const result = await client.augmentJson('cutmix', photo, { lambda: 0.5, label: 1, mix_label: 2, num_classes: 3, format: 'webp' }, { mixImage: other });
    assert.equal(result.op, 'cutmix');
    assert.equal(result.contentType, 'image/webp');
    assert.deepEqual([result.width, result.height], [61, 40]);
    const mixed = result.params.mixed_label as number[];
    assert.equal(mixed.length, 3);
    assert.ok(Math.abs(mixed.reduce((sum, p) => sum + p, 0) - 1) < 1e-9);
  });

  test('mixup and mosaic: one mix image, then three with a box list each', async () => {
    const other = await makeImage(30, 50, 'png');
    const mixed = await client.augmentJson('mixup', photo, { lambda: 0.25, label: 0, mix_label: 1, num_classes: 2 }, { mixImage: other });
    assert.deepEqual(mixed.params.label_vector, [0.25, 0.75]);
    const grid = await client.augmentJson('mosaic', photo, {
      center: [30, 20], bboxes: [[0, 0, 61, 40]], mix_bboxes: [[[0, 0, 30, 50]], [], [[0, 0, 30, 50]]], mix_bbox_labels: [['a'], [], ['c']],
    }, { mixImage: [other, other, other] });
    assert.deepEqual((grid.params as { center: number[] }).center, [30, 20]);
    // Each whole-image box becomes its whole cell (enlarged tiles start half a pixel in, as libvips
    // shifts an enlargement); mix image 2 has none.
    const cells = [[0, 0, 30, 20], [30, 0, 61, 20], [30, 20, 61, 40]];
    assert.equal(grid.targets?.bboxes.length, 3);
    grid.targets!.bboxes.forEach((box, i) => box.forEach((v, c) => assert.ok(Math.abs(v - cells[i]![c]!) <= 0.5, `${box} vs ${cells[i]}`)));
    assert.deepEqual(grid.targets?.bbox_indices, [0, 1, 2]);
    assert.deepEqual(grid.targets?.bbox_labels, [null, 'a', 'c']);
  });

  test('pipeline: steps as objects, several variants', async () => {
    const result = await client.pipeline(photo, [{ op: 'flip', direction: 'vertical' }, { op: 'cutout', boxes: [[0, 0, 10, 10]], fill: 'white' }], { count: 2, seed: 3 });
    assert.equal(result.variants.length, 2);
    assert.deepEqual(result.variants[0]!.applied.map((step) => step.op), ['flip', 'cutout']);
    const first = await pixels(Buffer.from(result.variants[0]!.image, 'base64'));
    assert.deepEqual([...first.data.subarray(0, 3)], [255, 255, 255]);
  });

  test('a problem answer becomes an AugserveError carrying its code', async () => {
    await assert.rejects(client.augment('crop', photo, { width: 500, height: 500 }), (error: unknown) => {
      assert.ok(error instanceof AugserveError);
      assert.equal(error.status, 422);
      assert.equal(error.code, 'AUG_IMPOSSIBLE_PARAM');
      return true;
    });
  });

  test('one image of a known type goes as the raw body, fields in the query; two go as multipart; same pixels either way', async () => {
    const sent: Array<{ url: string; type: string | null }> = [];
    const watching = createAugserveClient({ baseUrl: server.url, fetch: (request) => (sent.push({ url: request.url, type: request.headers.get('content-type') }), fetch(request)) });
    const fields = { angle_range: [-30, 30] as [number, number], fill: '#336699', seed: 11 };
    const raw = await watching.augment('rotate', photo, fields);
    assert.equal(sent[0]!.type, 'image/png');
    assert.equal(new URL(sent[0]!.url).searchParams.get('angle_range'), '-30,30');
    // The same request as multipart, by hand.
    const viaForm = await fetch(`${server.url}/v1/augment/rotate`, {
      method: 'POST',
      body: (() => { const f = new FormData(); f.append('image', new Blob([new Uint8Array(photo)]), 'a.png'); f.append('angle_range', '-30,30'); f.append('fill', '#336699'); f.append('seed', '11'); return f; })(),
    });
    assert.equal(viaForm.headers.get('x-augment-params'), JSON.stringify(raw.applied));
    assert.ok((await pixels(Buffer.from(raw.bytes))).data.equals((await pixels(Buffer.from(await viaForm.arrayBuffer()))).data));
    const jpeg = await makeImage(20, 20, 'jpeg');
    await watching.pipeline(jpeg, [{ op: 'flip' }], { seed: 1 });
    assert.equal(sent[1]!.type, 'image/jpeg');
    await watching.augmentJson('cutmix', photo, { seed: 1 }, { mixImage: photo });
    assert.match(sent[2]!.type ?? '', /^multipart\/form-data; boundary=/);
  });

  test('the raw openapi-fetch client reaches the JSON paths of the contract', async () => {
    const { data } = await client.api.GET('/health/live');
    assert.equal(data?.status, 'ok');
    assert.equal((await client.ready()).status, 'ok');
  });
});

describe('typed client with an API key', () => {
  let server: Running;
  let photo: Buffer;

  before(async () => {
    server = await startAugment({ API_KEYS: 'k1,k2' });
    photo = await makeImage(8, 8, 'png');
  });
  after(() => server.app.close());

  test('the key is sent as X-API-Key; without it the answer is AUG_UNAUTHORIZED', async () => {
    const keyed = createAugserveClient({ baseUrl: server.url, apiKey: 'k2' });
    assert.equal((await keyed.augment('flip', photo)).applied.op, 'flip');
    const anonymous = createAugserveClient({ baseUrl: `${server.url}/` });
    await assert.rejects(anonymous.augment('flip', photo), { name: 'AugserveError', status: 401, code: 'AUG_UNAUTHORIZED' });
  });
});

describe('typed client against a listening inference service', { skip: inferenceMissing() }, () => {
  let server: Running;
  let client: AugserveClient;
  let images: Buffer[];

  before(async () => {
    server = await startInference();
    client = createAugserveClient({ baseUrl: server.url });
    images = await Promise.all([makeImage(40, 30, 'png'), makeImage(28, 28, 'jpeg', 1), makeImage(64, 64, 'webp', 4)]);
  });
  after(() => server?.app.close());

  test('models lists the repository and the default ensemble', async () => {
    const list = await client.models();
    const names = list.models.map((model) => model.name).sort();
    assert.ok(names.includes('tiny-gray') && names.includes('tiny-gray-nhwc'), `models: ${names}`);
    assert.ok(list.ensembles.some((ensemble) => ensemble.name === 'default'));
  });

  test('classify: one result per image, in order, the same as one at a time', async () => {
    const together = await client.classify('tiny-gray', images, { top_k: 3 });
    assert.equal(together.model, 'tiny-gray');
    assert.equal(together.results.length, images.length);
    for (const [i, image] of images.entries()) {
      const alone = await client.classify('tiny-gray', new Blob([new Uint8Array(image)]), { top_k: 3 });
      const [a, b] = [together.results[i]!.predictions, alone.results[0]!.predictions];
      assert.deepEqual(a.map((p) => p.index), b.map((p) => p.index));
      for (const [j, p] of a.entries()) assert.ok(Math.abs(p.probability - b[j]!.probability) < 1e-5);
      assert.equal(a.length, 3);
      assert.ok(a[0]!.probability >= a[1]!.probability && a[1]!.probability >= a[2]!.probability);
    }
  });

  test('classifyEnsemble, soft voting: each label\'s probability is the mean of the members\'', async () => {
    const answer = await client.classifyEnsemble(images[0]!, { voting: 'soft', top_k: 10 });
    assert.equal(answer.ensemble, 'default');
    assert.equal(answer.voting, 'soft');
    const [result] = answer.results;
    assert.ok(result && result.members.length >= 2);
    const byLabel = (predictions: Array<{ label: string; probability: number }>) => new Map(predictions.map((p) => [p.label, p.probability]));
    const members = result.members.map((member) => byLabel(member.predictions));
    for (const { label, probability } of result.predictions) {
      const mean = members.reduce((sum, m) => sum + (m.get(label) ?? 0), 0) / members.length;
      assert.ok(Math.abs(probability - mean) < 1e-5, `${label}: ${probability} vs mean ${mean}`);
    }
  });

  test('classifyEnsemble, hard voting: votes count the members\' top-1 labels', async () => {
    const [result] = (await client.classifyEnsemble(images[1]!, { voting: 'hard' })).results;
    assert.ok(result?.votes);
    const tops = result.members.map((member) => member.predictions[0]!.label);
    const expected: Record<string, number> = {};
    for (const label of tops) expected[label] = (expected[label] ?? 0) + 1;
    assert.deepEqual(result.votes, expected);
  });

  test('an unknown model is an AugserveError with INF_MODEL_NOT_FOUND', async () => {
    await assert.rejects(client.classify('no-such-model', images[0]!), { name: 'AugserveError', status: 404, code: 'INF_MODEL_NOT_FOUND' });
  });
});
