import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import sharp from 'sharp';
import { buildAugmentApp } from '../../services/augment/app.ts';
import { readAugmentConfig } from '../../services/augment/config.ts';
import { form } from '../helpers/form.ts';
import { fullGc, mib } from './support.ts';

/**
 * Memory a single request may claim, against the size of what it uploads: a small single-colour
 * PNG decodes to width × height × channels bytes, and a pipeline with `count` variants must not
 * hold `count` of those at once. The count is large and the bound sits far from both answers:
 * holding every variant raw would be COUNT × raw, one at a time measures a few × raw, and the
 * bound is a quarter of COUNT × raw, so neither the garbage collector's timing nor the moment a
 * sample is taken can move the verdict.
 */
const COUNT = 32;
const BOUND = COUNT / 4;

describe('memory a request can claim', () => {
  let app: FastifyInstance;
  before(async () => {
    app = await buildAugmentApp(readAugmentConfig({ LOG_LEVEL: 'silent' }));
  });
  after(() => app.close());

  test(`a pipeline with count=${COUNT} holds about one raw variant at a time`, async (t) => {
    const side = 700;
    const raw = side * side * 3;
    const image = await sharp({ create: { width: side, height: side, channels: 3, background: '#345' } }).png().toBuffer();
    const send = () =>
      app.inject({ method: 'POST', url: '/v1/augment/pipeline', headers: { accept: 'application/json' }, body: form({ image, ops: '[{"op":"flip"}]', count: COUNT, seed: 1 }) });
    await send(); // warm-up
    fullGc();
    const base = process.memoryUsage().external;
    let peak = base;
    // Two full collections before each sample (the second frees what the first's finalizers
    // released), so the peak is what the request holds, not garbage awaiting collection.
    let samples = 0;
    const timer = setInterval(() => {
      fullGc();
      samples++;
      peak = Math.max(peak, process.memoryUsage().external);
    }, 20);
    const res = await send();
    clearInterval(timer);
    assert.equal(res.statusCode, 200);
    assert.equal(res.json().variants.length, COUNT);
    t.diagnostic(`upload ${image.length} bytes; raw image ${mib(raw)}; ${samples} samples; live external memory grew by at most ${mib(peak - base)} (${COUNT} variants held raw would be ${mib(COUNT * raw)}, bound ${mib(BOUND * raw)})`);
    // The input, the variant being made, sharp's copy of it and the encoded variants so far.
    assert.ok(peak - base < BOUND * raw, `external memory grew by ${mib(peak - base)}`);
  });
});
