import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import sharp from 'sharp';
import { buildAugmentApp } from '../../../services/augment/app.ts';
import { readAugmentConfig } from '../../../services/augment/config.ts';
import { mosaic } from '../../../services/augment/ops/mosaic.ts';
import { RESIZE } from '../../../services/augment/ops/raster.ts';
import type { RawImage } from '../../../services/augment/ops/types.ts';
import { createRng } from '../../../services/augment/random.ts';
import { form, type FormPart } from '../../helpers/form.ts';
import { makeImage, pixels } from '../../helpers/images.ts';

const maskPng = (w: number, h: number, paint: (x: number, y: number) => number) => {
  const data = Buffer.alloc(w * h);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) data[y * w + x] = paint(x, y);
  return sharp(data, { raw: { width: w, height: h, channels: 1 } }).toColourspace('b-w').png().toBuffer();
};

describe('POST /v1/augment/mosaic', () => {
  let app: FastifyInstance;
  let sources: Buffer[];
  const sizes = [[64, 48], [40, 56], [50, 30], [36, 36]] as const;
  before(async () => {
    app = await buildAugmentApp(readAugmentConfig({ LOG_LEVEL: 'silent' }));
    sources = await Promise.all(sizes.map(async ([w, h], k) => sharp(await makeImage(w, h, 'png')).modulate({ hue: 90 * k }).png().toBuffer()));
  });
  after(() => app.close());

  const post = (fields: Record<string, FormPart | FormPart[] | undefined>) =>
    app.inject({ method: 'POST', url: '/v1/augment/mosaic', headers: { accept: 'application/json' }, body: form({ image: sources[0], mix_image: sources.slice(1), format: 'png', ...fields }) });

  test('each cell is its reported crop resized (decoded pixels); the cells tile the canvas exactly once', async () => {
    for (const [seed, width, height] of [[1, 80, 60], [2, 64, 48], [3, 101, 37]] as const) {
      const res = await post({ seed, output_width: width, output_height: height });
      assert.equal(res.statusCode, 200, res.body);
      const { params } = res.json();
      const out = await pixels(Buffer.from(res.json().image, 'base64'));
      assert.deepEqual([out.width, out.height], [width, height]);
      const [cx, cy] = params.center;
      assert.deepEqual(params.tiles.map((t: { cell: number[] }) => t.cell), [[0, 0, cx, cy], [cx, 0, width, cy], [0, cy, cx, height], [cx, cy, width, height]]);
      const hits = new Uint8Array(width * height);
      for (const [k, { source, crop, cell }] of (params.tiles as Array<{ source: number; crop: number[]; cell: number[] }>).entries()) {
        assert.equal(source, k);
        const [cw, ch] = [cell[2]! - cell[0]!, cell[3]! - cell[1]!];
        for (let y = cell[1]!; y < cell[3]!; y++) for (let x = cell[0]!; x < cell[2]!; x++) hits[y * width + x]!++;
        if (cw === 0 || ch === 0) continue;
        // The crop keeps the source's aspect within rounding and touches the centre's corner.
        const [sw, sh] = sizes[k]!;
        assert.ok(crop[2]! - crop[0]! === sw || crop[3]! - crop[1]! === sh, `tile ${k} crops along one side only`);
        assert.equal(k % 2 === 0 ? crop[2] : crop[0], k % 2 === 0 ? sw : 0, `tile ${k} x anchor`);
        assert.equal(k < 2 ? crop[3] : crop[1], k < 2 ? sh : 0, `tile ${k} y anchor`);
        const expected = await sharp(sources[k]).extract({ left: crop[0]!, top: crop[1]!, width: crop[2]! - crop[0]!, height: crop[3]! - crop[1]! }).resize(cw, ch, RESIZE).raw().toBuffer();
        for (let y = 0; y < ch; y++) {
          const row = out.data.subarray(((cell[1]! + y) * width + cell[0]!) * 3, ((cell[1]! + y) * width + cell[2]!) * 3);
          assert.deepEqual(row, expected.subarray(y * cw * 3, (y + 1) * cw * 3), `seed ${seed}, tile ${k}, row ${y}`);
        }
      }
      assert.ok(hits.every((h) => h === 1), `seed ${seed}: every pixel in exactly one cell`);
    }
  });

  test('every centre is in center_range (2000 seeds), on integer pixels', async () => {
    const ctx = { mixes: await Promise.all(sources.slice(1).map(async (b) => (await pixels(b)) as RawImage)) };
    for (const [lo, hi] of [[0.25, 0.75], [0, 1], [0.5, 0.5], [0.1, 0.3]] as const) {
      const seen = new Set<number>();
      for (let seed = 0; seed < 2000; seed++) {
        const { center: [cx, cy] } = mosaic.sample(createRng(seed), { width: 64, height: 48 }, { center_range: [lo, hi], output_width: 90, output_height: 70 }, ctx);
        assert.ok(Number.isInteger(cx) && Number.isInteger(cy));
        assert.ok(cx >= lo * 90 && cx <= hi * 90 && cy >= lo * 70 && cy <= hi * 70, `[${lo}, ${hi}] seed ${seed}: ${cx}, ${cy}`);
        seen.add(cx);
      }
      // The whole range is reached, not one point of it.
      assert.equal(seen.size, Math.floor(hi * 90) - Math.ceil(lo * 90) + 1, `[${lo}, ${hi}]`);
    }
  });

  test('replay with center gives the same bytes and params', async () => {
    const first = await post({ seed: 11, center_range: '0.3,0.7' });
    const { params } = first.json();
    const again = await post({ center: params.center.join(','), fill: params.fill, tiles: JSON.stringify(params.tiles) });
    assert.equal(again.statusCode, 200, again.body);
    assert.equal(again.json().image, first.json().image);
    assert.deepEqual(again.json().params, params);
  });

  test('boxes follow the pixels: each answered box against the mask painted from the same box (1 px), numbered image first then each mix image', async () => {
    // One box per image (two for the image), and a label map painted from exactly those boxes.
    const boxes = [[[10, 8, 40, 30], [50, 2, 62, 46]], [[5, 20, 30, 50]], [[2, 3, 45, 25]], [[20, 18, 35, 35]]];
    const masks = await Promise.all(sizes.map(([w, h], k) =>
      maskPng(w, h, (x, y) => {
        const i = boxes[k]!.findIndex(([x1, y1, x2, y2]) => x >= x1! && x < x2! && y >= y1! && y < y2!);
        return i < 0 ? 0 : 10 * (k + 1) + i;
      })));
    for (const seed of [1, 2, 3, 4, 5]) {
      const res = await post({
        seed,
        output_width: 96,
        output_height: 80,
        bboxes: JSON.stringify(boxes[0]),
        bbox_labels: JSON.stringify(['i0', 'i1']),
        mix_bboxes: boxes.slice(1).map((b) => JSON.stringify(b)),
        mix_bbox_labels: ['["m1"]', '["m2"]', '["m3"]'],
        mask: masks[0],
        mix_mask: masks.slice(1),
      });
      assert.equal(res.statusCode, 200, res.body);
      const { targets } = res.json();
      assert.equal(targets.masks.length, 1);
      const { data, info } = await sharp(Buffer.from(targets.masks[0], 'base64')).extractChannel(0).raw().toBuffer({ resolveWithObject: true });
      const label = { data, width: info.width, height: info.height };
      const painted = new Map<number, number[]>();
      for (let y = 0; y < label.height; y++) {
        for (let x = 0; x < label.width; x++) {
          const v = label.data[y * label.width + x]!;
          if (v === 0) continue;
          const b = painted.get(v) ?? [Infinity, Infinity, -Infinity, -Infinity];
          painted.set(v, [Math.min(b[0]!, x), Math.min(b[1]!, y), Math.max(b[2]!, x + 1), Math.max(b[3]!, y + 1)]);
        }
      }
      const valueOf = ['i0', 'i1', 'm1', 'm2', 'm3'].map((_, n) => (n < 2 ? 10 + n : 10 * (n) + 0));
      const expectedIndices = [0, 1, 2, 3, 4].filter((n) => painted.has(valueOf[n]!));
      assert.deepEqual(targets.bbox_indices, expectedIndices, `seed ${seed}: a box is kept exactly where its mask shows`);
      assert.deepEqual(targets.bbox_labels, expectedIndices.map((n) => ['i0', 'i1', 'm1', 'm2', 'm3'][n]));
      targets.bboxes.forEach((box: number[], j: number) => {
        const mask = painted.get(valueOf[targets.bbox_indices[j]]!)!;
        box.forEach((v, c) => assert.ok(Math.abs(v - mask[c]!) <= 1, `seed ${seed}, box ${targets.bbox_indices[j]}: ${box} vs mask ${mask}`));
      });
    }
  });

  test('a mix image without targets is [] in its place; keypoints outside their cell are dropped', async () => {
    const res = await post({ center: '32,24', output_width: 64, output_height: 48, mix_bboxes: ['[]', '[[0,0,50,30]]', '[]'], mix_keypoints: ['[[39,55]]', '[]', '[[0,0]]'] });
    assert.equal(res.statusCode, 200, res.body);
    const { targets } = res.json();
    assert.deepEqual(targets.bbox_indices, [0]);
    // Tile 1 (top-right) keeps its source's bottom-left corner: (0, 55) lands inside; tile 3 (bottom-right) its top-left: (0, 0) is its cell's corner.
    assert.deepEqual(targets.keypoint_indices, [0, 1]);
  });

  test('bad input: 400 problem+json naming the field', async () => {
    const cases: Array<[Record<string, FormPart | FormPart[] | undefined>, string, number?]> = [
      [{ mix_image: sources.slice(1, 3) }, 'mix_image'],
      [{ mix_image: [...sources.slice(1), sources[0]!] }, 'mix_image'],
      [{ mix_image: undefined }, 'mix_image'],
      [{ center: '65,10' }, 'center'],
      [{ center: '10,-1' }, 'center'],
      [{ output_width: 16384, output_height: 16384 }, 'output_width'],
      [{ center_range: '0.8,0.2' }, 'center_range'],
      [{ mix_bboxes: ['[]', '[]'] }, 'mix_bboxes'],
      [{ mix_bboxes: ['[]', '[[1,2]]', '[]'] }, 'mix_bboxes'],
      [{ mask: await maskPng(64, 48, () => 1), mix_mask: [await maskPng(40, 56, () => 1), await maskPng(40, 56, () => 1), await maskPng(36, 36, () => 1)] }, 'mix_mask[1]'],
      [{ mask: await maskPng(64, 48, () => 1), mix_mask: [await maskPng(40, 56, () => 1)] }, 'mix_mask'],
    ];
    for (const [fields, name] of cases) {
      const res = await post(fields);
      assert.equal(res.statusCode, 400, `${Object.keys(fields)}: ${res.body}`);
      assert.equal(res.headers['content-type'], 'application/problem+json; charset=utf-8');
      const problem = res.json();
      assert.ok(problem.param === name || String(problem.param).startsWith(`${name}`) || problem.detail.includes(name), `${Object.keys(fields)}: ${JSON.stringify(problem)}`);
    }
  });

  test('pixel limits count all four images together', async () => {
    const small = await buildAugmentApp(readAugmentConfig({ LOG_LEVEL: 'silent', MAX_INPUT_PIXELS: String(64 * 48 + 40 * 56 + 50 * 30 + 36 * 36 - 1) }));
    try {
      const res = await small.inject({ method: 'POST', url: '/v1/augment/mosaic', body: form({ image: sources[0], mix_image: sources.slice(1) }) });
      assert.equal(res.statusCode, 413);
      assert.equal(res.json().code, 'AUG_PAYLOAD_TOO_LARGE');
      assert.equal(res.json().param, 'mix_image[2]');
      // Each image alone is well within the limit.
      assert.equal((await small.inject({ method: 'POST', url: '/v1/augment/mosaic', body: form({ image: sources[0], mix_image: [sources[3]!, sources[3]!, sources[3]!] }) })).statusCode, 200);
    } finally {
      await small.close();
    }
  });
});
