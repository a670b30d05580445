import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';

export interface CorsOptions {
  /** Allowed origins; `*` allows any (safe here: keys travel in headers, never in cookies). */
  origins: string[];
}

/**
 * CORS for browser clients such as the demo page, which calls the augment service from the
 * inference service's origin. Registered before access control, so a preflight carrying
 * `X-API-Key` is answered without one.
 */
async function corsPlugin(app: FastifyInstance, options: CorsOptions) {
  const any = options.origins.includes('*');
  app.addHook('onRequest', async (request, reply) => {
    const origin = request.headers.origin;
    if (origin === undefined) return;
    if (!any) {
      reply.header('vary', 'Origin');
      if (!options.origins.includes(origin)) return;
    }
    reply.header('access-control-allow-origin', any ? '*' : origin);
    reply.header('access-control-expose-headers', 'X-Augment-Params, Retry-After');
    if (request.method === 'OPTIONS' && request.headers['access-control-request-method'] !== undefined) {
      return reply
        .code(204)
        .header('access-control-allow-methods', 'GET, POST')
        .header('access-control-allow-headers', 'Accept, Content-Type, X-API-Key, Authorization')
        .header('access-control-max-age', '600')
        .send();
    }
  });
}

export default fp(corsPlugin, { name: 'augserve-cors', fastify: '5.x' });
