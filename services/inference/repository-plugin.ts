import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { InferenceConfig } from './config.ts';
import { ModelRepository } from './model-repository.ts';

export interface RepositoryPluginOptions {
  config: InferenceConfig;
  /** Resolve registration only once every model is loaded or failed (tests, e2e); otherwise load in the background. */
  awaitModels: boolean;
  /** A repository built elsewhere (tests); the plugin still loads and closes it. */
  repository?: ModelRepository;
}

declare module 'fastify' {
  interface FastifyInstance {
    /** The model repository: models, ensembles, their batchers and the worker pool. */
    models: ModelRepository;
  }
}

/**
 * Decorates `app.models` with the model repository and loads it: in the background by default,
 * so that the server listens (and answers liveness) while large models load and readiness says
 * which are missing. Workers are stopped in `onClose`, after in-flight requests have finished.
 */
async function repositoryPlugin(app: FastifyInstance, options: RepositoryPluginOptions) {
  const repository = options.repository ?? new ModelRepository(options.config, app.log);
  // buildInferenceApp decorates its root with the same repository; a bare registration needs its own.
  if (!app.hasDecorator('models')) app.decorate('models', repository);

  if (app.hasDecorator('metrics')) {
    const batchSize = app.metrics.histogram('inference_batch_size', 'Images per batch run by a model.', ['model'], [1, 2, 4, 8, 16, 32, 64, 128, 256]);
    const batchTime = app.metrics.histogram('inference_batch_duration_seconds', 'Time to run one batch in a worker (transfer included).', ['model']);
    repository.onBatch = (model, size, seconds) => {
      batchSize.observe({ model }, size);
      batchTime.observe({ model }, seconds);
    };
    app.metrics.gauge({
      name: 'inference_queue_depth',
      help: 'Images waiting in a model\'s batching queue.',
      labelNames: ['model'],
      collect() {
        for (const model of repository.list()) this.set({ model: model.name }, repository.queueDepth(model.name));
      },
    });
    app.metrics.gauge({
      name: 'inference_execution_provider',
      help: 'Execution provider per ready model (value 1).',
      labelNames: ['model', 'provider'],
      collect() {
        this.reset();
        for (const model of repository.list()) if (model.execution_provider) this.set({ model: model.name, provider: model.execution_provider }, 1);
      },
    });
    app.metrics.gauge({
      name: 'inference_model_ready',
      help: '1 when the model is loaded and warmed up, else 0.',
      labelNames: ['model'],
      collect() {
        for (const model of repository.list()) this.set({ model: model.name }, model.ready ? 1 : 0);
      },
    });
  }

  const loading = repository.load().catch((error: Error) => app.log.error({ err: error }, 'model repository failed to load'));
  if (options.awaitModels) await loading;
  app.addHook('onClose', async () => {
    await loading;
    await repository.close();
  });
}

export default fp(repositoryPlugin, { name: 'inference-repository', fastify: '5.x' });
