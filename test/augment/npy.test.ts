import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import sharp from 'sharp';
import { buildAugmentApp } from '../../services/augment/app.ts';
import { readAugmentConfig } from '../../services/augment/config.ts';
import { npyHeader, npyImage } from '../../services/shared/npy.ts';
import { form } from '../helpers/form.ts';
import { makeImage, pixels } from '../helpers/images.ts';
import { makeTar, readTar } from '../helpers/tar.ts';

const PYTHON = '/usr/bin/python3';

/** What `.npy` bytes say about themselves: shape from the header, the pixels after it. */
function parseNpy(bytes: Buffer): { shape: number[]; data: Buffer; headerLength: number } {
  assert.deepEqual([...bytes.subarray(0, 8)], [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]);
  const length = bytes.readUInt16LE(8);
  const text = bytes.subarray(10, 10 + length).toString('latin1');
  const match = /^\{'descr': '\|u1', 'fortran_order': False, 'shape': \(([\d, ]*)\), \} *\n$/.exec(text);
  assert.ok(match, `unexpected header ${JSON.stringify(text)}`);
  const shape = match[1]!.split(',').map((s) => s.trim()).filter(Boolean).map(Number);
  return { shape, data: bytes.subarray(10 + length), headerLength: 10 + length };
}

function numpyMissing(): string | undefined {
  const r = spawnSync(PYTHON, ['-c', 'import numpy'], { encoding: 'utf8' });
  return r.status === 0 ? undefined : `numpy not importable: ${(r.stderr || r.error?.message || '').trim().split('\n').pop()}`;
}

