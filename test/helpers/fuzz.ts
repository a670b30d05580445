import type { TestContext } from 'node:test';
import fc from 'fast-check';

/**
 * The seed every property test runs with unless `FUZZ_SEED` says otherwise: a run is the same
 * run on every machine, and a failure is a fact about the code, not about the draw.
 */
export const DEFAULT_FUZZ_SEED = 20261130;

/** `FUZZ_RUNS` scales every property's run count (default 1). */
export const FUZZ_RUNS = Number(process.env.FUZZ_RUNS ?? 1);

function seedFromEnv(): number {
  const text = process.env.FUZZ_SEED;
  if (text === undefined || text === '') return DEFAULT_FUZZ_SEED;
  const seed = Number(text);
  if (!Number.isInteger(seed)) throw new Error(`expected an integer for FUZZ_SEED, got ${JSON.stringify(text)}`);
  return seed;
}

/**
 * Checks a property with a fixed seed, printed as a diagnostic. On failure the error holds
 * fast-check's counterexample and the one command that replays it (seed and shrink path).
 * @example await checkProperty(t, 'test/hardening/fuzz.test.ts', fc.asyncProperty(arb, judge), 1500);
 */
export async function checkProperty<T>(t: TestContext, file: string, property: fc.IAsyncPropertyWithHooks<T> | fc.IPropertyWithHooks<T>, runs: number): Promise<void> {
  const seed = seedFromEnv();
  const path = process.env.FUZZ_PATH || undefined;
  const numRuns = Math.max(1, Math.round(runs * FUZZ_RUNS));
  t.diagnostic(`fast-check seed ${seed}${path ? ` path ${path}` : ''}, ${numRuns} runs`);
  const details = await fc.check(property as fc.IAsyncPropertyWithHooks<T>, { seed, numRuns, ...(path ? { path, endOnFailure: true } : {}) });
  if (!details.failed) return;
  const replay = `FUZZ_SEED=${details.seed} FUZZ_PATH=${details.counterexamplePath ?? ''} node scripts/run-tests.mjs ${file} --test-name-pattern='${t.name.replace(/[.*+?^${}()|[\]\\']/g, '.')}'`;
  throw new Error(`${fc.defaultReportMessage(details)}\nReplay with: ${replay}`);
}
