import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';

export interface Readiness {
  ready: boolean;
  /** What is not ready, with the reason (inference: models). */
  notReady?: Array<{ name: string; reason: string }>;
}

export interface HealthOptions {
  service: string;
  /** Asked on every readiness probe; cheap and synchronous. */
  readiness?: () => Readiness;
}

/**
 * `GET /health/live` answers as long as the event loop does; `GET /health/ready` is 503
 * until the service can serve, and again once it starts shutting down.
 */
async function healthPlugin(app: FastifyInstance, options: HealthOptions) {
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
  });
  // Answers sent while closing ask the client to drop the connection: otherwise an idle
  // keep-alive connection holds close() open until Fastify's keepAliveTimeout (72 s).
  app.addHook('onSend', async (_request, reply) => {
    if (closing) reply.header('connection', 'close');
  });

  app.get('/health/live', { config: { public: true } }, async () => ({ status: 'ok', service: options.service }));

  app.get('/health/ready', { config: { public: true } }, async (_request, reply) => {
    if (closing) return reply.code(503).send({ status: 'shutting_down', service: options.service });
    const state = options.readiness?.() ?? { ready: true };
    if (!state.ready) {
      return reply.code(503).send({ status: 'not_ready', service: options.service, not_ready: state.notReady ?? [] });
    }
    return { status: 'ok', service: options.service };
  });
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Open without an API key (health, docs, metrics). */
    public?: boolean;
  }
}

export default fp(healthPlugin, { name: 'augserve-health', fastify: '5.x' });
