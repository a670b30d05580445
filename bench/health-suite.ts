/**
 * How fast the inference service answers its health probes while it is saturated (issue 16's
 * load: 16 clients each sending 64-image ensemble requests with tta=true), probed from a separate
 * process (`bench/health-probe.mjs`) on fresh connections, as a kubelet would. The same probes
 * with the service idle, just before the load, are the baseline: what the machine's other tenants
 * cost the probes without any of ours. Loopback only; bounded in time and count.
 *
 * Used by the `health` suite of `npm run bench` and by `bench/health-under-load.ts` (one run, any
 * settings, another checkout's services).
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { multipartBody } from './http.ts';
import { INFERENCE_INPUTS, inferenceInput, type BenchImage } from './inputs.ts';
import { header, type ResultsFile } from './report.ts';
import { startService } from './services.ts';
import { median, percentile, round } from './stats.ts';
import { check, type Target } from './targets.ts';

export const HEALTH_PATHS = ['/health/live', '/health/ready'] as const;
/** Issue 16: each probe's p95 under the load, ms. */
export const HEALTH_P95_TARGET_MS = 50;
/** The committed models (an absolute path, so a `--snapshot` of the services finds them too). */
const MODEL_REPOSITORY = resolve(import.meta.dirname, '..', 'models');

export interface HealthLoad {
  clients: number;
  imagesPerRequest: number;
  /** Seconds of load; requests in flight at the end are waited for. */
  seconds: number;
  /** A bound on the requests sent, whatever the time. */
  maxRequests: number;
  /** Seconds of probes with the service idle, before the load. */
  idleSeconds: number;
  /** Pause between one round of probes (each path once) and the next. */
  probeIntervalMs: number;
  /**
   * A client told 503 (queue full) waits for Retry-After before its next request, as a
   * well-behaved client would; false measures a retry storm instead of a saturated service.
   */
  honourRetryAfter: boolean;
}

/** The issue's load, bounded for a bench run. */
export const ISSUE_LOAD: HealthLoad = { clients: 16, imagesPerRequest: 64, seconds: 20, maxRequests: 2000, idleSeconds: 5, probeIntervalMs: 100, honourRetryAfter: true };

export interface ProbeSummary {
  /** Probes answered 200. */
  probes: number;
  p50_ms: number;
  p95_ms: number;
  p99_ms: number;
  max_ms: number;
  /** Probes that got another status, an error or no answer within 10 s (not in the latencies). */
  failures: number;
}

export interface HealthRun {
  /** 1, 5 and 15-minute load averages before the idle probes and after the load. */
  load_average_before: number[];
  load_average_after: number[];
  idle: Record<string, ProbeSummary>;
  saturated: Record<string, ProbeSummary>;
  load: { requests: number; statuses: Record<string, number>; seconds: number; images_per_second: number; request_p50_ms: number };
}

interface ProberOutput {
  latencies: Record<string, number[]>;
  failures: Record<string, number>;
}

/** Starts the prober in its own process; the promise settles with its figures when it ends. */
function probe(url: string, durationMs: number, intervalMs: number): Promise<ProberOutput> {
  const child = spawn(process.execPath, [join(import.meta.dirname, 'health-probe.mjs'), url, String(durationMs), String(intervalMs), ...HEALTH_PATHS], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk));
  // Listened for now: the prober may end before the caller awaits it.
  return once(child, 'close').then(([code]) => {
    if (code !== 0) throw new Error(`health-probe.mjs exited with ${code}`);
    return JSON.parse(out) as ProberOutput;
  });
}

function summarizeProbes(output: ProberOutput): Record<string, ProbeSummary> {
  return Object.fromEntries(
    Object.entries(output.latencies).map(([path, list]) => [
      path,
      {
        probes: list.length,
        p50_ms: round(percentile(list, 50), 1),
        p95_ms: round(percentile(list, 95), 1),
        p99_ms: round(percentile(list, 99), 1),
        max_ms: list.length ? round(Math.max(...list), 1) : Number.NaN,
        failures: output.failures[path] ?? 0,
      },
    ]),
  );
}

const loadAverage = () => loadavg().map((v) => round(v, 2));

/** The ensemble request every client sends: `imagesPerRequest` copies of `input`, tta on. */
export function ensembleRequest(input: BenchImage, imagesPerRequest: number) {
  const files = Array.from({ length: imagesPerRequest }, (_, i) => ({ field: 'image', filename: `${i}-${input.name}`, contentType: input.format === 'png' ? 'image/png' : 'image/jpeg', bytes: input.bytes }));
  return multipartBody({ tta: 'true' }, files);
}

