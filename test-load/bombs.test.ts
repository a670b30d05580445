import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { buildHostileCorpus, corpusEnv, validImage, type HostileEntry } from '../scripts/make-hostile-corpus.ts';
import { buildAugmentApp } from '../services/augment/app.ts';
import { readAugmentConfig } from '../services/augment/config.ts';
import { augmentEndpoints, inject, judge, type Endpoint } from '../test/hardening/support.ts';

/**
 * How fast decompression bombs are refused. `npm test` checks that each bomb gets its documented
 * 413 (test/hardening/corpus.test.ts); this measures that the refusal comes from the header,
 * before any decoding: a decoded bomb would take seconds, the header read well under 100 ms.
 * A time budget depends on the machine, so it lives here and not in the unit suite.
 */
const BOMB_BUDGET_MS = 100;

describe('bombs against every augment upload endpoint (inject)', () => {
  let app: FastifyInstance;
  let bombs: HostileEntry[];
  let valid: Buffer;
  let endpoints: Endpoint[];

  before(async () => {
    bombs = (await buildHostileCorpus()).filter((entry) => entry.bomb);
    valid = await validImage();
    endpoints = augmentEndpoints(valid);
    app = await buildAugmentApp(readAugmentConfig({ LOG_LEVEL: 'silent', ...corpusEnv() }));
  });
  after(() => app.close());

  test(`bombs are refused from their header: median under ${BOMB_BUDGET_MS} ms per bomb`, async (t) => {
    const times = new Map<string, number[]>();
    for (const endpoint of endpoints) {
      for (const entry of bombs) {
        const started = performance.now();
        const answer = await inject(app, entry, endpoint, valid);
        if (!answer) continue;
        const elapsed = performance.now() - started;
        assert.equal(await judge(answer, entry.expect, 'AUG', entry.kind === 'image' ? endpoint.output : undefined), undefined, `${endpoint.label}: ${entry.name}`);
        times.set(entry.name, [...(times.get(entry.name) ?? []), elapsed]);
      }
    }
    assert.ok(times.size > 0);
    for (const [name, list] of times) {
      const sorted = list.sort((a, b) => a - b);
      const median = sorted[sorted.length >> 1]!;
      t.diagnostic(`${name}: median ${median.toFixed(1)} ms, slowest ${sorted.at(-1)!.toFixed(1)} ms over ${sorted.length} endpoints`);
      assert.ok(median < BOMB_BUDGET_MS, `${name}: median ${median.toFixed(1)} ms`);
    }
  });
});
