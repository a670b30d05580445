/** Small statistics over measured samples; nothing here knows what was measured. */

export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Nearest-rank percentile (p in [0, 100]) of unsorted samples. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = Float64Array.from(values).sort();
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank]!;
}

/** Rounds for the results file: 3 significant digits beyond the integer part is plenty. */
/**
 * Times each task once per round, in turn (A, B, C, A, B, C ...), after one warm-up call each, so
 * a busy machine's noise falls on all of them alike: wall and CPU ms (every thread of this
 * process) per call, one list per task.
 */
export async function timeInterleaved(tasks: ReadonlyArray<() => Promise<unknown>>, rounds: number): Promise<{ wall: number[][]; cpu: number[][] }> {
  const wall = tasks.map(() => [] as number[]);
  const cpu = tasks.map(() => [] as number[]);
  for (const task of tasks) await task();
  for (let r = 0; r < rounds; r++) {
    for (const [i, task] of tasks.entries()) {
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      await task();
      wall[i]!.push(performance.now() - t0);
      const used = process.cpuUsage(c0);
      cpu[i]!.push((used.user + used.system) / 1000);
    }
  }
  return { wall, cpu };
}

/**
 * How two decoded images of the same size differ, for the experiment scripts' tables.
 * @example pixelDifference(Buffer.from([1, 2]), Buffer.from([1, 5])) // 'max 3, 50 % differ'
 */
export function pixelDifference(a: Uint8Array, b: Uint8Array): string {
  if (a.length !== b.length) return `size ${a.length} vs ${b.length}`;
  let max = 0;
  let differing = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i]! - b[i]!);
    if (d) differing++;
    if (d > max) max = d;
  }
  return max === 0 ? 'identical' : `max ${max}, ${round((100 * differing) / a.length, 2)} % differ`;
}

export function round(value: number, digits = 3): number {
  if (!Number.isFinite(value)) return value;
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}

/** One measured run: how many items (requests or images) finished in how long, and their latencies. */
export interface Run {
  items: number;
  seconds: number;
  latenciesMs: number[];
  /** CPU time (all threads) spent by the process serving the work, when known. */
  serverCpuMs?: number;
  /** CPU time spent by the load generator (autocannon, in this process), when it is a separate party. */
  clientCpuMs?: number;
}

/** The figures a measurement reports: medians over runs of throughput and latency percentiles. */
export interface Figures {
  /** Items per second (requests/s, or images/s where noted), median over runs. */
  throughput: number;
  p50_ms: number;
  p99_ms: number;
  runs: number;
  /** Every run's throughput, so the spread is visible. */
  per_run: number[];
  /** CPU ms (all threads) the serving process spent per item, median over runs. */
  cpu_ms_per_item?: number;
  /** CPU ms the load generator (autocannon) spent per item, median over runs. */
  client_cpu_ms_per_item?: number;
}

export function summarize(runs: readonly Run[]): Figures {
  const figures: Figures = {
    throughput: round(median(runs.map((r) => r.items / r.seconds))),
    p50_ms: round(median(runs.map((r) => percentile(r.latenciesMs, 50)))),
    p99_ms: round(median(runs.map((r) => percentile(r.latenciesMs, 99)))),
    runs: runs.length,
    per_run: runs.map((r) => round(r.items / r.seconds)),
  };
  if (runs.every((r) => r.serverCpuMs !== undefined)) figures.cpu_ms_per_item = round(median(runs.map((r) => r.serverCpuMs! / r.items)));
  if (runs.every((r) => r.clientCpuMs !== undefined)) figures.client_cpu_ms_per_item = round(median(runs.map((r) => r.clientCpuMs! / r.items)));
  return figures;
}
