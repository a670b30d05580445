import type { Run } from './stats.ts';

/** How long or how much one measurement runs: by time (full runs) or by count (quick runs). */
export interface Budget {
  /** Seconds per measured run; ignored when `amount` is set. */
  seconds: number;
  /** Items per measured run (quick mode). */
  amount?: number;
  /** Warm-up before the runs, in items. */
  warmup: number;
  runs: number;
}

/**
 * Runs `task` with `concurrency` calls in flight (a Promise pool) until the run's budget is
 * spent; each call's latency is recorded. `items` is how many units one call completes (a batch
 * counts its images).
 */
export async function poolRun(task: () => Promise<unknown>, concurrency: number, budget: Pick<Budget, 'seconds' | 'amount'>, items = 1): Promise<Run> {
  const latenciesMs: number[] = [];
  const cpu0 = process.cpuUsage();
  const started = performance.now();
  const deadline = started + budget.seconds * 1000;
  let issued = 0;
  const more = () => (budget.amount !== undefined ? issued < budget.amount : performance.now() < deadline);
  async function lane() {
    while (more()) {
      issued++;
      const t0 = performance.now();
      await task();
      latenciesMs.push(performance.now() - t0);
    }
  }
  await Promise.all(Array.from({ length: concurrency }, lane));
  const cpu = process.cpuUsage(cpu0);
  // In-process work: this process is the server, and there is no client.
  return { items: latenciesMs.length * items, seconds: (performance.now() - started) / 1000, latenciesMs, serverCpuMs: (cpu.user + cpu.system) / 1000 };
}

/** Warm-up, then `runs` measured runs. */
export async function measure(task: () => Promise<unknown>, concurrency: number, budget: Budget, items = 1): Promise<Run[]> {
  await poolRun(task, concurrency, { seconds: 0, amount: Math.max(budget.warmup, concurrency) });
  const runs: Run[] = [];
  for (let i = 0; i < budget.runs; i++) runs.push(await poolRun(task, concurrency, budget, items));
  return runs;
}
