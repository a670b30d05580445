// How many things run at once, derived from the cores this process may use. Plain JavaScript
// (types in parallelism.d.mts) because three starters read it before any TypeScript runs:
// `npm start` (scripts/start.mjs), the container's entrypoint (`node services/shared/parallelism.mjs
// env <service>`), and the services themselves (config.ts, for their defaults and /metrics).
import { availableParallelism } from 'node:os';
import { pathToFileURL } from 'node:url';

/** Node's own pool size when UV_THREADPOOL_SIZE is unset. */
export const NODE_DEFAULT_THREADPOOL = 4;
/** libuv's ceiling for UV_THREADPOOL_SIZE. */
export const MAX_THREADPOOL = 1024;
/** onnxruntime intra-op threads per worker when the cores allow: past this a small model's operators gain little from more threads, and another worker runs another batch instead. */
export const THREADS_PER_WORKER = 4;

function positiveInt(text, name) {
  const trimmed = String(text).trim();
  if (!/^\d+$/.test(trimmed) || Number(trimmed) < 1) throw new Error(`${name}: expected a positive integer, got ${JSON.stringify(text)}`);
  return Number(trimmed);
}

/**
 * The cores to plan for: AUGSERVE_CORES when set (a container's CPU limit, or a test pretending
 * N cores), else `os.availableParallelism()` (the CPUs this process may be scheduled on).
 * @example cores({ AUGSERVE_CORES: '16' }) // 16
 */
export function cores(env = process.env) {
  const text = env.AUGSERVE_CORES;
  if (text === undefined || text === '' || text.trim() === 'auto') return availableParallelism();
  // Kubernetes' resourceFieldRef (divisor 1) gives whole cores, rounded up from a fractional limit.
  return positiveInt(text, 'AUGSERVE_CORES');
}

/**
 * Augment processes sharing the port: AUGMENT_PROCESSES, a number or `auto` (one per 4 cores),
 * default 1.
 * @example augmentProcesses({ AUGMENT_PROCESSES: 'auto' }, 16) // 4
 */
export function augmentProcesses(env = process.env, coreCount = cores(env)) {
  const text = env.AUGMENT_PROCESSES;
  if (text === undefined || text === '') return 1;
  if (text.trim() === 'auto') return Math.max(1, Math.floor(coreCount / 4));
  return positiveInt(text, 'AUGMENT_PROCESSES');
}

/**
 * libuv's pool size for one process of `service`: the cores it shares with its sibling processes
 * (augment with AUGMENT_PROCESSES > 1), never below Node's default (the pool also does file I/O
 * and DNS, which must not wait behind a busy libvips).
 * @example threadpoolSize('augment', { AUGSERVE_CORES: '16' }) // 16
 */
export function threadpoolSize(service, env = process.env) {
  const count = cores(env);
  const share = service === 'augment' ? Math.ceil(count / augmentProcesses(env, count)) : count;
  return Math.min(MAX_THREADPOOL, Math.max(NODE_DEFAULT_THREADPOOL, share));
}

/**
 * The environment a service should start with: `env` plus UV_THREADPOOL_SIZE from the cores,
 * unless it is already set (an operator's value wins).
 * @example serviceEnv('inference', { AUGSERVE_CORES: '8' }).UV_THREADPOOL_SIZE // '8'
 */
export function serviceEnv(service, env = process.env) {
  if (env.UV_THREADPOOL_SIZE !== undefined && env.UV_THREADPOOL_SIZE !== '') return { ...env };
  return { ...env, UV_THREADPOOL_SIZE: String(threadpoolSize(service, env)) };
}

/**
 * Inference workers × intra-op threads ≈ cores: up to THREADS_PER_WORKER threads per worker,
 * as many workers as that fills. `workers` fixed by the operator gives the threads the rest.
 * @example inferenceParallelism(16) // { workers: 4, intraOpThreads: 4 }
 */
export function inferenceParallelism(coreCount, workers) {
  const chosen = workers ?? Math.max(1, Math.round(coreCount / THREADS_PER_WORKER));
  return { workers: chosen, intraOpThreads: Math.max(1, Math.floor(coreCount / chosen)) };
}

/** The pool this process actually has: libuv reads UV_THREADPOOL_SIZE once, at its first use. */
export function effectiveThreadpool(env = process.env) {
  const value = Number(env.UV_THREADPOOL_SIZE);
  return Number.isInteger(value) && value > 0 ? Math.min(MAX_THREADPOOL, value) : NODE_DEFAULT_THREADPOOL;
}

// `node services/shared/parallelism.mjs threadpool <service>` prints the pool size for the
// container's entrypoint to export.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href && process.argv[2] === 'threadpool') {
  try {
    process.stdout.write(`${threadpoolSize(process.argv[3] ?? 'augment')}\n`);
  } catch (error) {
    process.stderr.write(`${error.message}\n`);
    process.exit(78); // EX_CONFIG, as the services exit on a bad setting
  }
}
