import multipart from '@fastify/multipart';
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import sharp from 'sharp';
import access from '../shared/access.ts';
import { reportCapacity } from '../shared/capacity.ts';
import cors from '../shared/cors.ts';
import docs from '../shared/docs.ts';
import health from '../shared/health.ts';
import { httpTimeouts } from '../shared/launch.ts';
import metrics from '../shared/metrics.ts';
import { threadpoolSize } from '../shared/parallelism.mjs';
import problem, { clientErrorHandler } from '../shared/problem.ts';
import type { AugmentConfig } from './config.ts';
import routes from './routes.ts';
import shardRoutes from './shard/routes.ts';

/** The augmentation service as a plugin: everything but listening. */
export async function augmentApp(app: FastifyInstance, options: { config: AugmentConfig }) {
  const { config } = options;
  // Inputs are never reused, so libvips' operation cache only costs memory; and one thread
  // per image lets concurrent requests share the cores through libuv's pool instead.
  sharp.cache(false);
  sharp.concurrency(config.sharpConcurrency);

  await app.register(problem, { prefix: 'AUG' });
  await app.register(metrics);
  await app.register(cors, { origins: config.corsOrigins });
  await app.register(access, { prefix: 'AUG', apiKeys: config.apiKeys, ratePerMinute: config.rateLimit, maxConcurrent: config.maxConcurrentRequests });
  await app.register(multipart);
  await app.register(health, { service: 'augment' });
  const pool = threadpoolSize('augment', { AUGSERVE_CORES: String(config.cores), AUGMENT_PROCESSES: String(config.processes) });
  reportCapacity(app, { cores: config.cores, sharp_concurrency: config.sharpConcurrency, augment_processes: config.processes }, pool);
  await app.register(docs, { service: 'augment' });
  await app.register(routes, { config });
  await app.register(shardRoutes, { config });
}

/** The bare Fastify instance the service runs in (server options from the config), nothing registered. */
export function augmentServer(config: AugmentConfig, options: FastifyServerOptions = {}): FastifyInstance {
  return Fastify({
    logger: { level: config.logLevel },
    requestTimeout: config.requestTimeoutMs,
    http: httpTimeouts(config.requestTimeoutMs),
    genReqId: () => crypto.randomUUID(),
    clientErrorHandler: clientErrorHandler('AUG'),
    ...options,
  });
}

/** A ready-to-listen Fastify instance holding the augmentation service. */
export async function buildAugmentApp(config: AugmentConfig, options: FastifyServerOptions = {}): Promise<FastifyInstance> {
  const app = augmentServer(config, options);
  await app.register(augmentApp, { config });
  await app.ready();
  return app;
}
