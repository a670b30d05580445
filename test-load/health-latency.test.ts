import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { get } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { makeImage } from '../test/helpers/images.ts';
import { SLOW_REPOSITORY } from '../test/inference/helpers.ts';

/**
 * Liveness latency while the inference service is saturated. A latency budget depends on the
 * machine, so this lives in `npm run test:load`, not in the unit suite (it was there, and
 * could fail on a busy CI host for reasons outside the code).
 */
const SERVER = fileURLToPath(new URL('../services/inference/server.ts', import.meta.url));

/** Milliseconds for one GET on a fresh connection, and the body. */
function timedGet(url: string): Promise<{ ms: number; status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    get(url, { agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ ms: performance.now() - started, status: res.statusCode ?? 0, body }));
    }).on('error', reject);
  });
}

/**
 * A closed-loop load generator, as a separate low-priority process (in production the load comes
 * from other machines): `clients` classify requests always in flight until SIGTERM, then it
 * prints the count of answers per status.
 */
const LOAD = `
const [url, imagePath, clients, images] = process.argv.slice(1);
const image = require('node:fs').readFileSync(imagePath);
let stop = false;
const counts = {};
process.on('SIGTERM', () => { stop = true; });
async function client() {
  while (!stop) {
    const body = new FormData();
    for (let i = 0; i < Number(images); i++) body.append('image', new Blob([image]), 'x.jpg');
    body.append('top_k', '1');
    try {
      const res = await fetch(url, { method: 'POST', body });
      await res.arrayBuffer();
      counts[res.status] = (counts[res.status] || 0) + 1;
    } catch (error) {
      counts.error = (counts.error || 0) + 1;
    }
  }
}
Promise.all(Array.from({ length: Number(clients) }, client)).then(() => console.log(JSON.stringify(counts)));
`;

const metric = (text: string, name: string) => Number(new RegExp(`^${name} ([0-9.e+-]+)$`, 'm').exec(text)?.[1] ?? NaN);

test('/health/live answers within 50 ms on a listening server saturated with classify requests', { timeout: 120_000 }, async (t) => {
  const server = spawn(process.execPath, ['--import', 'tsx', SERVER], {
    env: { ...process.env, INFERENCE_PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info', MODEL_REPOSITORY: SLOW_REPOSITORY, EXECUTION_PROVIDERS: 'cpu', INFERENCE_WORKERS: '1', MAX_CONCURRENT_REQUESTS: '1000' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const dir = await mkdtemp(join(tmpdir(), 'augserve-load-'));
  let load: ChildProcess | undefined;
  try {
    const base = await new Promise<string>((resolve, reject) => {
      let text = '';
      server.stdout!.on('data', (chunk: Buffer) => {
        text += chunk.toString();
        const match = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(text);
        if (match) resolve(match[1]!);
      });
      server.on('exit', (code) => reject(new Error(`server exited with ${code}: ${text}`)));
    });
    for (let i = 0; i < 400 && (await timedGet(`${base}/health/ready`)).status !== 200; i++) await sleep(50);

    const imagePath = join(dir, 'photo.jpg');
    await writeFile(imagePath, await makeImage(256, 192, 'jpeg'));
    load = spawn('nice', ['-n', '10', process.execPath, '-e', LOAD, `${base}/v1/models/slow-gray/classify`, imagePath, '8', '16'], { stdio: ['ignore', 'pipe', 'inherit'] });
    let output = '';
    load.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const finished = new Promise<void>((resolve) => load!.once('exit', () => resolve()));
    await sleep(1500); // let the queue fill

    await timedGet(`${base}/metrics`); // resets the event-loop delay histogram
    const probes: number[] = [];
    for (let i = 0; i < 40; i++) {
      const { ms, status } = await timedGet(`${base}/health/live`);
      assert.equal(status, 200);
      probes.push(ms);
      await sleep(25);
    }
    const lagMax = metric((await timedGet(`${base}/metrics`)).body, 'nodejs_eventloop_lag_max_seconds');
    load.kill('SIGTERM');
    await finished;
    const counts = JSON.parse(output) as Record<string, number>;

    const answered = Object.entries(counts).filter(([k]) => k !== 'error').reduce((s, [, v]) => s + v, 0);
    assert.ok(answered >= 8 && (counts['200'] ?? 0) > 0, `the service was answering classify requests: ${JSON.stringify(counts)}`);
    const sorted = [...probes].sort((a, b) => a - b);
    const median = sorted[Math.floor(sorted.length / 2)]!;
    const within = probes.filter((ms) => ms < 50).length / probes.length;
    const report = `server event-loop max delay ${(lagMax * 1000).toFixed(1)} ms; /health/live ms: ${probes.map((p) => p.toFixed(1)).join(', ')}`;
    t.diagnostic(report);
    // Were inference on the event loop, probes would queue behind batches of 90-180 ms: a median
    // of tens of ms and most probes over 50 ms. The tail is left to the scheduler of a shared
    // 2-core CI host, where GC scavenges of 1 MB were seen taking 100 ms for want of CPU
    // (observed here: median 2-10 ms, 75-95% of probes within 50 ms, isolated 100-450 ms spikes).
    assert.ok(median < 20, `median ${median.toFixed(1)} ms; ${report}`);
    assert.ok(within >= 2 / 3, `${(within * 100).toFixed(0)}% of probes within 50 ms; ${report}`);
  } finally {
    load?.kill('SIGTERM');
    server.kill('SIGTERM');
    await new Promise((resolve) => server.once('exit', resolve));
    await rm(dir, { recursive: true, force: true });
  }
});

