// How fast the inference service answers its health probes while it is saturated (issue 16's
// load: 16 clients each sending 64-image ensemble requests with tta=true), probed from a separate
// process on fresh connections, as a kubelet would. Loopback only; bounded in time and count.
//
//   node --import tsx bench/health-under-load.ts [--clients 16] [--images 64] [--seconds 20] [--max-requests 2000]
//     [--input gray28|photo] [--env K=V ...] [--ignore-retry-after] [--service-root DIR]
//
// Prints the figures and writes bench/results/health/run.json (--out to name it). Not part of `npm test` or `npm run bench`.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { multipartBody } from './http.ts';
import { INFERENCE_INPUTS, inferenceInput } from './inputs.ts';
import { machineInfo } from './machine.ts';
import { setServiceRoot, startService } from './services.ts';
import { percentile, round } from './stats.ts';

const { values } = parseArgs({
  options: {
    clients: { type: 'string', default: '16' },
    images: { type: 'string', default: '64' },
    seconds: { type: 'string', default: '20' },
    'max-requests': { type: 'string', default: '2000' },
    input: { type: 'string', default: 'gray28' },
    env: { type: 'string', multiple: true, default: [] },
    'ignore-retry-after': { type: 'boolean', default: false },
    // Another checkout's services (for a before/after comparison on the same machine, same hour).
    'service-root': { type: 'string' },
    out: { type: 'string', default: join(import.meta.dirname, 'results', 'health', 'run.json') },
  },
});
const clients = Number(values.clients);
const imagesPerRequest = Number(values.images);
const seconds = Number(values.seconds);
const maxRequests = Number(values['max-requests']);
const extraEnv = Object.fromEntries(values.env!.map((pair) => pair.split(/=(.*)/s).slice(0, 2) as [string, string]));

if (values['service-root']) setServiceRoot(values['service-root']);
const input = await inferenceInput(INFERENCE_INPUTS[values.input as keyof typeof INFERENCE_INPUTS], join(import.meta.dirname, 'work', 'inputs'));
const service = await startService({ name: 'inference', env: { MODEL_REPOSITORY: 'models', EXECUTION_PROVIDERS: 'cpu', ...extraEnv } });
const files = Array.from({ length: imagesPerRequest }, (_, i) => ({ field: 'image', filename: `${i}-${input.name}`, contentType: input.format === 'png' ? 'image/png' : 'image/jpeg', bytes: input.bytes }));
const { body, contentType } = multipartBody({ tta: 'true' }, files);

async function probeIdle(): Promise<Record<string, number[]>> {
  const child = spawn(process.execPath, [join(import.meta.dirname, 'health-probe.mjs'), service.url, '3000', '50', '/health/live', '/health/ready'], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk));
  await once(child, 'close');
  return (JSON.parse(out) as { latencies: Record<string, number[]> }).latencies;
}

const summary = (list: number[]) => ({ probes: list.length, p50_ms: round(percentile(list, 50), 1), p95_ms: round(percentile(list, 95), 1), p99_ms: round(percentile(list, 99), 1), max_ms: round(Math.max(...list), 1) });

try {
  const idle = await probeIdle();
  const load0 = loadavg()[0];
  const deadline = performance.now() + seconds * 1000;
  const statuses = new Map<number, number>();
  let sent = 0;
  const requestLatencies: number[] = [];
  const prober = spawn(process.execPath, [join(import.meta.dirname, 'health-probe.mjs'), service.url, String(seconds * 1000), '100', '/health/live', '/health/ready'], { stdio: ['ignore', 'pipe', 'inherit'] });
  let probeOut = '';
  prober.stdout.on('data', (chunk: Buffer) => (probeOut += chunk));
  // Taken now: the prober may end before the load does, and a late listener would miss the event.
  const proberDone = once(prober, 'close');
  const started = performance.now();
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (performance.now() < deadline && sent < maxRequests) {
        sent++;
        const t0 = performance.now();
        const res = await fetch(`${service.url}/v1/ensembles/default/classify`, { method: 'POST', headers: { 'content-type': contentType }, body: new Uint8Array(body), signal: AbortSignal.timeout(120_000) });
        await res.arrayBuffer();
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
        if (res.ok) requestLatencies.push(performance.now() - t0);
        // A 503 (queue full) says when to come back, as a well-behaved client would; ignoring it
        // (--ignore-retry-after) measures a retry storm instead of a saturated service.
        else if (res.status === 503 && !values['ignore-retry-after']) await sleep(Number(res.headers.get('retry-after') ?? 1) * 1000);
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  await proberDone;
  const probed = JSON.parse(probeOut) as { latencies: Record<string, number[]>; failures: Record<string, number> };
  const result = {
    when: new Date().toISOString(),
    machine: machineInfo(),
    load_average_during: [round(load0!, 2), round(loadavg()[0]!, 2)],
    setup: { clients, images_per_request: imagesPerRequest, tta: true, input: input.name, seconds, max_requests: maxRequests, honours_retry_after: !values['ignore-retry-after'], env: extraEnv },
    load: {
      requests: sent,
      statuses: Object.fromEntries(statuses),
      images_per_second: round(((statuses.get(200) ?? 0) * imagesPerRequest) / elapsed, 1),
      request_p50_ms: round(percentile(requestLatencies, 50), 1),
    },
    idle: Object.fromEntries(Object.entries(idle).map(([path, list]) => [path, summary(list)])),
    saturated: Object.fromEntries(Object.entries(probed.latencies).map(([path, list]) => [path, { ...summary(list), failures: probed.failures[path] }])),
  };
  console.log(JSON.stringify(result, null, 2));
  writeFileSync(values.out!, `${JSON.stringify(result, null, 2)}\n`);
} finally {
  await service.stop();
}
