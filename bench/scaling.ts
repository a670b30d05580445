// Each service pinned to 1 core and then to 2 (taskset), under the same load: how throughput
// grows with cores, and what one request costs in CPU either way. The load generator is not
// pinned: with the service on one core it has the other to itself, with two it shares them, so
// the CPU per request (every thread of the service, from /proc) is the cleaner measure of scaling.
//
//   node --import tsx bench/scaling.ts [--cores 1,2] [--seconds 2] [--runs 3] [--only inference] [--env K=V ...] [--out bench/results/scaling/run.json]
//
// Not part of `npm test` or `npm run bench`; docs/BENCHMARKS.md quotes its figures.
import { writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { augmentCases, SEED } from './augment-cases.ts';
import { countBudget } from './augment-suite.ts';
import { cannonRun, multipartBody, processCpuMs, type HttpRequestSpec } from './http.ts';
import { AUGMENT_INPUTS, INFERENCE_INPUTS, augmentInput, inferenceInput } from './inputs.ts';
import { machineInfo } from './machine.ts';
import { startService } from './services.ts';
import { round, summarize } from './stats.ts';

const { values } = parseArgs({
  options: {
    cores: { type: 'string', default: '1,2' },
    seconds: { type: 'string', default: '2' },
    runs: { type: 'string', default: '3' },
    concurrency: { type: 'string', default: '16' },
    // Some workloads only (matched against their labels), and settings for the services.
    only: { type: 'string' },
    env: { type: 'string', multiple: true, default: [] },
    out: { type: 'string', default: join(import.meta.dirname, 'results', 'scaling', 'run.json') },
  },
});
const coreCounts = values.cores!.split(',').map(Number).filter((n) => n >= 1 && n <= availableParallelism());
const concurrency = Number(values.concurrency);
const inputs = join(import.meta.dirname, 'work', 'inputs');

interface Workload {
  service: 'augment' | 'inference';
  label: string;
  /** Items (images) per request. */
  items: number;
  spec(url: string): HttpRequestSpec;
  env?: Record<string, string>;
}

const { image: jpeg } = await augmentInput(AUGMENT_INPUTS[1]!, inputs);
const item = await inferenceInput(INFERENCE_INPUTS.gray28, inputs);
const rawCase = (op: string) => augmentCases(jpeg.width, jpeg.height).find((c) => c.op === op)!;
const rawSpec = (op: string) => (url: string): HttpRequestSpec => ({
  url: `${url}/v1/augment/${op}?${new URLSearchParams({ seed: String(SEED), ...rawCase(op).fields })}`,
  body: jpeg.bytes,
  headers: { 'content-type': 'image/jpeg' },
});
const batch = multipartBody({}, Array.from({ length: 16 }, (_, i) => ({ field: 'image', filename: `${i}.png`, contentType: 'image/png', bytes: item.bytes })));

const workloads: Workload[] = [
  { service: 'augment', label: `augment flip, ${jpeg.name}, raw body`, items: 1, spec: rawSpec('flip') },
  { service: 'augment', label: `augment rotate, ${jpeg.name}, raw body`, items: 1, spec: rawSpec('rotate') },
  {
    service: 'inference',
    label: `inference resnet, 16 × ${item.name} per request`,
    items: 16,
    spec: (url) => ({ url: `${url}/v1/models/resnet/classify`, body: batch.body, headers: { 'content-type': batch.contentType } }),
    env: { MODEL_REPOSITORY: 'models', EXECUTION_PROVIDERS: 'cpu' },
  },
];

const extraEnv = Object.fromEntries(values.env!.map((pair) => pair.split(/=(.*)/s).slice(0, 2) as [string, string]));
const rows = [];
for (const workload of workloads.filter((w) => !values.only || w.label.includes(values.only))) {
  const figures: Record<number, { items_per_s: number; p50_ms: number; service_cpu_ms_per_item: number | null; event_loop_cpu_ms_per_item: number }> = {};
  for (const cores of coreCounts) {
    const cpuList = Array.from({ length: cores }, (_, i) => i).join(',');
    // AUGSERVE_CORES as the pinned count, so the pool and the inference workers are sized for it as they would be on such a host.
    const service = await startService({ name: workload.service, wrap: ['taskset', '-c', cpuList], env: { AUGSERVE_CORES: String(cores), ...workload.env, ...extraEnv } });
    try {
      const spec = workload.spec(service.url);
      // Counted runs (as the suite's): a timed autocannon run drops the requests in flight at its end.
      const probe = await cannonRun(spec, concurrency, { seconds: 1 });
      const budget = countBudget({ seconds: Number(values.seconds), warmup: concurrency, runs: Number(values.runs) }, probe.items / probe.seconds, concurrency);
      await cannonRun(spec, concurrency, { seconds: 0, amount: budget.warmup });
      const pid = service.child.pid!;
      // The main thread alone (its task id is the pid): the event loop's share of the work, which one process cannot spread.
      const main0 = processCpuMs(pid, pid)!;
      const runs = [];
      for (let i = 0; i < budget.runs; i++) runs.push(await cannonRun(spec, concurrency, budget, workload.items, pid));
      const mainMs = processCpuMs(pid, pid)! - main0;
      const f = summarize(runs);
      const items = runs.reduce((sum, run) => sum + run.items, 0);
      figures[cores] = { items_per_s: f.throughput, p50_ms: f.p50_ms, service_cpu_ms_per_item: f.cpu_ms_per_item ?? null, event_loop_cpu_ms_per_item: round(mainMs / items) };
      process.stderr.write(`${workload.label}, ${cores} core(s): ${f.throughput} items/s, p50 ${f.p50_ms} ms, service CPU ${f.cpu_ms_per_item} ms/item (event loop ${round(mainMs / items)})\n`);
    } finally {
      await service.stop();
    }
  }
  const [one, two] = [figures[1], figures[2]];
  rows.push({ workload: workload.label, concurrency, figures, efficiency_2_vs_1: one && two ? round(two.items_per_s / (2 * one.items_per_s)) : null });
}
const result = { when: new Date().toISOString(), machine: machineInfo(), concurrency, env: extraEnv, rows };
console.log(JSON.stringify(result, null, 2));
writeFileSync(values.out!, `${JSON.stringify(result, null, 2)}\n`);
