import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildAugmentApp } from '../../services/augment/app.ts';
import { readAugmentConfig } from '../../services/augment/config.ts';
import { DecodedCache } from '../../services/augment/shard/cache.ts';
import type { DecodedImage } from '../../services/shared/intake.ts';
import { makeImage } from '../helpers/images.ts';
import { makeTar } from '../helpers/tar.ts';

const decoded = (bytes: number): DecodedImage => ({ raw: { data: Buffer.alloc(bytes), width: bytes, height: 1, channels: 1 }, format: 'png' });

test('DecodedCache: least recently used out first, bounded by bytes, counted', async () => {
  const counts = { hit: 0, miss: 0, bytes: 0 };
  const cache = new DecodedCache(250, { hit: () => counts.hit++, miss: () => counts.miss++, bytes: (v) => (counts.bytes = v) });
  let decodes = 0;
  const get = (key: string, bytes = 100) => cache.get(key, async () => (decodes++, decoded(bytes)));
  await get('a');
  await get('b');
  await get('a'); // a is now the most recent
  await get('c'); // over 250: b goes
  assert.equal(cache.size, 200);
  assert.equal(decodes, 3);
  await get('a');
  await get('c');
  assert.equal(decodes, 3, 'a and c stayed');
  await get('b');
  assert.equal(decodes, 4, 'b had been evicted');
  await get('huge', 1000);
  assert.equal(cache.size, 200, 'an image over the whole capacity is not kept');
  assert.deepEqual(counts, { hit: 3, miss: 5, bytes: 200 });
});

test('SHARD_CACHE_MB: the same answer bytes with the cache on or off, epoch after epoch; hits on /metrics', async () => {
  // The cache is asked for with the samples on the event loop and on two workers (split between them).
  const off = await buildAugmentApp(readAugmentConfig({ LOG_LEVEL: 'silent' }));
  const on = await buildAugmentApp(readAugmentConfig({ LOG_LEVEL: 'silent', SHARD_CACHE_MB: '4', SHARD_WORKERS: '0' }));
  const onWorkers = await buildAugmentApp(readAugmentConfig({ LOG_LEVEL: 'silent', SHARD_CACHE_MB: '4', SHARD_WORKERS: '2' }));
  try {
    const body = await makeTar([
      { name: 'a.jpg', data: await makeImage(48, 40, 'jpeg') },
      { name: 'b.png', data: await makeImage(30, 50, 'png', 1) },
      { name: 'c.webp', data: await makeImage(40, 40, 'webp') },
    ]);
    const ops = JSON.stringify([{ op: 'flip', p: 0.5 }, { op: 'scale', factor_range: [0.8, 1.2] }, { op: 'crop', scale_range: [0.35, 1], output_width: 24, output_height: 24 }, { op: 'cutout', holes: 1, size: 6 }]);
    for (const epoch of [0, 1, 2]) {
      for (const format of ['npy', 'png']) {
        const url = `/v1/augment/shard?${new URLSearchParams({ ops, seed: '5', epoch: String(epoch), variants: '2', format })}`;
        const send = (app: typeof on) => app.inject({ method: 'POST', url, headers: { 'content-type': 'application/x-tar' }, body });
        const [a, b, c] = [await send(off), await send(on), await send(onWorkers)];
        assert.equal(a.statusCode, 200);
        // __summary__.json holds the seconds taken: compare everything before it.
        const cut = (bytes: Buffer) => bytes.subarray(0, bytes.indexOf('__summary__.json'));
        assert.ok(cut(a.rawPayload).length > 1000);
        assert.ok(cut(a.rawPayload).equals(cut(b.rawPayload)), `epoch ${epoch} ${format}`);
        assert.ok(cut(a.rawPayload).equals(cut(c.rawPayload)), `epoch ${epoch} ${format}, workers`);
      }
    }
    for (const app of [on, onWorkers]) {
      const metrics = (await app.inject({ method: 'GET', url: '/metrics' })).body;
      assert.match(metrics, /augment_shard_cache_lookups_total\{result="miss"\} 3\b/);
      assert.match(metrics, /augment_shard_cache_lookups_total\{result="hit"\} 15\b/);
      assert.match(metrics, /augment_shard_cache_bytes [1-9]\d*/);
    }
  } finally {
    await off.close();
    await on.close();
    await onWorkers.close();
  }
});

test('SHARD_WORKERS: samples augmented on worker threads give the same answer bytes as on the event loop, cache on or off', async () => {
  const off = await buildAugmentApp(readAugmentConfig({ LOG_LEVEL: 'silent', SHARD_WORKERS: '0' }));
  const on = await buildAugmentApp(readAugmentConfig({ LOG_LEVEL: 'silent', SHARD_WORKERS: '2', SHARD_CACHE_MB: '4' }));
  try {
    const body = await makeTar([
      { name: 'a.jpg', data: await makeImage(48, 40, 'jpeg') },
      { name: 'b.png', data: await makeImage(30, 50, 'png', 1) },
      { name: 'c.png', data: await makeImage(40, 40, 'png', 4) },
    ]);
    // flip + scale + crop is one fused run on every sample (p 1).
    const ops = JSON.stringify([{ op: 'flip', direction: 'random' }, { op: 'scale', factor_range: [0.6, 1.2], fill: '#336699' }, { op: 'crop', scale_range: [0.35, 1], output_width: 24, output_height: 20 }, { op: 'cutout', holes: 1, size: 6 }]);
    const url = `/v1/augment/shard?${new URLSearchParams({ ops, seed: '9', variants: '3', format: 'npy' })}`;
    const send = (app: typeof on) => app.inject({ method: 'POST', url, headers: { 'content-type': 'application/x-tar' }, body });
    const [a, b] = [await send(off), await send(on)];
    const cut = (bytes: Buffer) => bytes.subarray(0, bytes.indexOf('__summary__.json'));
    assert.equal(b.statusCode, 200);
    assert.ok(!cut(b.rawPayload).includes('error.json'), 'no sample failed');
    assert.ok(cut(a.rawPayload).equals(cut(b.rawPayload)));
  } finally {
    await off.close();
    await on.close();
  }
});
