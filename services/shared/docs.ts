import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { documentFor, type ServiceName } from './openapi.ts';

/** Swagger UI at `/docs`, showing the part of `openapi.yaml` this service implements. */
async function docsPlugin(app: FastifyInstance, options: { service: ServiceName }) {
  await app.register(swagger, {
    mode: 'static',
    specification: { document: documentFor(options.service) as never },
  });
  await app.register(swaggerUi, {
    routePrefix: '/docs',
    uiConfig: { tryItOutEnabled: true, deepLinking: true },
  });
}

export default fp(docsPlugin, { name: 'augserve-docs', fastify: '5.x' });
