import type { FastifyInstance } from 'fastify';
import { effectiveThreadpool } from './parallelism.mjs';

/**
 * How much work this process runs at once, by what: `cores` planned for, `uv_threadpool` (the
 * pool libuv actually started with), and the service's own (sharp's threads per image, inference
 * workers and their intra-op threads, augment processes).
 */
export type Capacity = Record<string, number>;

/**
 * Logs the process's parallelism once, when the app is ready, and exposes each figure as
 * `service_parallelism{setting}` on /metrics. Warns when libuv's pool is narrower than the cores
 * asked for: UV_THREADPOOL_SIZE is read before any code of ours runs, so a service started
 * without `npm start` or the container's entrypoint keeps Node's default.
 * @example reportCapacity(app, { cores: 16, sharp_concurrency: 1 }, 16)
 */
export function reportCapacity(app: FastifyInstance, figures: Omit<Capacity, 'uv_threadpool'>, wantedThreadpool: number): Capacity {
  const capacity: Capacity = { cores: figures.cores!, uv_threadpool: effectiveThreadpool(), ...figures };
  if (app.hasDecorator('metrics')) {
    const gauge = app.metrics.gauge('service_parallelism', 'What this process runs at once, by setting: cores planned for, libuv pool threads, and the service\'s own (sharp threads per image, inference workers and intra-op threads, augment processes).', ['setting']);
    for (const [setting, value] of Object.entries(capacity)) gauge.set({ setting }, value);
  }
  app.addHook('onReady', async () => {
    app.log.info({ parallelism: capacity }, 'parallelism');
    if (capacity.uv_threadpool! < wantedThreadpool) {
      app.log.warn(
        { uv_threadpool: capacity.uv_threadpool, cores: capacity.cores },
        'libuv pool narrower than the cores: UV_THREADPOOL_SIZE must be set before node starts (npm start and the container do it)',
      );
    }
  });
  return capacity;
}
