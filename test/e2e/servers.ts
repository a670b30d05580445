/**
 * Real listening servers for the end-to-end tests: the augment app, and the inference app
 * once `services/inference/app.ts` exists, each on 127.0.0.1 and a free port.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyServerOptions } from 'fastify';
import { buildAugmentApp } from '../../services/augment/app.ts';
import { readAugmentConfig } from '../../services/augment/config.ts';

const root = (path: string) => fileURLToPath(new URL(`../../${path}`, import.meta.url));

/** The browser the tests drive; CHROMIUM_PATH points elsewhere (or at nothing, to see the skip). */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const INFERENCE_APP = root('services/inference/app.ts');
export const DEMO_PAGE = root('services/inference/public/index.html');

/** Why the inference half cannot run here, or undefined when it can. */
export function inferenceMissing(): string | undefined {
  return existsSync(INFERENCE_APP) ? undefined : 'services/inference/app.ts does not exist yet: inference end-to-end tests skipped';
}

export interface Running {
  app: FastifyInstance;
  url: string;
  /** What the test had to stand in for because the service does not do it yet (empty when nothing). */
  shims: string[];
}

async function listen(app: FastifyInstance, shims: string[]): Promise<Running> {
  await app.listen({ port: 0, host: '127.0.0.1' });
  const { port } = app.server.address() as AddressInfo;
  return { app, url: `http://127.0.0.1:${port}`, shims };
}

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

/**
 * Stand-ins, in front of the app, for wiring a service does not have yet; each is used only
 * when a probe shows the app lacks it, and is reported so that a test can say so.
 */
function shimmed(shims: { cors?: boolean; demoPage?: boolean }): Pick<FastifyServerOptions, 'serverFactory'> {
  if (!shims.cors && !shims.demoPage) return {};
  return {
    serverFactory: (handler: Handler) =>
      createServer((req, res) => {
        if (shims.cors && req.headers.origin) {
          res.setHeader('access-control-allow-origin', '*');
          res.setHeader('access-control-expose-headers', 'X-Augment-Params');
          if (req.method === 'OPTIONS' && req.headers['access-control-request-method']) {
            res.writeHead(204, {
              'access-control-allow-methods': 'GET, POST',
              'access-control-allow-headers': 'Accept, Content-Type, X-API-Key, Authorization',
              'access-control-max-age': '600',
            });
            res.end();
            return;
          }
        }
        if (shims.demoPage && req.method === 'GET' && (req.url === '/' || req.url?.startsWith('/?'))) {
          res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
          res.end(readFileSync(DEMO_PAGE));
          return;
        }
        handler(req, res);
      }),
  } as Pick<FastifyServerOptions, 'serverFactory'>;
}

/** Whether the augment app answers a cross-origin request with CORS headers. */
async function hasCors(app: FastifyInstance): Promise<boolean> {
  const res = await app.inject({ method: 'GET', url: '/health/live', headers: { origin: 'http://127.0.0.1:1' } });
  return res.headers['access-control-allow-origin'] !== undefined;
}

/** The augment service, listening. `cors: true` stands in for CORS when the app has none yet. */
export async function startAugment(env: NodeJS.ProcessEnv = {}, options: { cors?: boolean } = {}): Promise<Running> {
  const config = readAugmentConfig({ LOG_LEVEL: 'silent', ...env });
  const app = await buildAugmentApp(config);
  if (!options.cors || (await hasCors(app))) return listen(app, []);
  await app.close();
  return listen(await buildAugmentApp(config, shimmed({ cors: true })), ['CORS on augment (Access-Control-Allow-Origin, Expose-Headers X-Augment-Params)']);
}

/** The model repository the inference end-to-end tests serve. */
export const E2E_MODELS = root('test/fixtures/models');

type InferenceModule = {
  buildInferenceApp(config: unknown, options?: FastifyServerOptions): Promise<FastifyInstance>;
};

/** The inference config reader, wherever the service keeps it. */
async function readInferenceConfig(env: NodeJS.ProcessEnv): Promise<unknown> {
  for (const [file, name] of [
    ['services/inference/config.ts', 'readInferenceConfig'],
    ['services/inference/settings.ts', 'readInferenceConfig'],
    ['services/inference/settings.ts', 'readInferenceSettings'],
  ] as const) {
    if (!existsSync(root(file))) continue;
    const module = (await import(root(file))) as Record<string, unknown>;
    const read = module[name];
    if (typeof read === 'function') return read(env);
  }
  throw new Error('found no readInferenceConfig in services/inference/config.ts or settings.ts');
}

/**
 * The inference service, listening, serving the test fixture models. `demoPage: true` stands
 * in for the `/` route when the app does not serve the demo page yet.
 */
export async function startInference(env: NodeJS.ProcessEnv = {}, options: { demoPage?: boolean } = {}): Promise<Running> {
  const { buildInferenceApp } = (await import(INFERENCE_APP)) as InferenceModule;
  const config = await readInferenceConfig({
    LOG_LEVEL: 'silent',
    MODEL_REPOSITORY: E2E_MODELS,
    EXECUTION_PROVIDERS: 'cpu',
    ...env,
  });
  const app = await buildInferenceApp(config);
  if (!options.demoPage) return listen(app, []);
  const page = await app.inject({ method: 'GET', url: '/' });
  if (page.statusCode === 200 && String(page.headers['content-type']).startsWith('text/html')) return listen(app, []);
  await app.close();
  return listen(await buildInferenceApp(config, shimmed({ demoPage: true })), ['the demo page at / on inference']);
}
