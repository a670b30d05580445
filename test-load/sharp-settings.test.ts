import assert from 'node:assert/strict';
import { availableParallelism } from 'node:os';
import { describe, test } from 'node:test';
import { load, mib, percentile, rssOf, startAugment } from './support.ts';

/**
 * The figures behind SHARP_CONCURRENCY and MALLOC_ARENA_MAX (docs/RELIABILITY.md): closed-loop
 * throughput, p99 and RSS for each combination, the same requests and duration each. A check
 * that nothing fails, and a table in the diagnostics; it does not pick a winner by itself.
 */
const CORES = availableParallelism();
const SECONDS = Number(process.env.SETTINGS_SECONDS ?? 20);
const COMBINATIONS: Array<Record<string, string>> = [
  { SHARP_CONCURRENCY: '1', MALLOC_ARENA_MAX: '2' },
  { SHARP_CONCURRENCY: '0', MALLOC_ARENA_MAX: '2' },
  { SHARP_CONCURRENCY: '1' },
];

describe('sharp concurrency and glibc arenas under the same closed-loop load', { timeout: COMBINATIONS.length * (SECONDS + 60) * 1000 }, () => {
  for (const env of COMBINATIONS) {
    const label = Object.entries(env).map(([k, v]) => `${k}=${v}`).join(' ') + (env.MALLOC_ARENA_MAX ? '' : ' MALLOC_ARENA_MAX unset');
    test(label, async (t) => {
      const saved = process.env.MALLOC_ARENA_MAX;
      delete process.env.MALLOC_ARENA_MAX;
      const server = await startAugment({ MAX_CONCURRENT_REQUESTS: String(4 * CORES), ...env });
      if (saved !== undefined) process.env.MALLOC_ARENA_MAX = saved;
      try {
        await load(server.port, { connections: CORES, duration: 3 });
        let peak = 0;
        const timer = setInterval(() => (peak = Math.max(peak, rssOf(server.pid))), 1000);
        const result = await load(server.port, { connections: 2 * CORES, duration: SECONDS });
        clearInterval(timer);
        const ok = result.latencies.get(200) ?? [];
        t.diagnostic(`${result.summary.requests.average.toFixed(1)} req/s, p50 ${percentile(ok, 50).toFixed(0)} ms, p99 ${percentile(ok, 99).toFixed(0)} ms, RSS peak ${mib(peak)}, after ${mib(rssOf(server.pid))}`);
        assert.equal(result.summary.errors + result.summary.timeouts, 0);
        assert.equal(ok.length, result.answered);
      } finally {
        await server.stop();
      }
    });
  }
});
