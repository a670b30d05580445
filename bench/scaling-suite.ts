/**
 * Each service pinned to 1 core and then to 2 (`taskset`), under the same load: how throughput
 * grows with cores, and what one item costs in CPU either way. The load generator is not pinned:
 * with the service on one core it has the other to itself, with two it shares them, so the CPU
 * per item (every thread of the service, from /proc) is the cleaner measure of scaling.
 *
 * Used by the `scaling` suite of `npm run bench` and by `bench/scaling.ts` (any core counts,
 * some workloads only, settings for the services).
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { augmentCases, SEED } from './augment-cases.ts';
import { countBudget } from './augment-suite.ts';
import { cannonRun, multipartBody, processCpuMs, type HttpRequestSpec } from './http.ts';
import { AUGMENT_INPUTS, INFERENCE_INPUTS, augmentInput, inferenceInput } from './inputs.ts';
import type { Budget } from './pool.ts';
import { header, type ResultsFile } from './report.ts';
import { startService } from './services.ts';
import { round, summarize } from './stats.ts';

export interface Workload {
  service: 'augment' | 'inference';
  label: string;
  /** Items (images) per request. */
  items: number;
  spec(url: string): HttpRequestSpec;
  env?: Record<string, string>;
}

/** Augment flip and rotate (raw body, the 1024×768 JPEG) and inference resnet (16 grey 28×28 PNGs per request). */
export async function scalingWorkloads(workDir: string): Promise<Workload[]> {
  const inputs = join(workDir, 'inputs');
  const { image: jpeg } = await augmentInput(AUGMENT_INPUTS[1]!, inputs);
  const item = await inferenceInput(INFERENCE_INPUTS.gray28, inputs);
  const rawSpec = (op: string) => {
    const fields = augmentCases(jpeg.width, jpeg.height).find((c) => c.op === op)!.fields;
    return (url: string): HttpRequestSpec => ({
      url: `${url}/v1/augment/${op}?${new URLSearchParams({ seed: String(SEED), ...fields })}`,
      body: jpeg.bytes,
      headers: { 'content-type': 'image/jpeg' },
    });
  };
  const perRequest = 16;
  const batch = multipartBody({}, Array.from({ length: perRequest }, (_, i) => ({ field: 'image', filename: `${i}.png`, contentType: 'image/png', bytes: item.bytes })));
  return [
    { service: 'augment', label: `augment flip, ${jpeg.name}, raw body`, items: 1, spec: rawSpec('flip') },
    { service: 'augment', label: `augment rotate, ${jpeg.name}, raw body`, items: 1, spec: rawSpec('rotate') },
    {
      service: 'inference',
      label: `inference resnet, ${perRequest} × ${item.name} per request`,
      items: perRequest,
      spec: (url) => ({ url: `${url}/v1/models/resnet/classify`, body: batch.body, headers: { 'content-type': batch.contentType } }),
      env: { MODEL_REPOSITORY: join(import.meta.dirname, '..', 'models'), EXECUTION_PROVIDERS: 'cpu' },
    },
  ];
}

/** The CPUs this process may run on (Linux: /proc/self/status), in order; 0..n-1 elsewhere. */
export function allowedCpus(): number[] {
  try {
    const line = readFileSync('/proc/self/status', 'utf8').match(/^Cpus_allowed_list:\s*(.+)$/m)?.[1];
    if (line) {
      return line.split(',').flatMap((range) => {
        const [a, b] = range.split('-').map(Number) as [number, number | undefined];
        return Array.from({ length: (b ?? a) - a + 1 }, (_, i) => a + i);
      });
    }
  } catch {
    // not Linux
  }
  return Array.from({ length: availableParallelism() }, (_, i) => i);
}

/** Why the 1-vs-2-core measurement cannot run here, or undefined when it can. */
export function scalingSkipReason(): string | undefined {
  const cpus = allowedCpus().length;
  if (cpus < 2) return `this process may use ${cpus} core(s); 1 vs 2 cores needs 2`;
  const probe = spawnSync('taskset', ['-c', '0', 'true']);
  if (probe.error || probe.status !== 0) return `taskset is missing or does not work here (${probe.error?.message ?? `exit ${probe.status}`}; Debian: util-linux)`;
  return undefined;
}

export interface ScalingFigures {
  items_per_s: number;
  per_run: number[];
  p50_ms: number;
  service_cpu_ms_per_item: number | null;
  event_loop_cpu_ms_per_item: number;
}

export interface ScalingRow {
  workload: string;
  service: 'augment' | 'inference';
  /** Keyed by core count. */
  figures: Record<string, ScalingFigures>;
  /** 2-core items/s ÷ (2 × 1-core items/s); null without both. */
  efficiency_2_vs_1: number | null;
}

export interface ScalingOptions {
  coreCounts: number[];
  concurrency: number;
  /** Counted runs; with `amount` unset, sized from a 1 s probe to last `seconds` each. */
  budget: Budget;
  workloads: Workload[];
  env?: Record<string, string>;
  log: (line: string) => void;
}

export interface ScalingResult {
  concurrency: number;
  core_counts: number[];
  cpus: number[];
  env: Record<string, string>;
  rows: ScalingRow[];
}

