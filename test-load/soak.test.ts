import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { after, before, describe, test } from 'node:test';
import { load, mib, percentile, rssOf, slope, startAugment, sustainableRate, type Server } from './support.ts';

/**
 * Soak: SOAK_SECONDS (default 300) at the sustainable rate, the server's RSS sampled every
 * 5 s; start, peak and end are reported and the last minute must be flat. The server runs with
 * MALLOC_ARENA_MAX=2 as in the Dockerfile; SOAK_MALLOC_ARENA_MAX=unset (or another value)
 * compares. Figures also go to test-artifacts/soak-<arenas>.json.
 */
const SECONDS = Number(process.env.SOAK_SECONDS ?? 300);
const ARENAS = process.env.SOAK_MALLOC_ARENA_MAX ?? '2';
const CORES = availableParallelism();
const SAMPLE_MS = 5000;

describe(`soak: ${SECONDS} s at the sustainable rate (MALLOC_ARENA_MAX=${ARENAS})`, { timeout: (SECONDS + 120) * 1000 }, () => {
  let server: Server;

  before(async () => {
    const env: Record<string, string> = { MAX_CONCURRENT_REQUESTS: String(4 * CORES) };
    if (ARENAS !== 'unset') env.MALLOC_ARENA_MAX = ARENAS;
    else delete process.env.MALLOC_ARENA_MAX;
    server = await startAugment(env);
  });
  after(() => server.stop());

  test('every request answered 200, RSS stops growing', async (t) => {
    const idle = rssOf(server.pid);
    const { capacity, sustainable } = await sustainableRate(server.port, CORES);
    const samples: Array<[number, number]> = [];
    const started = Date.now();
    const timer = setInterval(() => samples.push([(Date.now() - started) / 1000, rssOf(server.pid)]), SAMPLE_MS);
    const result = await load(server.port, { connections: 4 * CORES, duration: SECONDS, rate: sustainable });
    clearInterval(timer);
    samples.push([(Date.now() - started) / 1000, rssOf(server.pid)]);

    const ok = result.latencies.get(200) ?? [];
    const rss = samples.map(([, bytes]) => bytes);
    const lastMinute = samples.filter(([at]) => at >= SECONDS - 60);
    const perMinute = slope(lastMinute) * 60;
    const figures = {
      seconds: SECONDS,
      mallocArenaMax: ARENAS,
      capacityPerSecond: Number(capacity.toFixed(1)),
      ratePerSecond: sustainable,
      requests: result.summary.requests.total,
      answered: result.answered,
      statusCodes: Object.fromEntries(Object.entries(result.summary.statusCodeStats).map(([code, { count }]) => [code, count])),
      errors: result.summary.errors,
      timeouts: result.summary.timeouts,
      p50Ms: Math.round(percentile(ok, 50)),
      p99Ms: Math.round(percentile(ok, 99)),
      rssMiB: {
        idle: +(idle / 1048576).toFixed(1),
        start: +(rss[0]! / 1048576).toFixed(1),
        peak: +(Math.max(...rss) / 1048576).toFixed(1),
        end: +(rss.at(-1)! / 1048576).toFixed(1),
        lastMinuteSlopePerMinute: +(perMinute / 1048576).toFixed(2),
      },
      samples: samples.map(([at, bytes]) => [Math.round(at), +(bytes / 1048576).toFixed(1)]),
    };
    mkdirSync('test-artifacts', { recursive: true });
    writeFileSync(`test-artifacts/soak-${ARENAS}.json`, `${JSON.stringify(figures, null, 2)}\n`);
    t.diagnostic(
      `${sustainable} req/s (capacity ${capacity.toFixed(1)}) for ${SECONDS} s: ${result.summary.requests.total} requests, ${JSON.stringify(figures.statusCodes)}, errors ${result.summary.errors}, timeouts ${result.summary.timeouts}; ` +
        `p50 ${figures.p50Ms} ms, p99 ${figures.p99Ms} ms; RSS idle ${mib(idle)}, start ${mib(rss[0]!)}, peak ${mib(Math.max(...rss))}, end ${mib(rss.at(-1)!)}, last-minute slope ${mib(perMinute)}/min`,
    );
    assert.equal(result.summary.errors + result.summary.timeouts, 0);
    assert.equal(result.answered, result.summary.requests.total);
    assert.deepEqual(Object.keys(figures.statusCodes), ['200']);
    // Flat: over the last minute RSS grows by less than 2% of itself (noise of the allocator).
    assert.ok(perMinute < 0.02 * rss.at(-1)!, `RSS still growing: ${mib(perMinute)}/min over the last minute`);
  });
});
