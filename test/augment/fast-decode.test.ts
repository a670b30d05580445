import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import sharp from 'sharp';
import { buildAugmentApp } from '../../services/augment/app.ts';
import { readAugmentConfig } from '../../services/augment/config.ts';
import { form } from '../helpers/form.ts';
import { makeImage } from '../helpers/images.ts';
import { makeTar, readTar } from '../helpers/tar.ts';

type App = Awaited<ReturnType<typeof buildAugmentApp>>;

/** The pixels of an `.npy` answer. */
const npyPixels = (bytes: Buffer) => bytes.subarray(10 + bytes.readUInt16LE(8));

describe('the pipeline route decodes plain JPEGs with @napi-rs/image, the rest with sharp', () => {
  let app: App;
  before(async () => {
    app = await buildAugmentApp(readAugmentConfig({ LOG_LEVEL: 'silent' }));
  });
  after(() => app.close());

  const unchanged = (image: Buffer) => app.inject({ method: 'POST', url: '/v1/augment/pipeline', body: form({ image, ops: JSON.stringify([{ op: 'flip', p: 0 }]), format: 'npy', seed: 1 }) });

  test('a plain JPEG: the same pixels as libjpeg within a few levels', async () => {
    for (const [width, height, options] of [[256, 192, {}], [301, 203, { progressive: true }], [128, 128, { chromaSubsampling: '4:4:4' }]] as const) {
      const bytes = await sharp(await makeImage(width, height, 'png')).jpeg({ quality: 85, ...options }).toBuffer();
      const res = await unchanged(bytes);
      assert.equal(res.statusCode, 200);
      const ours = npyPixels(res.rawPayload);
      const libjpeg = await sharp(bytes).raw().toBuffer();
      assert.equal(ours.length, libjpeg.length);
      let sum = 0;
      let max = 0;
      for (let i = 0; i < ours.length; i++) {
        const d = Math.abs(ours[i]! - libjpeg[i]!);
        sum += d;
        max = Math.max(max, d);
      }
      console.log(`${width}×${height} ${JSON.stringify(options)}: against libjpeg mean |difference| ${(sum / ours.length).toFixed(4)}, max ${max}`);
      // 4:2:0 chroma is upsampled differently; without subsampling only the IDCT's rounding differs.
      const bound = 'chromaSubsampling' in options ? 0.05 : 0.5;
      assert.ok(sum / ours.length < bound && max <= 6, `mean ${sum / ours.length}, max ${max}`);
      assert.ok(sum > 0, 'decoded by @napi-rs/image, not by libjpeg');
    }
  });

  test('mutated plain JPEGs (seed 24): every answer a 200 or a 4xx problem, never a 5xx or a crash', async () => {
    const base = await sharp(await makeImage(96, 80, 'png')).jpeg({ quality: 80 }).toBuffer();
    const progressive = await sharp(base).jpeg({ progressive: true }).toBuffer();
    let state = 24;
    const random = () => ((state = (Math.imul(state, 1103515245) + 12345) >>> 0) / 2 ** 32);
    const statuses = new Map<number, number>();
    for (let n = 0; n < 240; n++) {
      const bytes = Buffer.from(n % 2 ? base : progressive);
      for (let k = 0, flips = 1 + Math.floor(random() * 8); k < flips; k++) bytes[Math.floor(random() * (bytes.length - 2))] = Math.floor(random() * 256);
      const res = await unchanged(bytes);
      statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1);
      assert.ok(res.statusCode === 200 || (res.statusCode >= 400 && res.statusCode < 500 && /^AUG_/.test(res.json().code)), `mutation ${n}: ${res.statusCode}`);
    }
    console.log(`mutated JPEGs by status: ${JSON.stringify([...statuses])}`);
    assert.ok((statuses.get(200) ?? 0) > 0 && (statuses.get(415) ?? 0) > 0, 'both decoders and refusals were reached');
  });

  test('FAST_JPEG_DECODE_PIXELS=0: every JPEG decoded by libjpeg, the same pixels exactly', async () => {
    const exact = await buildAugmentApp(readAugmentConfig({ LOG_LEVEL: 'silent', FAST_JPEG_DECODE_PIXELS: '0' }));
    try {
      const bytes = await sharp(await makeImage(256, 192, 'png')).jpeg({ quality: 85 }).toBuffer();
      const res = await exact.inject({ method: 'POST', url: '/v1/augment/pipeline', body: form({ image: bytes, ops: JSON.stringify([{ op: 'flip', p: 0 }]), format: 'npy', seed: 1 }) });
      assert.ok(npyPixels(res.rawPayload).equals(await sharp(bytes).raw().toBuffer()));
    } finally {
      await exact.close();
    }
  });

  test('EXIF, grey and truncated JPEGs go to sharp: rotated, grey, refused', async () => {
    const base = await makeImage(64, 48, 'png');
    const rotated = await unchanged(await sharp(base).withMetadata({ orientation: 6 }).jpeg().toBuffer());
    assert.equal(rotated.statusCode, 200);
    assert.match(rotated.rawPayload.subarray(0, 128).toString('latin1'), /'shape': \(64, 48, 3\)/, 'EXIF orientation applied');
    const grey = await sharp(base).toColourspace('b-w').jpeg().toBuffer();
    assert.match((await unchanged(grey)).rawPayload.subarray(0, 128).toString('latin1'), /'shape': \(48, 64, 1\)/);
    const plain = await sharp(base).jpeg().toBuffer();
    const truncated = plain.subarray(0, plain.length - 40);
    const refused = await unchanged(truncated);
    assert.equal(refused.statusCode, 415);
    assert.equal(refused.json().code, 'AUG_UNSUPPORTED_MEDIA');
    const shard = await app.inject({
      method: 'POST',
      url: `/v1/augment/shard?${new URLSearchParams({ ops: JSON.stringify([{ op: 'flip' }]), format: 'npy', seed: '1' })}`,
      headers: { 'content-type': 'application/x-tar' },
      body: await makeTar([{ name: 'a.jpg', data: truncated }, { name: 'b.jpg', data: plain }]),
    });
    const names = (await readTar(shard.rawPayload)).map((m) => m.name);
    assert.deepEqual(names, ['a.error.json', 'b.v0.npy', 'b.v0.json', '__summary__.json']);
  });
});