export async function measureScaling(options: ScalingOptions): Promise<ScalingResult> {
  const cpus = allowedCpus();
  const coreCounts = options.coreCounts.filter((n) => n >= 1 && n <= cpus.length);
  const { concurrency } = options;
  const rows: ScalingRow[] = [];
  for (const workload of options.workloads) {
    const figures: Record<string, ScalingFigures> = {};
    for (const cores of coreCounts) {
      const cpuList = cpus.slice(0, cores).join(',');
      // AUGSERVE_CORES as the pinned count, so the pool and the inference workers are sized for it as they would be on such a host.
      const service = await startService({ name: workload.service, wrap: ['taskset', '-c', cpuList], env: { AUGSERVE_CORES: String(cores), ...workload.env, ...options.env }, readyTimeoutMs: 300_000 });
      try {
        const spec = workload.spec(service.url);
        // Counted runs (as the other suites'): a timed autocannon run drops the requests in flight at its end.
        let budget = options.budget;
        if (budget.amount === undefined) {
          const probe = await cannonRun(spec, concurrency, { seconds: 1 });
          budget = countBudget(budget, probe.items / probe.seconds, concurrency);
        }
        // autocannon ends a counted run on its next 1 s tick, so quick runs skip the warm-up.
        if (budget.warmup > 0) await cannonRun(spec, concurrency, { seconds: 0, amount: budget.warmup });
        const pid = service.child.pid!;
        // The main thread alone (its task id is the pid): the event loop's share of the work, which one process cannot spread.
        const main0 = processCpuMs(pid, pid)!;
        const runs = [];
        for (let i = 0; i < budget.runs; i++) runs.push(await cannonRun(spec, concurrency, budget, workload.items, pid));
        const mainMs = processCpuMs(pid, pid)! - main0;
        const f = summarize(runs);
        const items = runs.reduce((sum, run) => sum + run.items, 0);
        figures[cores] = { items_per_s: f.throughput, per_run: f.per_run, p50_ms: f.p50_ms, service_cpu_ms_per_item: f.cpu_ms_per_item ?? null, event_loop_cpu_ms_per_item: round(mainMs / items) };
        options.log(`scaling ${workload.label}, ${cores} core(s) [${cpuList}]: ${f.throughput} items/s, p50 ${f.p50_ms} ms, service CPU ${f.cpu_ms_per_item} ms/item (event loop ${round(mainMs / items)})`);
      } finally {
        await service.stop();
      }
    }
    const [one, two] = [figures[1], figures[2]];
    rows.push({ workload: workload.label, service: workload.service, figures, efficiency_2_vs_1: one && two ? round(two.items_per_s / (2 * one.items_per_s)) : null });
  }
  return { concurrency, core_counts: coreCounts, cpus: cpus.slice(0, Math.max(...coreCounts)), env: options.env ?? {}, rows };
}

export type ScalingFile = ResultsFile<ScalingResult>;

const n = (v: number | null | undefined, digits = 1) => (v == null || !Number.isFinite(v) ? '–' : v >= 100 ? v.toFixed(0) : v.toFixed(digits));

export function scalingMarkdown(file: ScalingFile): string {
  const { data } = file;
  const counts = data.core_counts;
  const cores = (c: number) => `${c} core${c === 1 ? '' : 's'}`;
  const { budget } = file.settings as { budget?: Budget };
  const lines = ['### Scaling: 1 core and 2 cores', '', header(file), ''];
  lines.push(
    `Each service started pinned with \`taskset\` to ${counts.map((c) => `CPU${c === 1 ? '' : 's'} ${data.cpus.slice(0, c).join(',')}`).join(', then to ')} (\`AUGSERVE_CORES\` set to match, so the pool and the inference workers are sized as on such a host), driven by autocannon at ${data.concurrency} connections: counted runs${budget?.warmup ? ' after a warm-up' : ''}, median of ${budget?.runs ?? '?'}. The load generator is not pinned. CPU per item from /proc: every thread of the service, and the main thread (the event loop) alone.`,
    '',
  );
  lines.push(
    `| workload | ${counts.map((c) => `${cores(c)}: items/s (p50 ms per request)`).join(' | ')} | efficiency (2-core ÷ 2 × 1-core) | service CPU ms/item, ${counts.map(cores).join(' / ')} | event-loop CPU ms/item, ${counts.map(cores).join(' / ')} |`,
  );
  lines.push(`|${' --- |'.repeat(4 + counts.length)}`);
  for (const row of data.rows) {
    const at = (c: number) => row.figures[c];
    lines.push(
      `| ${row.workload} | ${counts.map((c) => (at(c) ? `${n(at(c)!.items_per_s)} (${n(at(c)!.p50_ms)})` : '–')).join(' | ')} | ${row.efficiency_2_vs_1 === null ? '–' : `**${row.efficiency_2_vs_1.toFixed(2)}**`} | ${counts.map((c) => n(at(c)?.service_cpu_ms_per_item, 2)).join(' / ')} | ${counts.map((c) => n(at(c)?.event_loop_cpu_ms_per_item, 2)).join(' / ')} |`,
    );
  }
  lines.push('');
  lines.push(
    'No target: the issue asks for the curve and the efficiency. On a machine with exactly 2 cores the 2-core run shares its cores with the load generator, which understates the efficiency; the CPU per item, about the same on either count when spreading the work costs nothing, is the steadier figure. The projection for larger hosts is written by hand above.',
    '',
  );
  return lines.join('\n');
}
