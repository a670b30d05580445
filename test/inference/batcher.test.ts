import { beforeEach, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { Batcher, type BatcherOptions } from '../../services/inference/batcher.ts';

/**
 * Time in these tests is moved by hand: `setTimeout` is node:test's mock and the batcher reads a
 * clock the test advances with it (`advance`), so "before the delay" and "after the delay" are
 * facts, whatever the machine's speed. `settle` lets every promise already resolved run on.
 */
let clock = 0;
let mockTimers: TestContext['mock']['timers'];
beforeEach((t) => {
  clock = 0;
  mockTimers = (t as TestContext).mock.timers;
  mockTimers.enable({ apis: ['setTimeout'] });
});
function advance(ms: number) {
  clock += ms;
  mockTimers.tick(ms);
}
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

/** A batcher whose run doubles numbers and records each batch; `gate` holds batches until opened. */
function make(overrides: Partial<BatcherOptions<number, number>> = {}) {
  const batches: number[][] = [];
  let open: () => void = () => undefined;
  let gate: Promise<void> | undefined;
  const batcher = new Batcher<number, number>({
    name: 'test', maxBatchSize: 4, maxBatchDelayMs: 20, maxQueue: 100, maxInFlight: 1, timeoutMs: 0,
    run: async (inputs) => {
      batches.push(inputs);
      if (gate) await gate;
      return inputs.map((x) => x * 2);
    },
    now: () => clock,
    ...overrides,
  });
  return {
    batcher,
    batches,
    hold() {
      gate = new Promise((resolve) => (open = resolve));
    },
    release() {
      gate = undefined;
      open();
    },
  };
}

test('an idle batcher runs a lone image at once, without waiting for the delay', async () => {
  const { batcher, batches } = make({ maxBatchDelayMs: 10_000 });
  const answer = batcher.submit([1]);
  assert.deepEqual(batches, [[1]], 'run before any time passes');
  assert.deepEqual(await answer, [2]);
});

test('while a batch runs, a full batch flushes at once, without waiting for the delay', async () => {
  const t = make({ maxBatchDelayMs: 10_000, maxInFlight: 2 });
  t.hold();
  const first = t.batcher.submit([0]);
  const results = Promise.all([t.batcher.submit([1, 2]), t.batcher.submit([3]), t.batcher.submit([4])]);
  assert.deepEqual(t.batches, [[0], [1, 2, 3, 4]], 'run before any time passes');
  t.release();
  assert.deepEqual(await results, [[2, 4], [6], [8]]);
  assert.deepEqual(await first, [0]);
});

test('while a batch runs, a partial batch flushes after the delay', async () => {
  const t = make({ maxBatchDelayMs: 30, maxInFlight: 2 });
  t.hold();
  const first = t.batcher.submit([0]);
  const pending = Promise.all([t.batcher.submit([1]), t.batcher.submit([2])]);
  advance(29);
  await settle();
  assert.deepEqual(t.batches, [[0]], 'nothing more runs before the delay');
  advance(1);
  await settle();
  assert.deepEqual(t.batches, [[0], [1, 2]], 'the partial batch leaves when the oldest has waited the delay');
  t.release();
  assert.deepEqual(await pending, [[2], [4]]);
  await first;
});

test('results are split back per request in order, across batches', async () => {
  const { batcher, batches } = make({ maxBatchSize: 3, maxBatchDelayMs: 1 });
  const results = await Promise.all([batcher.submit([1, 2]), batcher.submit([3, 4, 5]), batcher.submit([6]), batcher.submit([7, 8])]);
  assert.deepEqual(results, [[2, 4], [6, 8, 10], [12], [14, 16]]);
  assert.deepEqual(batches.flat(), [1, 2, 3, 4, 5, 6, 7, 8]);
  assert.ok(batches.every((b) => b.length <= 3));
});

test('batches grow while the runner is busy', async () => {
  const t = make({ maxBatchSize: 8, maxBatchDelayMs: 0 });
  t.hold();
  const first = t.batcher.submit([1]);
  const rest = [2, 3, 4, 5].map((x) => t.batcher.submit([x]));
  await settle();
  assert.equal(t.batcher.queued, 4);
  t.release();
  await Promise.all([first, ...rest]);
  assert.deepEqual(t.batches, [[1], [2, 3, 4, 5]]);
});

test('batching off (max batch 1) runs each image alone', async () => {
  const { batcher, batches } = make({ maxBatchSize: 1, maxBatchDelayMs: 0, maxInFlight: 4 });
  assert.deepEqual(await batcher.submit([1, 2, 3]), [2, 4, 6]);
  assert.deepEqual(batches, [[1], [2], [3]]);
});

test('a full queue refuses the whole request with INF_QUEUE_FULL and keeps serving', async () => {
  const t = make({ maxQueue: 5, maxBatchSize: 2, maxBatchDelayMs: 0 });
  t.hold();
  const running = t.batcher.submit([1, 2]); // leaves the queue at once
  const queued = t.batcher.submit([3, 4, 5, 6]);
  await assert.rejects(t.batcher.submit([7, 8]), { code: 'INF_QUEUE_FULL', statusCode: 503 });
  const fits = t.batcher.submit([9]);
  t.release();
  assert.deepEqual(await Promise.all([running, queued, fits]), [[2, 4], [6, 8, 10, 12], [18]]);
});

test('a request not answered in time is rejected with INF_TIMEOUT and leaves the queue', async () => {
  const t = make({ timeoutMs: 30, maxBatchSize: 1, maxBatchDelayMs: 0 });
  t.hold();
  const running = assert.rejects(t.batcher.submit([1]), { code: 'INF_TIMEOUT' });
  const queued = assert.rejects(t.batcher.submit([2, 3]), { code: 'INF_TIMEOUT', statusCode: 504 });
  advance(29);
  await settle();
  assert.equal(t.batcher.queued, 2, 'not late yet');
  advance(1);
  await queued;
  await running;
  assert.equal(t.batcher.queued, 0);
  t.release();
  await settle();
  assert.deepEqual(t.batches, [[1]], 'timed-out queued items never run');
});

test('a failing batch rejects every request in it, and the next batch still runs', async () => {
  let calls = 0;
  let open: () => void = () => undefined;
  const gate = new Promise<void>((resolve) => (open = resolve));
  const batcher = new Batcher<number, number>({
    name: 'test', maxBatchSize: 2, maxBatchDelayMs: 5, maxQueue: 10, maxInFlight: 1, timeoutMs: 0,
    run: async (inputs) => {
      const call = calls++;
      if (call === 0) await gate; // holds the runner so that the next two requests share a batch
      if (call === 1) throw new Error('boom');
      return inputs;
    },
  });
  const first = batcher.submit([0]);
  const pair = Promise.allSettled([batcher.submit([1]), batcher.submit([2])]);
  open();
  assert.deepEqual(await first, [0]);
  const [a, b] = await pair;
  assert.equal(a.status, 'rejected');
  assert.equal(b.status, 'rejected');
  assert.deepEqual(await batcher.submit([3]), [3]);
});

test('close rejects queued requests with INF_SHUTTING_DOWN and refuses new ones', async () => {
  const t = make({ maxBatchSize: 1, maxBatchDelayMs: 0 });
  t.hold();
  const running = t.batcher.submit([1]);
  const queued = t.batcher.submit([2]);
  t.batcher.close();
  await assert.rejects(queued, { code: 'INF_SHUTTING_DOWN' });
  await assert.rejects(t.batcher.submit([3]), { code: 'INF_SHUTTING_DOWN' });
  t.release();
  assert.deepEqual(await running, [2]);
});

test('drain refuses new work, runs what is queued, and resolves when nothing is left', async () => {
  const t = make({ maxBatchSize: 1, maxBatchDelayMs: 0 });
  t.hold();
  const running = t.batcher.submit([1]);
  const queued = t.batcher.submit([2]);
  let drained = false;
  const draining = t.batcher.drain().then(() => (drained = true));
  await assert.rejects(t.batcher.submit([3]), { code: 'INF_SHUTTING_DOWN' });
  await settle();
  assert.equal(drained, false, 'work still queued and running');
  t.release();
  assert.deepEqual(await Promise.all([running, queued]), [[2], [4]]);
  await draining;
  assert.deepEqual(t.batches, [[1], [2]]);
  await t.batcher.drain(); // an empty batcher drains at once
});
