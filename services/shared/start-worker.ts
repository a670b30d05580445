import { Worker } from 'node:worker_threads';

/**
 * Starts a worker from a `.ts` entry (the same bootstrap as the inference service's
 * `startWorker`: Node 20 does not apply the parent's `--import tsx` to a worker's entry, so tsx is
 * registered inside the worker first). A `.js` entry (a compiled build) starts directly.
 */
export function startWorker(url: URL, workerData?: unknown): Worker {
  if (!url.pathname.endsWith('.ts')) return new Worker(url, { workerData });
  const api = JSON.stringify(import.meta.resolve('tsx/esm/api'));
  const code = `import(${api}).then(({ register }) => { register(); return import(${JSON.stringify(url.href)}); });`;
  return new Worker(code, { eval: true, workerData });
}
