import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { eventually } from '../helpers/eventually.ts';
import { makeImage } from '../helpers/images.ts';
import { ModelRepository } from '../../services/inference/model-repository.ts';
import { FIXTURE_REPOSITORY, SLOW_REPOSITORY, buildTestApp, copyRepository, recordingLog, testConfig } from './helpers.ts';


test('/health/ready is 200 when every model is loaded and warmed up', async () => {
  const app = await buildTestApp();
  try {
    const res = await app.inject('/health/ready');
    assert.equal(res.statusCode, 200);
    assert.equal(res.json().status, 'ok');
    assert.equal((await app.inject('/health/live')).statusCode, 200);
  } finally {
    await app.close();
  }
});

test('/health/ready is 503 naming the models that are not ready, with the reason', async () => {
  const { root, cleanup } = await copyRepository();
  await writeFile(join(root, 'tiny-rgb', 'model.onnx'), 'not a model');
  const app = await buildTestApp({ MODEL_REPOSITORY: root });
  try {
    const res = await app.inject('/health/ready');
    assert.equal(res.statusCode, 503);
    const body = res.json();
    assert.equal(body.status, 'not_ready');
    assert.deepEqual(body.not_ready.map((m: { name: string }) => m.name), ['tiny-rgb']);
    assert.match(body.not_ready[0].reason, /sha256/);
  } finally {
    await app.close();
    await cleanup();
  }
});

test('loading in the background: not ready (loading) at first, ready once warmed up', async () => {
  const app = await buildTestApp({}, { awaitModels: false });
  try {
    const first = await app.inject('/health/ready');
    assert.equal(first.statusCode, 503);
    assert.match(first.json().not_ready[0].reason, /loading/);
    assert.equal((await app.inject('/health/live')).statusCode, 200);
    await eventually(async () => (await app.inject('/health/ready')).statusCode === 200, 'the models to load and warm up');
  } finally {
    await app.close();
  }
});

test('an empty repository is never ready', async () => {
  const app = await buildTestApp({ MODEL_REPOSITORY: join(FIXTURE_REPOSITORY, 'ensembles') });
  try {
    const res = await app.inject('/health/ready');
    assert.equal(res.statusCode, 503);
    assert.match(res.json().not_ready[0].reason, /no model found/);
  } finally {
    await app.close();
  }
});

test('closing lets an in-flight classify finish, then stops the workers', { timeout: 300_000 }, async () => {
  const config = testConfig({ MODEL_REPOSITORY: SLOW_REPOSITORY, MAX_BATCH_SIZE: '8' });
  const repository = new ModelRepository(config, recordingLog());
  const app = await buildTestApp({}, { repository });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const { port } = app.server.address() as { port: number };
  const body = new FormData();
  const photo = await makeImage(64, 64, 'png', 1);
  for (let i = 0; i < 16; i++) body.append('image', new Blob([new Uint8Array(photo)]), `${i}.png`);
  // Close once the first of its two batches has run: the request is in, the second batch pending.
  const firstBatch = new Promise<void>((resolve) => {
    const observe = repository.onBatch;
    repository.onBatch = (...args) => {
      observe?.(...args);
      resolve();
    };
  });
  const pending = fetch(`http://127.0.0.1:${port}/v1/models/slow-gray/classify`, { method: 'POST', body });
  await firstBatch;
  const pool = repository.pool;
  const closed = app.close();
  const res = await pending;
  assert.equal(res.status, 200);
  assert.equal(((await res.json()) as { results: unknown[] }).results.length, 16);
  await closed; // (waits for the client to have read the answer: its connection is then idle)
  assert.equal(pool.alive, 0, 'workers stopped after the last request');
});
