import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { buildHostileCorpus, corpusEnv, validImage, type HostileEntry } from '../../scripts/make-hostile-corpus.ts';
import { buildAugmentApp } from '../../services/augment/app.ts';
import { readAugmentConfig } from '../../services/augment/config.ts';
import { augmentEndpoints, inferenceExists, inject, judge, mib, settledMemory, type Endpoint } from './support.ts';

/** A bomb must be refused from its header: this is generous for inject's own overhead. */
const BOMB_BUDGET_MS = 100;

describe('hostile corpus against every augment upload endpoint (inject)', () => {
  let app: FastifyInstance;
  let corpus: HostileEntry[];
  let valid: Buffer;
  let endpoints: Endpoint[];
  const tried = { requests: 0, fiveHundreds: 0 };
  const bombTimes: Array<[string, number]> = [];

  /** Every entry that applies to the endpoint; returns one line per entry whose answer is wrong. */
  async function runCorpus(endpoint: Endpoint, timeBombs = false): Promise<string[]> {
    const failures: string[] = [];
    for (const entry of corpus) {
      const started = performance.now();
      let answer;
      try {
        answer = await inject(app, entry, endpoint, valid);
      } catch (error) {
        failures.push(`${entry.name}: ${(error as Error).message}`);
        continue;
      }
      if (!answer) continue;
      const elapsed = performance.now() - started;
      tried.requests++;
      if (answer.statusCode >= 500) tried.fiveHundreds++;
      const problem = await judge(answer, entry.expect, 'AUG', entry.kind === 'image' ? endpoint.output : undefined);
      if (problem) failures.push(`${entry.name}: ${problem}`);
      if (timeBombs && entry.bomb) {
        bombTimes.push([`${endpoint.label}: ${entry.name}`, elapsed]);
        if (elapsed > BOMB_BUDGET_MS) failures.push(`${entry.name}: refused after ${elapsed.toFixed(0)} ms (budget ${BOMB_BUDGET_MS} ms)`);
      }
    }
    return failures;
  }

  before(async () => {
    corpus = await buildHostileCorpus();
    valid = await validImage();
    endpoints = augmentEndpoints(valid);
    app = await buildAugmentApp(readAugmentConfig({ LOG_LEVEL: 'silent', ...corpusEnv() }));
  });
  after(() => app.close());

  test('the corpus holds at least 40 entries of each kind of trouble', () => {
    assert.ok(corpus.length >= 40, `${corpus.length} entries`);
    for (const kind of ['image', 'form', 'body', 'params']) assert.ok(corpus.some((e) => e.kind === kind), kind);
    assert.ok(corpus.filter((e) => e.bomb).length >= 6);
  });

  describe('every entry gets its documented answer', () => {
    for (const label of ['flip', 'rotate', 'crop', 'scale', 'cutout', 'cutmix', 'pipeline', 'cutmix (mix_image)']) {
      test(label, async () => {
        const endpoint = endpoints.find((e) => e.label === label)!;
        assert.deepEqual(await runCorpus(endpoint, true), []);
      });
    }
  });

  test('bombs are refused from their header in under 100 ms', (t) => {
    assert.ok(bombTimes.length > 0);
    const slowest = bombTimes.reduce((a, b) => (b[1] > a[1] ? b : a));
    t.diagnostic(`${bombTimes.length} bomb requests, slowest ${slowest[1].toFixed(1)} ms (${slowest[0]})`);
    for (const [name, ms] of bombTimes) assert.ok(ms < BOMB_BUDGET_MS, `${name}: ${ms.toFixed(1)} ms`);
  });

  test('no 5xx over the whole corpus', (t) => {
    t.diagnostic(`${tried.requests} requests, ${tried.fiveHundreds} answered 5xx`);
    assert.equal(tried.fiveHundreds, 0);
  });

  test('memory after another pass is back within 10% of what it was after the first', async (t) => {
    // The first pass is the warm-up: each decoder and encoder is used once, libvips and the
    // allocator have their working set. Another pass must not add to it.
    const warm = await settledMemory();
    for (const endpoint of endpoints) await runCorpus(endpoint);
    const end = await settledMemory();
    // RSS is the process as the OS sees it (V8 heap, Buffers, libvips and glibc arenas);
    // heapUsed + external is what the JavaScript side still holds.
    t.diagnostic(`RSS ${mib(warm.rss)} → ${mib(end.rss)}; heapUsed+external ${mib(warm.heapUsed + warm.external)} → ${mib(end.heapUsed + end.external)}`);
    assert.ok(end.rss <= warm.rss * 1.1, `RSS grew from ${mib(warm.rss)} to ${mib(end.rss)}`);
    assert.ok(end.heapUsed + end.external <= (warm.heapUsed + warm.external) * 1.1 + 4 * 1048576, 'heap + external grew');
  });
});

describe('hostile corpus against inference', { skip: inferenceExists() ? false : 'services/inference/app.ts does not exist yet' }, () => {
  test('placeholder until the inference app exists', () => {});
});
