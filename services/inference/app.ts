import multipart from '@fastify/multipart';
import { readFileSync } from 'node:fs';
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import sharp from 'sharp';
import access from '../shared/access.ts';
import { reportCapacity } from '../shared/capacity.ts';
import cors from '../shared/cors.ts';
import docs from '../shared/docs.ts';
import health from '../shared/health.ts';
import metrics from '../shared/metrics.ts';
import { threadpoolSize } from '../shared/parallelism.mjs';
import problem, { clientErrorHandler } from '../shared/problem.ts';
import { httpTimeouts } from '../shared/launch.ts';
import type { InferenceConfig } from './config.ts';
import { ModelRepository } from './model-repository.ts';
import repositoryPlugin from './repository-plugin.ts';
import modelRoutes from './routes/models.ts';
import grpcService, { GrpcEndpoint } from './protocols/v2-grpc.ts';
import openInferenceRoutes from './protocols/v2-rest.ts';

export interface InferenceAppOptions {
  config: InferenceConfig;
  /** Wait for every model to load before the app is ready (default true); false lets the server listen at once. */
  awaitModels?: boolean;
  /** A repository built elsewhere (tests). */
  repository?: ModelRepository;
}

const demoPage = readFileSync(new URL('./public/index.html', import.meta.url));

/** The inference service as a plugin: everything but listening. */
export async function inferenceApp(app: FastifyInstance, options: InferenceAppOptions) {
  const { config } = options;
  // Uploads are decoded once and never reused: libvips' cache would only hold memory. One
  // libvips thread per image lets concurrent uploads share the cores through libuv's pool
  // instead of oversubscribing them (which starves the event loop and the ONNX workers).
  sharp.cache(false);
  sharp.concurrency(config.sharpConcurrency);

  await app.register(problem, { prefix: 'INF' });
  await app.register(metrics);
  await app.register(cors, { origins: config.corsOrigins });
  await app.register(access, { prefix: 'INF', apiKeys: config.apiKeys, ratePerMinute: config.rateLimit, maxConcurrent: config.maxConcurrentRequests });
  await app.register(multipart);
  await app.register(repositoryPlugin, { config, awaitModels: options.awaitModels ?? true, repository: options.repository });
  await app.register(health, { service: 'inference', readiness: () => app.models.readiness() });
  reportCapacity(
    app,
    { cores: config.cores, sharp_concurrency: config.sharpConcurrency, inference_workers: config.workers, intra_op_threads: config.intraOpThreads },
    threadpoolSize('inference', { AUGSERVE_CORES: String(config.cores) }),
  );
  await app.register(docs, { service: 'inference' });
  await app.register(modelRoutes, { config });
  await app.register(openInferenceRoutes, { config, prefix: '/v2' });
  await app.register(grpcService, { config });
  // The demo page: one self-contained file, no build step.
  app.get('/', { config: { public: true } }, (_request, reply) =>
    reply.type('text/html; charset=utf-8').header('cache-control', 'no-cache').send(demoPage),
  );
}

/** A ready-to-listen Fastify instance holding the inference service. */
export async function buildInferenceApp(
  config: InferenceConfig,
  options: FastifyServerOptions & Pick<InferenceAppOptions, 'awaitModels' | 'repository'> = {},
): Promise<FastifyInstance> {
  const { awaitModels, repository, ...fastifyOptions } = options;
  const app = Fastify({
    logger: { level: config.logLevel },
    requestTimeout: config.requestTimeoutMs,
    // Node's own timeouts too, so a slow-loris upload is cut, not only a slow handler.
    http: httpTimeouts(config.requestTimeoutMs),
    genReqId: () => crypto.randomUUID(),
    clientErrorHandler: clientErrorHandler('INF'),
    ...fastifyOptions,
  });
  // Decorated here so that whoever listens reaches it from the root: `await app.grpc.listen(host, port)`.
  app.decorate('grpc', new GrpcEndpoint());
  // The repository is made here and decorated on the root as well, so that what holds the app
  // (the launcher's start line) can read the models; the plugin below loads and closes it.
  const models = repository ?? new ModelRepository(config, app.log);
  app.decorate('models', models);
  await app.register(inferenceApp, { config, awaitModels, repository: models });
  await app.ready();
  return app;
}