/**
 * One measurement against a running inference service at `url`: idle probes, then the load with
 * probes beside it until the load's time is up. Every client waits for its last answer.
 */
export async function measureHealthUnderLoad(url: string, input: BenchImage, load: HealthLoad): Promise<HealthRun> {
  const before = loadAverage();
  const idle = await probe(url, load.idleSeconds * 1000, load.probeIntervalMs);
  const { body, contentType } = ensembleRequest(input, load.imagesPerRequest);
  const statuses = new Map<number, number>();
  const requestLatencies: number[] = [];
  let sent = 0;
  const prober = probe(url, load.seconds * 1000, load.probeIntervalMs);
  const started = performance.now();
  const deadline = started + load.seconds * 1000;
  await Promise.all(
    Array.from({ length: load.clients }, async () => {
      while (performance.now() < deadline && sent < load.maxRequests) {
        sent++;
        const t0 = performance.now();
        const res = await fetch(`${url}/v1/ensembles/default/classify`, { method: 'POST', headers: { 'content-type': contentType }, body: new Uint8Array(body), signal: AbortSignal.timeout(120_000) });
        await res.arrayBuffer();
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
        if (res.ok) requestLatencies.push(performance.now() - t0);
        else if (res.status === 503 && load.honourRetryAfter) await sleep(Number(res.headers.get('retry-after') ?? 1) * 1000);
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  const saturated = await prober;
  return {
    load_average_before: before,
    load_average_after: loadAverage(),
    idle: summarizeProbes(idle),
    saturated: summarizeProbes(saturated),
    load: {
      requests: sent,
      statuses: Object.fromEntries(statuses),
      seconds: round(seconds, 2),
      images_per_second: round(((statuses.get(200) ?? 0) * load.imagesPerRequest) / seconds, 1),
      request_p50_ms: round(percentile(requestLatencies, 50), 1),
    },
  };
}

/** Starts the inference service on the committed models (CPU) as the bench does, with `env` on top. */
export function startHealthTarget(env: Record<string, string> = {}) {
  return startService({ name: 'inference', env: { MODEL_REPOSITORY, EXECUTION_PROVIDERS: 'cpu', ...env }, readyTimeoutMs: 300_000 });
}

export interface HealthSuiteOptions {
  load: HealthLoad;
  runs: number;
  input: keyof typeof INFERENCE_INPUTS;
  workDir: string;
  log: (line: string) => void;
}

export interface HealthSuiteResult {
  load: HealthLoad & { tta: true; input: string; model_repository: string; execution_providers: string };
  runs: HealthRun[];
  /** Per path: each run's p95 under load and idle, and the worst under load (what the target reads). */
  summary: Record<string, { saturated_p95_ms: number[]; worst_saturated_p95_ms: number; idle_p95_ms: number[]; saturated_p50_ms_median: number; failures: number }>;
}

/** The `health` suite: one service, `runs` measurements one after the other. */
export async function runHealthSuite(options: HealthSuiteOptions): Promise<HealthSuiteResult> {
  const input = await inferenceInput(INFERENCE_INPUTS[options.input], join(options.workDir, 'inputs'));
  const service = await startHealthTarget();
  const runs: HealthRun[] = [];
  try {
    for (let i = 0; i < options.runs; i++) {
      const { load } = options;
      options.log(`health run ${i + 1}/${options.runs}: ${load.idleSeconds} s idle probes, then ${load.clients} clients × ${load.imagesPerRequest}-image ensemble requests (tta) for ${load.seconds} s`);
      const run = await measureHealthUnderLoad(service.url, input, load);
      runs.push(run);
      const line = (path: string) => `${path} p50 ${run.saturated[path]!.p50_ms} / p95 ${run.saturated[path]!.p95_ms} ms (idle p95 ${run.idle[path]!.p95_ms})`;
      options.log(`  ${HEALTH_PATHS.map(line).join(', ')}; ${run.load.images_per_second} images/s; load average ${run.load_average_before[0]} → ${run.load_average_after[0]}`);
    }
  } finally {
    await service.stop();
  }
  const summary = Object.fromEntries(
    HEALTH_PATHS.map((path) => {
      const p95s = runs.map((r) => r.saturated[path]!.p95_ms);
      return [
        path,
        {
          saturated_p95_ms: p95s,
          worst_saturated_p95_ms: Math.max(...p95s),
          idle_p95_ms: runs.map((r) => r.idle[path]!.p95_ms),
          saturated_p50_ms_median: round(median(runs.map((r) => r.saturated[path]!.p50_ms)), 1),
          failures: runs.reduce((sum, r) => sum + r.saturated[path]!.failures, 0),
        },
      ];
    }),
  );
  return {
    load: { ...options.load, tta: true, input: input.name, model_repository: 'models', execution_providers: 'cpu' },
    runs,
    summary,
  };
}

export type HealthFile = ResultsFile<HealthSuiteResult>;

/**
 * Issue 16's probe targets, read on the worst run: a liveness probe that is slow in one run of
 * two would restart a busy pod one time in two, so a median would hide what matters.
 */
export function healthTargets(result: HealthSuiteResult): Target[] {
  const { load } = result;
  return HEALTH_PATHS.map((path) =>
    check(
      `health${path}/p95`,
      `${path} p95 under load (${load.clients} clients × ${load.imagesPerRequest}-image ensemble requests, tta), worst of ${result.runs.length} run(s), ms`,
      result.summary[path]!.worst_saturated_p95_ms,
      HEALTH_P95_TARGET_MS,
      '<=',
    ),
  );
}

const ms = (v: number | null | undefined) => (v == null || !Number.isFinite(v) ? '–' : v >= 100 ? v.toFixed(0) : v.toFixed(1));
const mark = (t: Target | undefined) => (!t ? '' : t.met ? ' ✅' : ' ❌');

export function healthMarkdown(file: HealthFile): string {
  const { load, runs } = file.data;
  const lines = ['### Health probes under load', '', header(file), ''];
  lines.push(
    `Load: ${load.clients} clients, each sending ${load.imagesPerRequest} × \`${load.input}\` to \`POST /v1/ensembles/default/classify\` with \`tta=true\` for ${load.seconds} s (at most ${load.maxRequests} requests), ${load.honourRetryAfter ? 'waiting for Retry-After after a 503' : 'retrying at once after a 503 (a storm)'}; the inference service on the committed models, CPU. Probes: each path in turn on a fresh connection from a separate process, then ${load.probeIntervalMs} ms of pause; ${load.idleSeconds} s of them with the service idle just before each run's load.`,
    '',
  );
  const cell = (s: ProbeSummary | undefined) => (s ? `${ms(s.p50_ms)} / ${ms(s.p95_ms)} / ${ms(s.p99_ms)} / ${ms(s.max_ms)}${s.failures ? ` (${s.failures} failed)` : ''}` : '–');
  lines.push(`| run | load average before → after | ${HEALTH_PATHS.map((p) => `\`${p}\` under load p50 / p95 / p99 / max ms`).join(' | ')} | ${HEALTH_PATHS.map((p) => `\`${p}\` idle p50 / p95 / p99 / max ms`).join(' | ')} | probes per path under load | requests (statuses) | images/s classified |`);
  lines.push(`|${' --- |'.repeat(5 + HEALTH_PATHS.length * 2)}`);
  runs.forEach((r, i) => {
    const statuses = Object.entries(r.load.statuses).map(([code, count]) => `${count}× ${code}`).join(', ');
    lines.push(
      `| ${i + 1} | ${r.load_average_before[0]} → ${r.load_average_after[0]} | ${HEALTH_PATHS.map((p) => {
        const t = file.targets.find((tt) => tt.id === `health${p}/p95`);
        return `${cell(r.saturated[p])}${r.saturated[p]!.p95_ms === t?.value ? mark(t) : ''}`;
      }).join(' | ')} | ${HEALTH_PATHS.map((p) => cell(r.idle[p])).join(' | ')} | ${r.saturated[HEALTH_PATHS[0]]!.probes} | ${r.load.requests} (${statuses}) | ${ms(r.load.images_per_second)} |`,
    );
  });
  lines.push('');
  lines.push(
    `✅/❌: the target (issue 16: each probe's p95 ≤ ${HEALTH_P95_TARGET_MS} ms under this load), read on the worst run's p95, not the median: a liveness probe slow in one run of two would restart a busy pod one time in two. The idle columns are the same probes in the seconds before the load, nothing of ours running but the idle service: the scheduling delay the machine's other tenants add. Failed probes (another status, an error, no answer in 10 s) are counted beside the latencies, not in them.`,
    '',
  );
  return lines.join('\n');
}