describe('npy writer', () => {
  test('the header is NumPy format 1.0, padded so the data starts on a 64-byte boundary', () => {
    for (const shape of [[224, 224, 3], [3, 224, 224], [1, 1, 1], [17, 5], [100000, 99999, 3]]) {
      const header = npyHeader(shape);
      assert.equal(header.length % 64, 0, `shape ${shape}`);
      assert.equal(header.at(-1), 0x0a);
      assert.equal(header.readUInt16LE(8), header.length - 10);
      assert.deepEqual(parseNpy(Buffer.concat([header, Buffer.alloc(1)])).shape, shape);
    }
    assert.equal(npyHeader([224, 224, 3]).toString('latin1', 10).trimEnd(), "{'descr': '|u1', 'fortran_order': False, 'shape': (224, 224, 3), }");
  });

  test('chw puts each channel in its own plane', () => {
    const raw = { data: Buffer.from([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]), width: 2, height: 2, channels: 3 as const };
    assert.deepEqual([...parseNpy(npyImage(raw, 'hwc')).data], [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    const chw = parseNpy(npyImage(raw, 'chw'));
    assert.deepEqual(chw.shape, [3, 2, 2]);
    assert.deepEqual([...chw.data], [1, 4, 7, 10, 2, 5, 8, 11, 3, 6, 9, 12]);
  });

  test('chw of RGB: the word-at-a-time path and the byte path give the same planes, any size, aligned or not', () => {
    for (const [width, height] of [[224, 224], [4, 1], [3, 5], [7, 8], [256, 255], [1, 1]] as const) {
      const pixels = width * height;
      const data = Buffer.from(Array.from({ length: pixels * 3 }, (_, i) => (i * 37 + 11) & 255));
      // The same pixels one byte into a buffer: not 4-byte aligned, so the byte path.
      const shifted = Buffer.concat([Buffer.alloc(1), data]).subarray(1);
      for (const source of [data, shifted]) {
        const planes = parseNpy(npyImage({ data: source, width, height, channels: 3 }, 'chw')).data;
        for (let p = 0; p < pixels; p++) {
          for (let c = 0; c < 3; c++) assert.equal(planes[c * pixels + p], data[p * 3 + c], `${width}×${height} pixel ${p} channel ${c}`);
        }
      }
    }
  });

  test('numpy.load reads what we write, values and shapes included', (t) => {
    const missing = numpyMissing();
    if (missing) return t.skip(missing);
    const dir = mkdtempSync(join(tmpdir(), 'npy-'));
    try {
      const rgb = { data: Buffer.from(Array.from({ length: 5 * 7 * 3 }, (_, i) => (i * 37) % 256)), width: 7, height: 5, channels: 3 as const };
      const grey = { data: Buffer.from(Array.from({ length: 4 * 6 }, (_, i) => i * 9)), width: 6, height: 4, channels: 1 as const };
      writeFileSync(join(dir, 'rgb.npy'), npyImage(rgb));
      writeFileSync(join(dir, 'chw.npy'), npyImage(rgb, 'chw'));
      writeFileSync(join(dir, 'grey.npy'), npyImage(grey));
      const script = `
import json, sys, numpy as np
d = sys.argv[1]
a = np.load(d + '/rgb.npy'); c = np.load(d + '/chw.npy'); g = np.load(d + '/grey.npy')
print(json.dumps({"shape": list(a.shape), "dtype": str(a.dtype), "flat": a.reshape(-1).tolist(),
  "chw": list(c.shape), "chw_same": bool((c.transpose(1, 2, 0) == a).all()), "grey": list(g.shape), "grey_flat": g.reshape(-1).tolist()}))`;
      const r = spawnSync(PYTHON, ['-c', script, dir], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      const out = JSON.parse(r.stdout);
      assert.deepEqual(out.shape, [5, 7, 3]);
      assert.equal(out.dtype, 'uint8');
      assert.deepEqual(out.flat, [...rgb.data]);
      assert.deepEqual(out.chw, [3, 5, 7]);
      assert.equal(out.chw_same, true);
      assert.deepEqual(out.grey, [4, 6, 1]);
      assert.deepEqual(out.grey_flat, [...grey.data]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('format=npy over HTTP', () => {
  let app: FastifyInstance;
  let png: Buffer;
  before(async () => {
    app = await buildAugmentApp(readAugmentConfig({ LOG_LEVEL: 'silent' }));
    png = await makeImage(40, 30, 'png');
  });
  after(() => app.close());

  test('single-image route: application/x-npy with the PNG answer\'s pixels, [H, W, C] and chw', async () => {
    const reference = await app.inject({ method: 'POST', url: '/v1/augment/flip', payload: form({ image: png, direction: 'horizontal', format: 'png' }) });
    const expected = await pixels(reference.rawPayload);
    const res = await app.inject({ method: 'POST', url: '/v1/augment/flip', payload: form({ image: png, direction: 'horizontal', format: 'npy' }) });
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(res.headers['content-type'], 'application/x-npy');
    const npy = parseNpy(res.rawPayload);
    assert.deepEqual(npy.shape, [30, 40, 3]);
    assert.deepEqual(npy.data, expected.data);
    const chw = await app.inject({ method: 'POST', url: '/v1/augment/flip', payload: form({ image: png, direction: 'horizontal', format: 'npy', layout: 'chw' }) });
    assert.deepEqual(parseNpy(chw.rawPayload).shape, [3, 30, 40]);
    // Cutout goes the raw way (decode, paint, encode), flip the one-pass way: both write npy.
    const cut = await app.inject({ method: 'POST', url: '/v1/augment/cutout', payload: form({ image: png, holes: 1, seed: 3, format: 'npy' }) });
    assert.equal(cut.statusCode, 200, cut.body);
    assert.deepEqual(parseNpy(cut.rawPayload).shape, [30, 40, 3]);
  });

  test('pipeline route: npy answer, grey input stays one channel', async () => {
    const grey = await makeImage(20, 10, 'png', 1);
    const res = await app.inject({ method: 'POST', url: '/v1/augment/pipeline', payload: form({ image: grey, ops: JSON.stringify([{ op: 'flip' }]), format: 'npy', seed: 1 }) });
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(res.headers['content-type'], 'application/x-npy');
    assert.deepEqual(parseNpy(res.rawPayload).shape, [10, 20, 1]);
  });

  test('shard: .npy members for images and masks, chw on request', async () => {
    const jpg = await makeImage(48, 32, 'jpeg');
    const mask = await sharp(Buffer.alloc(48 * 32, 0).fill(255, 0, 48 * 16), { raw: { width: 48, height: 32, channels: 1 } }).toColourspace('b-w').png().toBuffer();
    const body = await makeTar([{ name: 's1.jpg', data: jpg }, { name: 's1.mask.png', data: mask }, { name: 's2.jpg', data: jpg }]);
    const ops = JSON.stringify([{ op: 'crop', width: 24, height: 16, x: 0, y: 0 }]);
    for (const layout of ['hwc', 'chw']) {
      const res = await app.inject({ method: 'POST', url: `/v1/augment/shard?${new URLSearchParams({ ops, seed: '7', format: 'npy', layout })}`, headers: { 'content-type': 'application/x-tar' }, body });
      assert.equal(res.statusCode, 200);
      const files = new Map((await readTar(res.rawPayload)).map((m) => [m.name, m.data]));
      assert.deepEqual([...files.keys()], ['s1.v0.npy', 's1.v0.mask.npy', 's1.v0.json', 's2.v0.npy', 's2.v0.json', '__summary__.json']);
      assert.deepEqual(parseNpy(files.get('s1.v0.npy')!).shape, layout === 'chw' ? [3, 16, 24] : [16, 24, 3]);
      const movedMask = parseNpy(files.get('s1.v0.mask.npy')!);
      assert.deepEqual(movedMask.shape, [16, 24]);
      assert.ok(movedMask.data.every((v) => v === 255), 'the crop is the top half, all mask');
      const info = JSON.parse(files.get('s1.v0.json')!.toString());
      assert.deepEqual([info.width, info.height], [24, 16]);
    }
  });
});
