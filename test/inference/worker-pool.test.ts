import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { WorkerPool } from '../../services/inference/worker-pool.ts';
import type { LoadRequest } from '../../services/inference/worker-protocol.ts';
import { FIXTURE_REPOSITORY, recordingLog } from './helpers.ts';

const faultyWorker = new URL('./fixtures/faulty-worker.ts', import.meta.url);

function tinyGray(model = 'tiny-gray'): LoadRequest {
  return {
    model,
    path: join(FIXTURE_REPOSITORY, 'tiny-gray', 'model.onnx'),
    providers: [{ name: 'cpu' }],
    intraOpThreads: 1,
    intraOpSpinning: false,
    io: { inputName: 'input', inputShape: [-1, 1, 28, 28], outputName: 'logits', classes: 10 },
    warmupBatchSizes: [1, 4],
  };
}

const batch = (n: number) => new Float32Array(n * 28 * 28).fill(0.5);

test('runs a batch in a worker thread and returns one row per image', async () => {
  const pool = new WorkerPool({ size: 2, log: recordingLog() });
  try {
    const info = await pool.load(tinyGray());
    assert.equal(info.provider, 'cpu');
    const data = batch(3);
    const result = await pool.run('tiny-gray', data, [3, 1, 28, 28]);
    assert.deepEqual(result.dims, [3, 10]);
    assert.equal(data.byteLength, 0, 'the input buffer was transferred, not copied');
    // Identical images give identical rows.
    assert.deepEqual(result.data.slice(0, 10), result.data.slice(10, 20));
  } finally {
    await pool.close();
  }
});

test('a worker that dies mid-inference is replaced; its pending calls fail with INF_WORKER_FAILED', async () => {
  const log = recordingLog();
  const pool = new WorkerPool({ size: 1, log, workerUrl: faultyWorker });
  try {
    await pool.load(tinyGray());
    await pool.load(tinyGray('crash'));
    // No deadline on the call: only the worker's exit can reject it.
    await assert.rejects(pool.run('crash', batch(1), [1, 1, 28, 28]), { code: 'INF_WORKER_FAILED', statusCode: 503 });
    assert.equal(pool.replacements, 1);
    assert.ok(log.records.some((r) => r.level === 'error' && /died/.test(r.message)));
    // The replacement reloads the models and serves.
    const result = await pool.run('tiny-gray', batch(2), [2, 1, 28, 28]);
    assert.deepEqual(result.dims, [2, 10]);
  } finally {
    await pool.close();
  }
});

test('a call not answered in time fails with INF_TIMEOUT; the worker keeps serving', async () => {
  const pool = new WorkerPool({ size: 1, log: recordingLog(), workerUrl: faultyWorker });
  try {
    await pool.load(tinyGray());
    await pool.load(tinyGray('stall'));
    await assert.rejects(pool.run('stall', batch(1), [1, 1, 28, 28], 100), { code: 'INF_TIMEOUT', statusCode: 504 });
    const result = await pool.run('tiny-gray', batch(1), [1, 1, 28, 28]);
    assert.deepEqual(result.dims, [1, 10]);
  } finally {
    await pool.close();
  }
});

test('a runtime error is INF_INFERENCE_FAILED; unknown models fail the same way', async () => {
  const pool = new WorkerPool({ size: 1, log: recordingLog() });
  try {
    await pool.load(tinyGray());
    await assert.rejects(pool.run('tiny-gray', batch(1), [1, 3, 28, 28]), { code: 'INF_INFERENCE_FAILED', statusCode: 500 });
    await assert.rejects(pool.run('nope', batch(1), [1, 1, 28, 28]), { code: 'INF_INFERENCE_FAILED' });
  } finally {
    await pool.close();
  }
});

test('load rejects with the reason when the graph disagrees with the declared shape', async () => {
  const pool = new WorkerPool({ size: 2, log: recordingLog() });
  try {
    const wrong = tinyGray();
    wrong.io = { ...wrong.io, inputShape: [-1, 3, 28, 28] };
    await assert.rejects(pool.load(wrong), /input\.shape \[-1, 3, 28, 28\] disagrees/);
  } finally {
    await pool.close();
  }
});

test('close rejects pending calls with INF_SHUTTING_DOWN', async () => {
  const pool = new WorkerPool({ size: 1, log: recordingLog(), workerUrl: faultyWorker });
  await pool.load(tinyGray('stall'));
  const pending = pool.run('stall', batch(1), [1, 1, 28, 28]);
  await pool.close();
  await assert.rejects(pending, { code: 'INF_SHUTTING_DOWN' });
});
